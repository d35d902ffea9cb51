"""Evaluation: K clips per video, test-time views (Table 3), logits files.

A video's score is the mean of the **pre-softmax logits** of its K clips (III.C: "take ten
consecutive times to calculate the average"; "we use the data before Softmax for ensemble").

One logits file per view is written to ``run/logits/`` in the format of :mod:`vipar_lib.logits`.
A video that cannot be decoded keeps its row, filled with NaN: it counts as wrong and is listed
in ``meta["bad_videos"]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.dataset import ClipDataset
from ..data.splits import load_split_dir
from ..data.transforms import TTA_VIEWS, ClipTransform
from ..logits import LogitsFile, logits_name, save_logits
from .build import build_model, select_device
from .checkpoint import load_checkpoint, resolve_checkpoint
from .runs import load_run_config

__all__ = ["predict_logits", "evaluate_run"]


@torch.no_grad()
def predict_logits(model, dataset: ClipDataset, batch_size=16, device="cpu", amp=False, workers=0,
                   progress=True, desc="eval") -> np.ndarray:
    """Mean pre-softmax logits over each video's clips -> [num videos in ``dataset.all_entries``, C]."""
    model.eval()
    device = torch.device(device)
    n_all = len(dataset.all_entries)
    sums, counts = None, np.zeros(n_all)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    if progress:
        from tqdm.auto import tqdm
        loader = tqdm(loader, desc=desc, unit="batch", leave=False)
    for x, _y, v in loader:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            out = model(x.to(device)).float().cpu().numpy()
        if sums is None:
            sums = np.zeros((n_all, out.shape[1]))
        np.add.at(sums, v.numpy(), out)
        np.add.at(counts, v.numpy(), 1)
    if sums is None:
        raise RuntimeError("no decodable video in the evaluation set")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / counts[:, None]
    out[counts == 0] = np.nan           # undecodable videos: counted wrong downstream
    return out.astype(np.float32)


def evaluate_run(run, views=None, num_clips=None, interval=None, split=None, positions=None,
                 batch_size=None, force=False, progress=True, device="auto", checkpoint="best") -> list[Path]:
    """Evaluate a run under each view; write and return ``run/logits/*.npz`` (kept if present)."""
    run = Path(run)
    cfg = load_run_config(run)
    e = cfg.eval
    views = list(views or e.views)
    bad = [v for v in views if v not in TTA_VIEWS]
    if bad:
        raise ValueError(f"unknown view(s) {bad}; allowed: {list(TTA_VIEWS)}")
    k, interval = num_clips or e.num_clips, interval or e.interval
    split_name, positions = split or e.split, positions or e.positions
    sp = load_split_dir(cfg.data.split_dir)
    entries = sp[split_name]
    outs, model = [], None
    dev = select_device(device)
    for view in views:
        path = run / "logits" / logits_name(split_name, view, interval, k)
        if path.is_file() and not force:
            outs.append(path)
            continue
        if model is None:
            model = build_model(cfg, sp.num_classes)
            ck_path = run / f"{checkpoint}.pt" if (run / f"{checkpoint}.pt").is_file() else resolve_checkpoint(run)
            model.load_state_dict(load_checkpoint(ck_path)["model"])
            model.to(dev)
        tr = ClipTransform(crop_size=cfg.data.crop_size, input_type=cfg.data.input_type, augment=cfg.data.augment,
                           view=view, concat_mode=e.concat_mode)
        ds = ClipDataset(entries, cfg.data.video_root, tr, cfg.data.clip_len, train=False,
                         short_side=cfg.data.short_side, interval=interval, num_clips=k, positions=positions,
                         short_policy=cfg.data.short_policy, seed=cfg.train.seed, cache_decoded=cfg.data.cache_decoded)
        logits = predict_logits(model, ds, batch_size or e.batch_size, dev, amp=cfg.train.amp,
                                workers=cfg.data.workers, progress=progress, desc=f"{run.name} {view} i{interval}")
        meta = {"run": run.name, "model": cfg.model.name, "model_options": cfg.model.options,
                "input_type": cfg.data.input_type, "interval": interval, "view": view, "clips": k,
                "positions": positions, "split": split_name, "classes": sp.classes, "class_ids": sp.class_ids,
                "clip_len": cfg.data.clip_len, "checkpoint": checkpoint,
                "bad_videos": [p for p, _ in ds.bad_videos]}
        outs.append(save_logits(path, LogitsFile(np.array([x.video_id for x in entries]),
                                                 np.array([x.label for x in entries]), logits, meta)))
    return outs
