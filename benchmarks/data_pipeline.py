"""Data-pipeline benchmark: training clips/s against the raw decord decode rate of the same frames.

    python benchmarks/data_pipeline.py [--root DATA] [--clip-len 64] [--crop 112] [--clips 48]

On synthetic UCF101-layout AVIs (320x240 XviD; generated under data/bench if --root is not given)
it measures, side by side in one run:

* raw decode: decord reads exactly the frames the training sampler picks (resized in the reader
  to the training short side), nothing else;
* the pipeline: ``ClipDataset`` + all augmentations (multi-scale, corner crop, flip, lighting,
  contrast, reverse, random interval) + tensor conversion, through a DataLoader with 1 and 2
  worker processes.

Goal (issue #2): the 1-worker pipeline keeps >= 80% of the raw decode rate, and scales with workers.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vipar_lib.data.clips import train_clip_indices  # noqa: E402
from vipar_lib.data.dataset import ClipDataset  # noqa: E402
from vipar_lib.data.splits import vipriors_split  # noqa: E402
from vipar_lib.data.synth import generate  # noqa: E402
from vipar_lib.data.transforms import AugmentConfig, ClipTransform  # noqa: E402
from vipar_lib.data.video import probe, read_frames  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "bench")
    ap.add_argument("--clip-len", type=int, default=64)
    ap.add_argument("--crop", type=int, default=112)
    ap.add_argument("--short-side", type=int, default=128)
    ap.add_argument("--clips", type=int, default=48, help="clips per measurement")
    a = ap.parse_args()
    if not (a.root / "ucfTrainTestlist" / "trainlist01.txt").is_file():
        print(f"generating benchmark videos under {a.root} ...")
        generate(a.root, classes=8, groups=4, clips=3, seed=0, progress=False)
    split = vipriors_split(a.root / "ucfTrainTestlist")
    entries = (split["train"] + split["validation"])[: a.clips]
    root = a.root / "UCF-101"
    aug = AugmentConfig(multiscale=True, corner_crop=True, flip=True, lighting=0.2, contrast=0.2, reverse=True,
                        intervals=(1, 2))
    ds = ClipDataset(entries, root, ClipTransform(crop_size=a.crop, augment=aug), a.clip_len, train=True,
                     short_side=a.short_side, seed=0)
    n = len(ds)
    frames_per_clip = a.clip_len
    # the indices the sampler will draw (same RNG as the dataset), decoded raw
    idx_lists = []
    for i in range(n):
        rng = ds._rng(i)
        interval = int(rng.choice(aug.intervals))
        idx_lists.append(train_clip_indices(ds.frames[i], a.clip_len, interval, rng))
    for e in entries:                       # warm the metadata cache for both measurements
        probe(root / e.path)
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    for e, idx in zip(entries, idx_lists):
        read_frames(root / e.path, idx, a.short_side)
    raw = n / (time.perf_counter() - t0)

    rates = {}
    for workers in (0, 1, 2):
        loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False, num_workers=workers,
                                             persistent_workers=False)
        t0 = time.perf_counter()
        seen = 0
        for x, _, _ in loader:
            seen += x.shape[0]
        rates[workers] = seen / (time.perf_counter() - t0)
    print(f"clip {a.clip_len}x{a.crop}x{a.crop}, decoded at short side {a.short_side}, {n} clips, all augmentations on")
    print(f"{'measurement':38} {'clips/s':>8} {'frames/s':>9} {'vs raw decode':>13}")
    print(f"{'raw decord decode (same frames)':38} {raw:8.1f} {raw * frames_per_clip:9.0f} {1.0:13.2f}")
    for w, r in rates.items():
        name = "pipeline, in-process (0 workers)" if w == 0 else f"pipeline, DataLoader {w} worker(s)"
        print(f"{name:38} {r:8.1f} {r * frames_per_clip:9.0f} {r / raw:13.2f}")
    print(f"scaling 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
