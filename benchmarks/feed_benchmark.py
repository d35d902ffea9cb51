"""``benchmarks/data_pipeline.py --video CLIP``: the device feed against today's path on a real clip (issue #18).

See data_pipeline.py's docstring. Kept apart so the synthetic pipeline benchmark stays readable.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vipar_lib.data.clips import train_clip_indices  # noqa: E402
from vipar_lib.data.decode import index_video, read_planes  # noqa: E402
from vipar_lib.data.device import batch_input, collate_device, frames_to_rgb, planes_source  # noqa: E402
from vipar_lib.data.prepare import transcode  # noqa: E402
from vipar_lib.data.transforms import AugmentConfig, ClipTransform, normalize_clips  # noqa: E402
from vipar_lib.data.video import probe, read_frames, resized_shape  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "decode_rate.json"
AUG = AugmentConfig(multiscale=True, corner_crop=True, flip=True, lighting=0.2, contrast=0.2, reverse=True)


def _windows(frames: int, clip_len: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [train_clip_indices(frames, clip_len, 1, rng) for _ in range(n)]


def _host(path, windows, tr, side):
    """Today's worker: decord RGB at the decode size + the clip geometry on the CPU."""
    for i, idx in enumerate(windows):
        frames, pos = read_frames(path, idx, side, gather=False)
        tr.clip(frames, np.random.default_rng(i), idx=pos)


def _device_items(path, windows, tr, side, keep=False, info=None):
    """The device feed's worker: PyAV planes at source size + the clip's plan (the video's index is read once
    beforehand, as the feed reads it from the index beside the split; today's path has its probe cached too)."""
    info = info or index_video(path)
    w, h = resized_shape(info.width, info.height, side)
    items = []
    for i, idx in enumerate(windows):
        planes, pos = read_planes(path, idx, info)
        plan = tr.plan(h, w, np.random.default_rng(i))
        if keep:
            items.append({"frames": torch.from_numpy(planes.data), "source": planes_source(planes, w, h),
                          "pos": torch.arange(len(idx)) if pos is None else torch.as_tensor(pos),
                          "plan": torch.from_numpy(plan), "label": 0, "video": 0, "failed": ""})
    return items


def _cpu(fn, *args) -> float:
    c0 = time.process_time()
    fn(*args)
    return time.process_time() - c0


def _device_cost(items, tr, device, batch: int = 8) -> float:
    """Seconds per clip of the device side: a batch's colour, resize, geometry, jitter and normalisation."""
    b = collate_device(items[:batch])
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    batch_input(b, tr, device)
    sync()
    t0 = time.perf_counter()
    reps = 3
    for _ in range(reps):
        batch_input(b, tr, device)
    sync()
    return (time.perf_counter() - t0) / reps / len(b["label"])


def _prepared_psnr(original: Path, prepared: Path, side: int, n: int = 32) -> float:
    ref = torch.from_numpy(read_frames(original, range(n), side)).double()
    info = index_video(prepared)
    planes, _ = read_planes(prepared, range(n), info)
    w, h = resized_shape(info.width, info.height, side)
    got = frames_to_rgb(torch.from_numpy(planes.data), planes_source(planes, w, h)).double()
    mse = float(((got - ref) ** 2).mean())
    return 10 * np.log10(255 ** 2 / mse)


def video_benchmark(a) -> int:
    torch.set_num_threads(1)
    side, clip_len, n = a.short_side, a.clip_len, max(4, a.clips // 2)
    path = a.video
    tr = ClipTransform(crop_size=a.crop, augment=AUG)
    tmp = Path(tempfile.mkdtemp(prefix="vipar-feed-"))
    prepared = tmp / path.name
    transcode(path, prepared, side)
    frames = probe(path).frames
    windows = _windows(frames, clip_len, n)
    for p in (path, prepared):              # warm the page cache and the per-process metadata caches
        p.read_bytes()
        probe(p)
    info = {p: index_video(p) for p in (path, prepared)}
    paths = {"host": lambda: _host(path, windows, tr, side),
             "device_original": lambda: _device_items(path, windows, tr, side, info=info[path]),
             "device_prepared": lambda: _device_items(prepared, windows, tr, side, info=info[prepared])}
    for fn in paths.values():
        fn()
    rounds = {k: [] for k in paths}
    for _ in range(a.rounds):                 # interleaved: a burst of load elsewhere moves one round, not one path
        for k, fn in paths.items():
            rounds[k].append(_cpu(fn))
    med = statistics.median
    # rates from the least-disturbed round (the least CPU time: load elsewhere only adds to it); ratios are
    # medians of the per-round ratios of the interleaved rounds
    rate = {k: clip_len * n / min(v) for k, v in rounds.items()}
    rate_median = {k: clip_len * n / med(v) for k, v in rounds.items()}
    ratios = {k: med([h / d for h, d in zip(rounds["host"], rounds[k])]) for k in ("device_original",
                                                                                   "device_prepared")}
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    items = {"original": _device_items(path, windows, tr, side, keep=True),
             "prepared": _device_items(prepared, windows, tr, side, keep=True)}
    cost = {f"{k}_{d.type}": 1000 * _device_cost(v, tr, d) for k, v in items.items() for d in devices}
    host_norm = _host_normalise_ms(path, windows, tr, side)
    out = {"video": str(path), "clip_len": clip_len, "clips": n, "rounds": a.rounds, "short_side": side,
           "crop": a.crop, "frames_per_cpu_second": rate, "frames_per_cpu_second_median": rate_median,
           "ratios": ratios,
           "device_ms_per_clip": cost, "host_normalise_ms_per_clip": host_norm,
           "prepared_psnr_db": _prepared_psnr(path, prepared, side),
           "prepared_bytes": prepared.stat().st_size, "original_bytes": path.stat().st_size,
           "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
           "measured": time.strftime("%Y-%m-%d"), "provisional": os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1)}
    _print(out)
    if a.store:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=1) + "\n")
        print(f"stored in {RESULTS}")
    if a.json:
        print(json.dumps(out))
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return 0


def _host_normalise_ms(path, windows, tr, side) -> float:
    """Today's device side for comparison: normalising a batch of finished uint8 clips (ms per clip)."""
    clips = [tr.clip(*read_frames(path, idx, side, gather=False)[:1], np.random.default_rng(i))
             for i, idx in enumerate(windows[:8])]
    x, aff = torch.stack([c for c, _ in clips]), torch.stack([q for _, q in clips])
    t0 = time.perf_counter()
    normalize_clips(x, aff, "rgb")
    return 1000 * (time.perf_counter() - t0) / len(clips)


def _print(o: dict) -> None:
    r, q = o["frames_per_cpu_second"], o["ratios"]
    print(f"{o['video']}: {o['clips']} windows of {o['clip_len']} frames, short side {o['short_side']}, crop "
          f"{o['crop']}, {o['rounds']} interleaved rounds (medians); one thread; load average {o['load_average']:.1f} "
          f"on {o['cpus']} CPUs" + (" (PROVISIONAL: the machine was busy)" if o["provisional"] else ""))
    m = o["frames_per_cpu_second_median"]
    print(f"{'worker path':36} {'frames per CPU-s (best / median round)':>38} {'vs today':>9}")
    for k, name in (("host", "today: decord RGB@128 + CPU geometry"), ("device_original", "device feed, original file"),
                    ("device_prepared", "device feed, prepared copy")):
        print(f"{name:36} {r[k]:18,.0f} / {m[k]:17,.0f} {q.get(k, 1.0):9.2f}")
    for k, v in o["device_ms_per_clip"].items():
        print(f"device side per clip ({k}): {v:.2f} ms")
    print(f"today's device side per clip (normalisation only, cpu): {o['host_normalise_ms_per_clip']:.2f} ms")
    print(f"prepared copy: {o['prepared_bytes'] / 1e3:.0f} kB (original {o['original_bytes'] / 1e3:.0f} kB); its "
          f"frames are {o['prepared_psnr_db']:.1f} dB PSNR from today's at the decode size")
