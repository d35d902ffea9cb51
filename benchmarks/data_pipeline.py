"""Data-pipeline benchmark: training clips/s against the raw decord decode rate of the same frames, and
(``--video``) the device feed against today's path on a real clip.

    python benchmarks/data_pipeline.py [--root DATA] [--clip-len 64] [--crop 112] [--clips 48]
    python benchmarks/data_pipeline.py --video CLIP.avi [--clip-len 64] [--json] [--store]

**--video** (issue #18): on one real clip (e.g. a camera clip re-encoded to UCF101's format,
320x240 XviD at 25 fps; README: Performance), side by side in one process, one thread, rounds
interleaved: the worker CPU time per training clip of ``--clip-len`` consecutive frames from
seeded random starts, as frames per CPU-second per core, for

* ``host`` (today's path): decord decodes RGB resized in the reader to short side 128, then the
  clip geometry of every text-scheme augmentation on the CPU;
* ``device_original``: PyAV decodes the clip's frames as YUV planes at source size (one open, a
  seek to the keyframe) and the clip's random choices are drawn; nothing else;
* ``device_prepared``: the same on a copy made by ``vipar prepare-videos`` (written once to a
  temporary folder);

and the device side's cost per clip (colour conversion, resize, geometry, jitter, normalisation
of a batch; on the CPU here, on the GPU when one is present), and how far the prepared copy's
frames are from today's (PSNR at the decode size). The last line of ``--json`` is one JSON object
with ``ratios: {device_original, device_prepared}`` (frames per CPU-second against ``host``).
``--store`` also writes it to ``benchmarks/results/decode_rate.json``, the measured rate
``vipar plan`` uses.

On synthetic UCF101-layout AVIs (320x240 XviD; generated under data/bench if --root is not given)
it measures, side by side in one run:

* raw decode: decord reads exactly the frames the training sampler picks (resized in the reader
  to the training short side), each distinct frame once and nothing else (``gather=False``: not
  even the reordering copy a looping clip needs; the synthetic videos, 30-50 frames, are shorter
  than a 64-frame clip, so every clip loops);
* the pipeline: ``ClipDataset`` + all augmentations (multi-scale, corner crop, flip, lighting,
  contrast, reverse, random interval) + collation, in-process and through a DataLoader with 1 and
  2 persistent worker processes (started and warmed on other clips first, as they stay alive
  across epochs in training): what the training step receives, uint8 batches.

Normalisation (float conversion, brightness/contrast, RGB or residual frames) runs on the device
in the training step since issue #12; its cost on this CPU is printed separately, for a
CPU-only run (on a GPU it is a few microseconds a batch).

Goals (issues #2, #12): the 1-worker pipeline keeps >= 80% of the raw decode rate; >= 1.8x from
1 to 2 workers. The machine's load is printed: on shared cores the ratios of one run, side by
side, are what count.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vipar_lib.data.clips import train_clip_indices  # noqa: E402
from vipar_lib.data.dataset import ClipDataset  # noqa: E402
from vipar_lib.data.splits import vipriors_split  # noqa: E402
from vipar_lib.data.synth import generate  # noqa: E402
from vipar_lib.data.transforms import AugmentConfig, ClipTransform, normalize_clips  # noqa: E402
from vipar_lib.data.video import probe, read_frames  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=None, help="a real clip: compare the device feed with today's path")
    ap.add_argument("--json", action="store_true", help="--video: end with one JSON line")
    ap.add_argument("--store", action="store_true", help="--video: also write benchmarks/results/decode_rate.json")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "bench")
    ap.add_argument("--clip-len", type=int, default=64)
    ap.add_argument("--crop", type=int, default=112)
    ap.add_argument("--short-side", type=int, default=128)
    ap.add_argument("--clips", type=int, default=48, help="clips per measurement")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of all measurements, back to back")
    a = ap.parse_args()
    if a.video is not None:
        from feed_benchmark import video_benchmark
        return video_benchmark(a)
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
    for e in entries:                       # warm the metadata caches and the page cache for every measurement
        probe(root / e.path)
        (root / e.path).read_bytes()
    torch.set_num_threads(1)

    def cpu_seconds(pids) -> float:
        """user + system CPU time of processes (Linux /proc), robust to other load on shared cores."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def raw_rate():
        c0, t0 = time.process_time(), time.perf_counter()
        for e, idx in zip(entries, idx_lists):
            read_frames(root / e.path, idx, a.short_side, gather=False)     # decode only: no reordering copy
        return n / (time.perf_counter() - t0), (time.process_time() - c0) / n

    class Batches:                          # the trainer's per-epoch batch sampler (persistent workers)
        batches: list = []

        def __iter__(self):
            return iter(self.batches)

        def __len__(self):
            return len(self.batches)

    loaders = {}
    for workers in (0, 1, 2):
        sampler = Batches()
        loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=workers,
                                             persistent_workers=workers > 0)
        if workers:                         # start the workers and warm them on other clips (epoch 99)
            sampler.batches = [[(99, i, ()) for i in range(b, b + 8)] for b in range(0, 8 * workers, 8)]
            for _ in loader:
                pass
        loaders[workers] = (loader, sampler)

    def pipeline_rate(workers):
        loader, sampler = loaders[workers]
        # the clips the raw decode read: epoch 0, items 0..n-1, batches of 8
        sampler.batches = [[(0, i, ()) for i in range(b, min(n, b + 8))] for b in range(0, n, 8)]
        pids = [w.pid for w in loader._iterator._workers] if workers else [os.getpid()]
        c0, t0 = cpu_seconds(pids), time.perf_counter()
        seen = 0
        for batch in loader:
            seen += batch["clip"].shape[0]
        return seen / (time.perf_counter() - t0), (cpu_seconds(pids) - c0) / seen

    # rounds of raw, 0, 1, 2 workers back to back; medians of rates and of per-round ratios, so a
    # burst of load from elsewhere on shared cores moves one round, not the table
    rounds = {k: [] for k in ("raw", 0, 1, 2)}
    for _ in range(a.rounds):
        rounds["raw"].append(raw_rate())
        for w in (0, 1, 2):
            rounds[w].append(pipeline_rate(w))
    med = statistics.median
    raw, raw_cpu = med(r for r, _ in rounds["raw"]), med(c for _, c in rounds["raw"])
    rates = {w: med(r for r, _ in rounds[w]) for w in (0, 1, 2)}
    ratio = {w: med([r / q for (r, _), (q, _) in zip(rounds[w], rounds["raw"])]) for w in (0, 1, 2)}
    cpu = {w: med(c for _, c in rounds[w]) for w in (0, 1, 2)}
    scaling = med([r2 / r1 for (r2, _), (r1, _) in zip(rounds[2], rounds[1])])
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=8)))
    t0 = time.perf_counter()
    for _ in range(3):
        normalize_clips(batch["clip"], batch["affine"], "rgb")
    norm_ms = (time.perf_counter() - t0) / 3 / 8 * 1000
    load = os.getloadavg()
    print(f"clip {a.clip_len}x{a.crop}x{a.crop}, decoded at short side {a.short_side}, {n} clips, all augmentations "
          f"on; {os.cpu_count()} CPUs, load average {load[0]:.1f} (1 min) {load[1]:.1f} (5 min)")
    print(f"{a.rounds} rounds; medians (ratios: median of the per-round ratios). CPU ms/clip: CPU time of the "
          f"decoding process(es) per clip; raw CPU / pipeline CPU is the rate ratio an idle core would give")
    print(f"{'measurement':42} {'clips/s':>8} {'frames/s':>9} {'vs raw decode':>13} {'CPU ms/clip':>12} "
          f"{'vs raw (CPU)':>12}")
    print(f"{'raw decord decode (same frames)':42} {raw:8.1f} {raw * frames_per_clip:9.0f} {1.0:13.2f} "
          f"{1000 * raw_cpu:12.1f} {1.0:12.2f}")
    for w, r in rates.items():
        name = "pipeline, in-process (0 workers)" if w == 0 else f"pipeline, DataLoader {w} persistent worker(s)"
        per = cpu[w]                          # CPU time per clip (each clip is made by one process)
        print(f"{name:42} {r:8.1f} {r * frames_per_clip:9.0f} {ratio[w]:13.2f} {1000 * per:12.1f} "
              f"{raw_cpu / per:12.2f}")
    print(f"scaling 2 workers / 1 worker: {scaling:.2f}x")
    print(f"normalisation on this CPU (on the device in training): {norm_ms:.1f} ms per clip")


if __name__ == "__main__":
    main()
