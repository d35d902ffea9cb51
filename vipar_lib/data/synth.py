"""A synthetic action dataset in UCF101's exact layout (the demo and smoke tiers).

``vipar synth OUT`` writes ``OUT/UCF-101/<Class>/v_<Class>_gGG_cCC.avi`` (XviD/MPEG-4 AVI,
320x240, 25 fps) and ``OUT/ucfTrainTestlist/{classInd,trainlist01,testlist01}.txt`` in UCF's own
format (CRLF, test list without labels), so the demo runs the same code path as UCF101.

Design, so the paper's questions mean something here:

* **Classes are motions** of one object over a cluttered background: translations (left/right,
  up/down), growth/shrinking, spins, orbits, fast/slow swings. A single frame cannot tell
  ``MoveLeft`` from ``MoveRight``; temporal modelling is needed.
* **Reverse pairs**: playing ``MoveLeft`` backwards gives ``MoveRight`` (``REVERSE_OF``), so
  reverse-order augmentation and test-time views are *not* label-preserving for those classes,
  while swings (time-symmetric) are. The TTA notebook shows this.
* **Appearance classes**: ``Still<Shape>`` hold a motionless object whose *shape* is the class.
  Residual frames see only noise there, RGB sees the shape: the RGB-vs-Diff question has an answer.
* **Nuisance**: object colour, size and (for motion classes) shape, background gradient and
  clutter, lighting and sensor noise vary at random. Clips of one group share the object's colour
  and shape — like UCF101's groups sharing an actor — so group leakage between train and
  validation is real here too; backgrounds are drawn per clip (a per-group background let small
  models memorise scenes instead of learning motion).
* **Flips**: horizontal flips turn ``MoveLeft`` into ``MoveRight`` and clockwise into
  counter-clockwise, so flip augmentation is label-changing here (the demo trains without it).

Deterministic for a seed: every clip's randomness comes from ``(seed, class, group, clip)``.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

__all__ = ["CLASSES", "REVERSE_OF", "MIRROR_OF", "generate", "render_clip", "write_avi", "MAX_CLASSES"]

SHAPES = ("disk", "square", "triangle", "ring", "cross")
PALETTE = np.array([[230, 60, 50], [40, 180, 70], [50, 90, 230], [240, 220, 40], [240, 240, 240], [30, 30, 30]],
                   np.float32)
# order matters: `--classes N` takes the first N
CLASSES = (
    "MoveLeft", "MoveRight", "StillDisk", "StillSquare", "SwingFast", "SwingSlow",
    "Grow", "Shrink", "StillTriangle", "StillCross", "MoveUp", "MoveDown",
    "SpinClockwise", "SpinCounterClockwise", "OrbitClockwise", "OrbitCounterClockwise",
)
MAX_CLASSES = len(CLASSES)
REVERSE_OF = {
    "MoveLeft": "MoveRight", "MoveRight": "MoveLeft", "MoveUp": "MoveDown", "MoveDown": "MoveUp",
    "Grow": "Shrink", "Shrink": "Grow", "SpinClockwise": "SpinCounterClockwise",
    "SpinCounterClockwise": "SpinClockwise", "OrbitClockwise": "OrbitCounterClockwise",
    "OrbitCounterClockwise": "OrbitClockwise",
    # time-symmetric: their reverse is themselves
    "SwingFast": "SwingFast", "SwingSlow": "SwingSlow", "StillDisk": "StillDisk",
    "StillSquare": "StillSquare", "StillTriangle": "StillTriangle", "StillCross": "StillCross",
}
# a horizontal mirror: left/right swap and rotations change sense; the rest keep their label
MIRROR_OF = {c: c for c in CLASSES} | {
    "MoveLeft": "MoveRight", "MoveRight": "MoveLeft", "SpinClockwise": "SpinCounterClockwise",
    "SpinCounterClockwise": "SpinClockwise", "OrbitClockwise": "OrbitCounterClockwise",
    "OrbitCounterClockwise": "OrbitClockwise",
}
W, H, FPS = 320, 240, 25
_YY, _XX = np.mgrid[0:H, 0:W].astype(np.float32)


def _box(cx: float, cy: float, r: float):
    """Slices of the frame that contain a shape of radius ``r`` at (cx, cy), any rotation."""
    m = 1.3 * r + 2
    return (slice(max(0, int(cy - m)), min(H, int(cy + m) + 1)), slice(max(0, int(cx - m)), min(W, int(cx + m) + 1)))


def _shape_mask(shape: str, cx: float, cy: float, r: float, angle: float, box=None) -> np.ndarray:
    """Boolean mask of ``shape`` over the frame, or over ``box`` (a pair of slices) only."""
    xx, yy = (_XX, _YY) if box is None else (_XX[box], _YY[box])
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    if shape == "disk":
        m = u * u + v * v <= r * r
    elif shape == "ring":
        d = u * u + v * v
        m = (d <= r * r) & (d >= (0.55 * r) ** 2)
    elif shape == "square":
        m = (np.abs(u) <= r * 0.85) & (np.abs(v) <= r * 0.85)
    elif shape == "cross":
        m = ((np.abs(u) <= r) & (np.abs(v) <= r * 0.3)) | ((np.abs(v) <= r) & (np.abs(u) <= r * 0.3))
    elif shape == "triangle":
        m = (v <= r * 0.5) & (v >= -r + 1.73 * np.abs(u))
    else:
        raise ValueError(shape)
    return m


def _background(rng) -> np.ndarray:
    c0 = rng.uniform(70, 180, 3)
    c1 = np.clip(c0 + rng.uniform(-40, 40, 3), 0, 255)
    t = (np.cos(rng.uniform(0, 2 * np.pi)) * _XX / W + np.sin(rng.uniform(0, 2 * np.pi)) * _YY / H)
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    bg = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    for _ in range(int(rng.integers(1, 5))):     # static clutter
        x0, y0 = rng.integers(0, W - 20), rng.integers(0, H - 20)
        w, h = rng.integers(10, 50), rng.integers(10, 50)
        # low-contrast clutter: blended into the background
        bg[y0:y0 + h, x0:x0 + w] = 0.7 * bg[y0:y0 + h, x0:x0 + w] + 0.3 * rng.uniform(20, 235, 3)
    return bg.astype(np.float32)


def _trajectory(cls: str, n: int, rng, r: float):
    """Per-frame (cx, cy, radius, angle) for class ``cls``."""
    t = np.arange(n, dtype=np.float32)
    cx = np.full(n, rng.uniform(r + 10, W - r - 10), np.float32)
    cy = np.full(n, rng.uniform(r + 10, H - r - 10), np.float32)
    rad = np.full(n, r, np.float32)
    ang = np.full(n, rng.uniform(0, 2 * np.pi), np.float32)
    if cls.startswith("Move"):
        span = (W if cls in ("MoveLeft", "MoveRight") else H) - 2 * r - 20
        speed = min(rng.uniform(3.0, 6.0), span / max(n - 1, 1))
        start = r + 10 + rng.uniform(0, max(0.0, span - speed * (n - 1)))
        pos = start + speed * t
        if cls in ("MoveLeft", "MoveUp"):
            pos = pos[::-1].copy()
        if cls in ("MoveLeft", "MoveRight"):
            cx = pos
        else:
            cy = pos
    elif cls.startswith("Swing"):
        period = rng.uniform(8, 12) if cls == "SwingFast" else rng.uniform(28, 40)
        amp = rng.uniform(35, 55)
        c0 = rng.uniform(r + amp + 10, W - r - amp - 10)
        cx = c0 + amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    elif cls.startswith("Spin"):
        w = rng.uniform(0.10, 0.18) * (1 if cls == "SpinClockwise" else -1)
        ang = ang + w * t
    elif cls in ("Grow", "Shrink"):
        r0, r1 = r * 0.5, r * 1.5
        rad = r0 + (r1 - r0) * t / max(n - 1, 1)
        if cls == "Shrink":
            rad = rad[::-1].copy()
    elif cls.startswith("Orbit"):
        R = rng.uniform(20, 35)
        c0x, c0y = rng.uniform(R + r + 10, W - R - r - 10), rng.uniform(R + r + 10, H - R - r - 10)
        w = rng.uniform(0.08, 0.14) * (1 if cls == "OrbitClockwise" else -1)
        ph = rng.uniform(0, 2 * np.pi) + w * t
        cx, cy = c0x + R * np.cos(ph), c0y + R * np.sin(ph)
    elif not cls.startswith("Still"):
        raise ValueError(f"unknown synthetic class {cls!r}; known: {CLASSES}")
    return cx, cy, rad, ang


def render_clip(cls: str, seed: int, ci: int, group: int, clip: int, group_shared: bool = True) -> np.ndarray:
    """Frames (N, 240, 320, 3) uint8 of one clip.

    ``group_shared``: clips of a group share the object's colour and shape (UCF101's shared
    actor); otherwise every clip draws its own.
    """
    rng = np.random.default_rng([seed, ci, group, clip])
    grng = np.random.default_rng([seed, ci, group]) if group_shared else rng
    bg = _background(rng)
    color = PALETTE[int(grng.integers(len(PALETTE)))] * rng.uniform(0.85, 1.15)   # a group's colour, from a shared palette
    marker = 255 - color
    shape = cls[5:].lower() if cls.startswith("Still") else SHAPES[int(grng.integers(len(SHAPES)))]
    n = int(rng.integers(36, 81))
    r = float(rng.uniform(36, 50))
    cx, cy, rad, ang = _trajectory(cls, n, rng, r)
    gain = rng.uniform(0.7, 1.3)
    flicker = rng.uniform(0, 0.01)
    sigma = rng.uniform(1, 4)
    out = np.empty((n, H, W, 3), np.uint8)
    for i in range(n):
        img = bg.copy()
        box = _box(cx[i], cy[i], rad[i])
        patch = img[box]
        patch[_shape_mask(shape, cx[i], cy[i], rad[i], ang[i], box)] = color
        # a marker dot off-centre makes rotation visible
        mx, my = cx[i] + 0.55 * rad[i] * math.cos(ang[i]), cy[i] + 0.55 * rad[i] * math.sin(ang[i])
        patch[(_XX[box] - mx) ** 2 + (_YY[box] - my) ** 2 <= (0.3 * rad[i]) ** 2] = marker
        img *= gain * (1 + flicker * math.sin(0.7 * i))
        img += sigma * rng.standard_normal((H, W, 1), dtype=np.float32)
        np.clip(img, 0, 255, out=img)
        out[i] = img
    return out


def write_avi(path: Path, frames: np.ndarray, fps: int = FPS, bit_rate: int = 600_000) -> None:
    """Write frames as an XviD (MPEG-4 Part 2) AVI with PyAV, atomically."""
    import av
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with av.open(str(tmp), "w", format="avi") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.codec_context.codec_tag = "XVID"
        s.bit_rate = bit_rate
        s.codec_context.thread_count = 1
        s.codec_context.gop_size = 12
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    os.replace(tmp, path)


def _job(args):
    out, cls, seed, ci, g, c, shared = args
    path = out / "UCF-101" / cls / f"v_{cls}_g{g:02d}_c{c:02d}.avi"
    if not path.exists():
        write_avi(path, render_clip(cls, seed, ci, g, c, shared))
    return str(path)


def generate(out_dir, classes: int = 10, groups: int = 10, clips: int = 3, seed: int = 0,
             test_groups: int | None = None, workers: int | None = None, progress: bool = True,
             group_shared: bool = True) -> dict:
    """Write the dataset; existing videos are kept (reruns resume). Returns a summary dict.

    Groups ``1..test_groups`` go to ``testlist01.txt`` and the rest to ``trainlist01.txt``, as
    UCF101's split 1 puts groups 1-7 of 25 in test (default: ``round(groups * 7 / 25)``, at least 1).
    """
    if not 1 <= classes <= MAX_CLASSES:
        raise ValueError(f"classes={classes}; allowed 1..{MAX_CLASSES}")
    if groups < 2 or clips < 1:
        raise ValueError("need groups >= 2 and clips >= 1")
    out = Path(out_dir)
    names = list(CLASSES[:classes])
    names_sorted = sorted(names)                  # classInd.txt is alphabetical, like UCF101
    test_groups = test_groups if test_groups is not None else max(1, round(groups * 7 / 25))
    for c in names:
        (out / "UCF-101" / c).mkdir(parents=True, exist_ok=True)
    jobs = [(out, c, seed, CLASSES.index(c), g, k, group_shared) for c in names_sorted
            for g in range(1, groups + 1) for k in range(1, clips + 1)]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    it = map(_job, jobs) if workers == 1 else None
    if workers > 1:
        ex = ProcessPoolExecutor(workers)
        it = ex.map(_job, jobs, chunksize=4)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, total=len(jobs), desc="synth videos", unit="video")
    for _ in it:
        pass
    if workers > 1:
        ex.shutdown()
    lists = out / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    crlf = "\r\n"
    (lists / "classInd.txt").write_bytes(
        "".join(f"{i} {c}{crlf}" for i, c in enumerate(names_sorted, 1)).encode())
    train, test = [], []
    for i, c in enumerate(names_sorted, 1):
        for g in range(1, groups + 1):
            for k in range(1, clips + 1):
                rel = f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi"
                (test if g <= test_groups else train).append((rel, i))
    (lists / "trainlist01.txt").write_bytes("".join(f"{p} {i}{crlf}" for p, i in train).encode())
    (lists / "testlist01.txt").write_bytes("".join(f"{p}{crlf}" for p, _ in test).encode())
    return {"root": str(out), "videos": len(jobs), "classes": names_sorted, "train_list": len(train),
            "test_list": len(test), "test_groups": test_groups}
