"""Evaluation: K clips per video, test-time views (Table 3), logits files.

A video's score is the mean of the **pre-softmax logits** of its K clips (III.C: "take ten
consecutive times to calculate the average"; "we use the data before Softmax for ensemble").

One logits file per view is written to ``run/logits/`` in the format of :mod:`vipar_lib.logits`.
**Its name says which checkpoint made it** (issue #21): ``best.pt`` (the default) writes
``<split>-<view>-i<interval>-k<clips>.npz``, ``last.pt`` the same name ending ``-last.npz``; a file
is reused only for the checkpoint its meta names. A missing checkpoint is an error naming the other
one; evaluation never falls back to it silently. A run trained from a user's params file carries the
fingerprint of its split lists and videos (:mod:`vipar_lib.data.identity`): new logits are computed
only while they are unchanged.

**Decode once** (issue #12, the default ``decode="once"``). Table 3's views (centre, flip, random
crop, reverse, normal+reverse concatenated) differ only in what is done to the same frames. For
each video and interval the frames all K clips need are decoded in one read, every requested
view is cut from them in memory (:class:`~vipar_lib.data.dataset.MultiViewDataset`), and the
clips of all views are batched through the model together (views whose clips have another
length, ``concat_reverse`` with ``concat_mode=double``, batch among themselves). The clips are
bit-identical to the per-view path's (same frames, same RNG per clip); the logits agree to float
rounding (a test checks both). ``decode="per_view"`` keeps the former path: one dataset per view,
one decode per clip (the equality test and ``benchmarks/evaluate_views.py`` use it).

**Test clips of the release reading** (the authors' code, xdw1995/123 @ 40c31aa): ``eval.crop: random``
cuts every test clip at a seeded random position, ``data.short_side_range`` gives it a seeded random
size and ``data.window`` a seeded random window; with ``eval.positions: random`` these are the
release's "10 independent random clips" (release ``libb/dataset.py:43,96-111,143-146``;
``test_multmodel_new.py:231-232,267``: the mean of the 10 clips' logits). The views compose with
them (``center`` = no further transform). The seeds depend on the run's seed, the video and the
clip, not on the view or the decode path: the same seed gives the same logits, and decode-once
equals per-view. An existing logits file is reused only if it was made with the same
``positions`` and ``crop``.

**Bad videos never abort an evaluation** (issue #13): a video that is missing, empty, corrupt,
truncated, or that fails while its frames are decoded keeps its row, filled with NaN: it counts
as wrong, and is listed in ``meta["bad_videos"]`` (paths) and ``meta["bad_video_reasons"]``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import ClipDataset, MultiViewDataset, parse_failed
from ..data.device import collate_device, item_views
from ..data.identity import DatasetChangedError, content_tag, split_fingerprint
from ..data.transforms import EVAL_CROPS, TTA_VIEWS
from ..logits import CHECKPOINTS, LogitsFile, load_logits, logits_name, save_logits
from ..paths import resolve
from .build import (
    build_model,
    clip_transform,
    decode_side,
    feed_options,
    load_split,
    model_input,
    select_device,
    step_input,
)
from .checkpoint import load_checkpoint
from .errors import RunDirError
from .progress import bar
from .runs import load_run_config

__all__ = ["predict_logits", "predict_views", "evaluate_run", "DECODE_MODES"]

DECODE_MODES = ("once", "per_view")


def _forward(model, clips, affine, input_type, device, amp, channels_last, normalize="kinetics", x=None) -> np.ndarray:
    if x is None:
        x = model_input(clips, affine, input_type, device, channels_last, normalize=normalize)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
        return model(x).float().cpu().numpy()


@torch.no_grad()
def predict_logits(model, dataset: ClipDataset, batch_size=16, device="cpu", amp=False, workers=0,
                   progress=True, desc="eval", loader=None, channels_last=False,
                   failures: list | None = None, num_classes: int | None = None) -> np.ndarray:
    """Mean pre-softmax logits over each video's clips -> [num videos in ``dataset.all_entries``, C].

    One item per clip (the per-view path, and validation during training). ``loader`` reuses a
    DataLoader over ``dataset`` (persistent workers); rows of videos that failed to decode are NaN
    and their ``(row, reason)`` are appended to ``failures`` when given. With ``num_classes``,
    a set in which no video decodes gives all-NaN rows instead of an error.
    """
    model.eval()
    device = torch.device(device)
    n_all = len(dataset.all_entries)
    sums, counts = None, np.zeros(n_all)
    bad: dict[int, str] = {}
    if loader is None:
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                                             collate_fn=collate_device if dataset.feed == "device" else None)
    b = bar(len(loader), desc, progress, unit="batch")
    for batch in loader:
        x = step_input(batch, dataset.transform, device, channels_last)          # either feed
        out = _forward(model, None, None, dataset.transform.input_type, device, amp, channels_last, x=x)
        if sums is None:
            sums = np.zeros((n_all, out.shape[1]))
        v = batch["video"].numpy()
        np.add.at(sums, v, out)
        np.add.at(counts, v, 1)
        for row, why in parse_failed(batch["failed"]):
            bad.setdefault(row, why)
        if b is not None:
            b.update(1)
    if b is not None:
        b.close()
    if sums is None:
        if num_classes is None:
            raise RuntimeError("no decodable video in the evaluation set")
        sums = np.zeros((n_all, num_classes))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / counts[:, None]
    out[counts == 0] = np.nan           # undecodable videos: counted wrong downstream
    if bad:
        out[list(bad)] = np.nan
    if failures is not None:
        failures.extend(sorted(bad.items()))
    return out.astype(np.float32)


@torch.no_grad()
def predict_views(model, dataset: MultiViewDataset, batch_size=16, device="cpu", amp=False, workers=0,
                  progress=True, desc="eval", channels_last=False,
                  failures: list | None = None, num_classes: int | None = None) -> list[np.ndarray]:
    """Mean pre-softmax logits per view from one decode per video -> one [videos, C] array per view.

    Clips of all views are queued by shape and run through the model ``batch_size`` at a time,
    across views and videos. Rows of videos that failed to decode are NaN in every view. With the
    device feed each item's frames become every view's clips on ``device``
    (:func:`~vipar_lib.data.device.item_views`), where they are queued.
    """
    model.eval()
    device = torch.device(device)
    n_all, n_views = len(dataset.all_entries), len(dataset.transforms)
    input_type = dataset.transform.input_type
    sums: list[np.ndarray | None] = [None] * n_views
    counts = np.zeros((n_views, n_all))
    bad: dict[int, str] = {}
    queues: dict[tuple, list] = {}          # clip shape -> [(clip, affine, view, row)], one entry per clip

    def run(shape, final=False):
        q = queues.get(shape, [])
        while len(q) >= batch_size or (final and q):
            chunk, q[:] = q[:batch_size], q[batch_size:]
            clips = torch.stack([c for c, *_ in chunk])            # the one copy of a clip into a batch
            affine = torch.stack([a for _, a, *_ in chunk])
            view = np.array([vi for *_, vi, _ in chunk])
            rows = np.array([r for *_, r in chunk])
            out = _forward(model, clips, affine, input_type, device, amp, channels_last, dataset.transform.normalize)
            for vi in np.unique(view):
                m = view == vi
                if sums[vi] is None:
                    sums[vi] = np.zeros((n_all, out.shape[1]))
                np.add.at(sums[vi], rows[m], out[m])
                np.add.at(counts[vi], rows[m], 1)

    loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers)
    b = bar(len(dataset), desc, progress, unit="video")
    for item in loader:
        row = int(item["video"])
        if item["failed"]:
            for r, why in parse_failed(item["failed"]):
                bad.setdefault(r, why)
        views = item_views(item, dataset.transforms, device) if "frames" in item else item["views"]
        for vi, (clips, affines) in enumerate(views):
            shape = tuple(clips[0].shape)
            queues.setdefault(shape, []).extend((c, a, vi, row) for c, a in zip(clips, affines))
            run(shape)
        if b is not None:
            b.update(1)
    for shape in list(queues):
        run(shape, final=True)
    if b is not None:
        b.close()
    if all(s is None for s in sums) and num_classes is None:
        raise RuntimeError("no decodable video in the evaluation set")
    outs = []
    for vi in range(n_views):
        if sums[vi] is None:
            sums[vi] = np.zeros((n_all, num_classes or next(s for s in sums if s is not None).shape[1]))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = sums[vi] / counts[vi][:, None]
        out[counts[vi] == 0] = np.nan
        if bad:
            out[list(bad)] = np.nan
        outs.append(out.astype(np.float32))
    if failures is not None:
        failures.extend(sorted(bad.items()))
    return outs


def _writable(folder: Path) -> None:
    """Raise :class:`RunDirError` naming ``folder`` unless a file can be created in it."""
    import tempfile
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise RunDirError(f"{folder}: cannot write logits here ({e.strerror}); make the run directory writable") \
            from None


def _reusable(path: Path, positions: str, crop: str, checkpoint: str) -> bool:
    """An existing logits file made from ``checkpoint`` with the same test-clip protocol (files without ``crop``
    are centre crops). A file whose meta names another checkpoint (written before logits files named their
    checkpoint) is not reused."""
    if not path.is_file():
        return False
    try:
        meta = load_logits(path).meta
    except Exception:
        return False
    return (meta.get("positions", positions) == positions and meta.get("crop", "center") == crop
            and meta.get("checkpoint", "best") == checkpoint)


def _same_data(run: Path, cfg, progress: bool) -> None:
    """Refuse to evaluate a run on data other than its own: a run whose ``dataset_id`` carries the fingerprint of
    its split lists and videos (a user's params file) is evaluated only while they are unchanged."""
    recorded = content_tag(cfg.data.dataset_id)
    if recorded is None:
        return
    now = split_fingerprint(resolve(cfg.data.split_dir), resolve(cfg.data.video_root), progress=progress)
    if now != recorded:
        raise DatasetChangedError(
            f"{run}: its split lists or videos under {cfg.data.split_dir} and {cfg.data.video_root} changed since it "
            f"was trained (fingerprint {recorded}, now {now}); `vipar train` on the same params file trains a new run "
            "on the current data, in its own folder")


def _checkpoint_path(run: Path, checkpoint: str) -> Path:
    """``run/<checkpoint>.pt``; missing is an error that names the other checkpoint (never a silent swap)."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint={checkpoint!r}; allowed: {list(CHECKPOINTS)}")
    path = run / f"{checkpoint}.pt"
    if path.is_file():
        return path
    other = next(c for c in CHECKPOINTS if c != checkpoint)
    hint = (f"; evaluate {other}.pt instead with --checkpoint {other}" if (run / f"{other}.pt").is_file()
            else "; the run has no checkpoint yet: train it first (vipar train)")
    raise FileNotFoundError(f"{path}: not found{hint}")


def evaluate_run(run, views=None, num_clips=None, interval=None, split=None, positions=None,
                 batch_size=None, force=False, progress=True, device="auto", checkpoint="best",
                 decode: str = "once", workers: int | None = None, crop: str | None = None) -> list[Path]:
    """Evaluate a run under each view; write and return ``run/logits/*.npz`` (kept if present and made
    with the same ``positions`` and ``crop``).

    ``decode="once"`` (default) decodes each video once for all views; ``"per_view"`` is the
    former path (one decode per view and clip), kept for the equality test and the benchmark.
    ``workers`` overrides ``data.workers`` for the DataLoader. ``crop`` overrides ``eval.crop``.
    """
    run = Path(run)
    cfg = load_run_config(run)
    e = cfg.eval
    views = list(views or e.views)
    bad_views = [v for v in views if v not in TTA_VIEWS]
    if bad_views:
        raise ValueError(f"unknown view(s) {bad_views}; allowed: {list(TTA_VIEWS)}")
    if decode not in DECODE_MODES:
        raise ValueError(f"decode={decode!r}; allowed: {list(DECODE_MODES)}")
    k, interval = num_clips or e.num_clips, interval or e.interval
    split_name, positions, crop = split or e.split, positions or e.positions, crop or e.crop
    if crop not in EVAL_CROPS:
        raise ValueError(f"crop={crop!r}; allowed: {list(EVAL_CROPS)}")
    sp = load_split(cfg)
    entries = sp[split_name]
    paths = {v: run / "logits" / logits_name(split_name, v, interval, k, checkpoint) for v in views}
    todo = [v for v in views if force or not _reusable(paths[v], positions, crop, checkpoint)]
    if not todo:
        return [paths[v] for v in views]
    ck_path = _checkpoint_path(run, checkpoint)
    _same_data(run, cfg, progress)
    _writable(run / "logits")
    dev = select_device(device)
    model = build_model(cfg, sp.num_classes)
    model.load_state_dict(load_checkpoint(ck_path)["model"])
    model.to(dev)
    cl = cfg.train.channels_last and dev.type == "cuda"
    if cl:
        model.to(memory_format=torch.channels_last_3d)
    workers = cfg.data.workers if workers is None else workers
    root = resolve(cfg.data.video_root)
    common = dict(short_side=decode_side(cfg), interval=interval, num_clips=k, positions=positions,
                  short_policy=cfg.data.short_policy, seed=cfg.train.seed, cache_decoded=cfg.data.cache_decoded,
                  window=cfg.data.window, **feed_options(cfg))
    amp, bs = cfg.train.amp, batch_size or e.batch_size

    def transform(view):
        return clip_transform(cfg, view, crop)

    results: dict[str, tuple[np.ndarray, list, list]] = {}
    if decode == "once":
        failures: list = []
        ds = MultiViewDataset(entries, root, [transform(v) for v in todo], cfg.data.clip_len, view_names=todo,
                              **common)
        outs = predict_views(model, ds, bs, dev, amp=amp, workers=workers, progress=progress,
                             desc=f"{run.name} {'+'.join(todo)} i{interval}", channels_last=cl, failures=failures,
                             num_classes=sp.num_classes)
        for v, logits in zip(todo, outs):
            results[v] = (logits, ds.bad_videos, failures)
    else:
        for v in todo:
            failures = []
            ds = ClipDataset(entries, root, transform(v), cfg.data.clip_len, train=False, **common)
            logits = predict_logits(model, ds, bs, dev, amp=amp, workers=workers, progress=progress,
                                    desc=f"{run.name} {v} i{interval}", channels_last=cl, failures=failures,
                                    num_classes=sp.num_classes)
            results[v] = (logits, ds.bad_videos, failures)
    for v in todo:
        logits, scan_bad, failed = results[v]
        reasons = dict(scan_bad)
        for row, why in failed:
            reasons.setdefault(entries[row].path, why)
        order = {x.path: i for i, x in enumerate(entries)}
        bad_paths = sorted(reasons, key=lambda p: order.get(p, 0))
        meta = {"run": run.name, "model": cfg.model.name, "model_options": cfg.model.options,
                "input_type": cfg.data.input_type, "interval": interval, "view": v, "clips": k,
                "positions": positions, "crop": crop, "split": split_name, "classes": sp.classes,
                "class_ids": sp.class_ids,
                "clip_len": cfg.data.clip_len, "checkpoint": checkpoint,
                "bad_videos": bad_paths, "bad_video_reasons": {p: reasons[p] for p in bad_paths}}
        save_logits(paths[v], LogitsFile(np.array([x.video_id for x in entries]),
                                         np.array([x.label for x in entries]), logits, meta))
    return [paths[v] for v in views]
