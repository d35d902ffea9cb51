"""Evaluation benchmark: decode once per video for all views against one decode per view and clip.

    python benchmarks/evaluate_views.py [--root DATA] [--videos 12] [--clips 10] [--clip-len 64]
                                        [--model pool|<registered model>] [--workers 0]

On synthetic UCF101-layout AVIs (320x240 XviD, ``vipar_lib.data.synth.generate``; generated
under data/bench when --root is not given) it evaluates the same test videos, side by side in one
run, under the five Table-3 views (centre, flip, random crop, reverse, normal+reverse
concatenated) with K clips of ``clip-len`` x 112 x 112 decoded at short side 128:

* per view: ``ClipDataset`` + ``predict_logits`` per view, the former path (one read per clip);
* once:     ``MultiViewDataset`` + ``predict_views``, the default (one read per video).

It prints wall time, reader opens and the frames asked of the decoder (unique frames per read,
counted in :data:`vipar_lib.data.video.DECODE_STATS`; decord may also decode frames between a
keyframe and a seek target, which this count leaves out and which only the per-view path incurs),
and the ratios old/new, twice:

* **host feed** — decode, views and batching, with the device step (normalisation + model)
  replaced by a no-op: what the host must deliver to a GPU, where the device step is cheap;
* **end to end on this CPU** — with normalisation (on the CPU, as the "device" here) and the
  model: ``--model pool`` (default) is a global-average-pool + linear stand-in, a registered model
  name runs its tiny CPU variant. Normalisation and the network cost the same on both paths, so
  this ratio is lower on a CPU-only machine.

Goal (issue #12): frames per video = the frames the K clips need, read once; wall time
old/new >= 3x.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vipar_lib.data.dataset import ClipDataset, MultiViewDataset  # noqa: E402
from vipar_lib.data.splits import vipriors_split  # noqa: E402
from vipar_lib.data.synth import generate  # noqa: E402
from vipar_lib.data.transforms import TTA_VIEWS, ClipTransform  # noqa: E402
from vipar_lib.data.video import DECODE_STATS, probe  # noqa: E402
from vipar_lib.engine.evaluate import predict_logits, predict_views  # noqa: E402


class Pool(torch.nn.Module):
    """Global average pool + linear: a model whose cost is negligible next to the data path."""

    def __init__(self, classes: int):
        super().__init__()
        self.fc = torch.nn.Linear(3, classes)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3, 4)))


def _model(name: str, classes: int, clip_len: int):
    if name == "pool":
        return Pool(classes)
    from vipar_lib.models import create_model, model_spec
    fam = model_spec(name).family
    opts = ({"width": 8, "depths": [1, 1, 1, 1]} if fam != "mfnet"
            else {"width": 16, "groups": 4, "depths": [1, 1, 1, 1]})
    if fam == "slowfast":
        opts["num_frames"] = clip_len
    return create_model(name, num_classes=classes, **opts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "bench")
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--clip-len", type=int, default=64)
    ap.add_argument("--crop", type=int, default=112)
    ap.add_argument("--short-side", type=int, default=128)
    ap.add_argument("--interval", type=int, default=1)
    ap.add_argument("--input-type", choices=("rgb", "diff"), default="rgb")
    ap.add_argument("--model", default="pool", help="pool (data path only) or a registered model (tiny variant)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers (0: decode counts are exact)")
    a = ap.parse_args()
    if not (a.root / "ucfTrainTestlist" / "trainlist01.txt").is_file():
        print(f"generating benchmark videos under {a.root} ...")
        generate(a.root, classes=8, groups=4, clips=3, seed=0, progress=False)
    split = vipriors_split(a.root / "ucfTrainTestlist")
    entries = split["test"][: a.videos]
    root = a.root / "UCF-101"
    for e in entries:                       # warm the metadata caches for both paths
        probe(root / e.path)
    torch.set_num_threads(1)
    model = _model(a.model, split.num_classes, a.clip_len).eval()
    views = list(TTA_VIEWS)
    common = dict(short_side=a.short_side, interval=a.interval, num_clips=a.clips, seed=0)
    trs = [ClipTransform(crop_size=a.crop, input_type=a.input_type, view=v) for v in views]
    frames = [probe(root / e.path).frames for e in entries]

    import vipar_lib.engine.evaluate as E
    real_forward = E._forward

    def host_only(model, clips, affine, *args):          # the device step (normalise + model) skipped
        return np.zeros((len(clips), split.num_classes), np.float32)

    n = len(entries)
    print(f"{n} test videos ({min(frames)}-{max(frames)} frames, 320x240 XviD) decoded at short side {a.short_side}; "
          f"{len(views)} views x {a.clips} clips of {a.clip_len}x{a.crop}x{a.crop} {a.input_type}, interval "
          f"{a.interval}; {a.workers} DataLoader workers; torch threads 1")
    for mode in ("host feed", "end to end"):
        E._forward = host_only if mode == "host feed" else real_forward
        results = {}
        for name in ("per view", "once"):
            before = dict(DECODE_STATS)
            t0 = time.perf_counter()
            if name == "per view":
                outs = []
                for tr in trs:
                    ds = ClipDataset(entries, root, tr, a.clip_len, train=False, **common)
                    outs.append(predict_logits(model, ds, a.batch, "cpu", workers=a.workers, progress=False))
            else:
                ds = MultiViewDataset(entries, root, trs, a.clip_len, view_names=views, **common)
                outs = predict_views(model, ds, a.batch, "cpu", workers=a.workers, progress=False)
            dt = time.perf_counter() - t0
            results[name] = (dt, DECODE_STATS["opens"] - before["opens"], DECODE_STATS["frames"] - before["frames"],
                             outs)
        what = ("host feed: decode, views, batching (the device step skipped)" if mode == "host feed" else
                f"end to end on this CPU: + normalisation and model {a.model}")
        print(f"\n{what}")
        print(f"{'path':10} {'wall s':>8} {'s/video':>8} {'opens':>6} {'decoded frames':>15} {'frames/video':>13}")
        for name, (dt, opens, fr, _) in results.items():
            print(f"{name:10} {dt:8.2f} {dt / n:8.3f} {opens:6d} {fr:15,d} {fr / n:13.1f}")
        (t_old, o_old, f_old, out_old), (t_new, o_new, f_new, out_new) = results["per view"], results["once"]
        diff = max(float(np.nan_to_num(np.abs(x - y)).max()) for x, y in zip(out_old, out_new))
        print(f"ratio old/new: wall time {t_old / t_new:.2f}x, decoded frames {f_old / max(f_new, 1):.1f}x, "
              f"reader opens {o_old / max(o_new, 1):.1f}x; max |logit difference| {diff:.2e}")
    print(f"\nframes per video read once: {f_new / n:.1f} = the distinct frames the {a.clips} clips need "
          f"(videos have {sum(frames) / n:.1f} frames on average; a video shorter than a clip loops)")


if __name__ == "__main__":
    main()
