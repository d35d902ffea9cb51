"""A synthetic action dataset in UCF101's exact layout (the demo and smoke tiers).

``vipar synth OUT`` writes ``OUT/UCF-101/<Class>/v_<Class>_gGG_cCC.avi`` (XviD/MPEG-4 AVI, 25 fps,
320x240 like UCF101 by default; ``size=(160, 120)`` writes smaller frames of the same layout and
format) and ``OUT/ucfTrainTestlist/{classInd,trainlist01,testlist01}.txt`` in UCF's own format
(CRLF, test list without labels), so the demo runs the same code path as UCF101.

Cue design: **both appearance and motion carry partial class information**, as in UCF101, where
the scene says much about the action (a pool, a field: what one RGB frame shows) and the motion
says the rest (what residual frames show: static scenery cancels in ``x[t+1] - x[t]``).

* **Classes are motions** of one object in a **scene**. Each class has a motion (``MOTION_OF``)
  and a scene type (``SCENE_OF``):

  ==================================  ============================  ===================
  classes                             motion                        scene
  ==================================  ============================  ===================
  MoveLeft, MoveRight                 translation left / right      track
  MoveUp, MoveDown                    translation up / down         forest
  Grow, Shrink                        repeated growth / shrinking   stage
  SwingFast, SwingSlow                fast / slow oscillation       gym
  SpinClockwise, SpinCounterCl...     rotation in place             court
  OrbitClockwise, OrbitCounterCl...   circling                      sky
  StillDisk, StillSquare              none (shape = the name)       pool, field
  StillTriangle, StillCross           none (shape = the name)       snow, sand
  ==================================  ============================  ===================

* **What each cue alone cannot tell apart.** Appearance (one frame: the scene, the still
  object's shape) cannot tell the two classes of a pair that share a scene (MoveLeft from
  MoveRight, SwingFast from SwingSlow, ...): only their motion differs. Motion (frame
  differences) cannot tell the ``Still*`` classes apart: they share "no motion", and their scene
  and shape are invisible in residual frames. Together the two identify every class.
  :func:`cue_ceilings` gives the best accuracy each cue alone allows for a class list (10 demo
  classes: 70% appearance-only, 70% motion-only, chance 10%); tests/test_synth.py checks with an
  appearance-only and a motion-only probe that each cue beats chance and neither solves the task.
* **Scenes** are a colour scheme and a pattern per type (stripes, checks, grid, dots, spotlight,
  waves, sky gradient), varied per group (hues, pattern period and phase, contrast) and per clip
  (illumination gradient, low-contrast clutter, camera offset, gain, sensor noise). They are
  static (no flicker, no camera motion), so residual frames see no scene, only the moving object
  (whose colour and shape are per group and carry no class information, except a Still object's
  shape). They see the scene only along the edges of a moving object, and a moving class shares
  its scene with the class that differs from it by motion alone, so that tells them nothing new.
* **Reverse pairs**: playing ``MoveLeft`` backwards gives ``MoveRight`` (``REVERSE_OF``; the
  renderer builds one as the exact time reversal of the other's trajectory), so reverse-order
  augmentation and test-time views are *not* label-preserving for those classes, while swings and
  still classes (time-symmetric) are. **Flips** (``MIRROR_OF``): a horizontal mirror turns
  ``MoveLeft`` into ``MoveRight`` and clockwise into counter-clockwise; scenes are mirror-symmetric
  as a distribution, so flips keep the appearance cue. The demo trains without flips.
* **Groups** (UCF101's ``gNN``, one actor in one place): clips of a group share the object's
  colour, shape and size and the scene instance (its hues, pattern period, phase and contrast);
  each clip draws its own trajectory, length (36-56 frames), clutter, illumination and noise.
  So train/validation group leakage is real here too, and test groups (1..k) are new places.
  ``group_shared=False`` draws everything per clip.

Deterministic for a seed: every clip's randomness comes from ``(seed, class, group, clip)``, and
every length is relative to the frame height, so a clip looks the same at any ``size``.

**Several processes at once** (issue #21): :func:`generate` holds ``OUT/.lock`` (``flock``) while
it writes, so a second process (two notebooks on one fresh data root) waits for the first and then
finds its videos written; each video goes through a uniquely named temporary file, and leftovers of
a killed writer are removed. :func:`prepare` is the study's entry: under the same lock it
regenerates when the options, the renderer or the files' content (the fingerprint of
:mod:`vipar_lib.data.identity`, recorded in ``OUT/synth.json``) no longer match, so what the study's
``dataset_id`` says the data is, is what is on disk.
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import secrets
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..paths import write_atomic
from .identity import CACHE_NAME, fingerprint, folder_lock, listed_videos

__all__ = ["default_test_groups", "list_sizes", "CLASSES", "REVERSE_OF", "MIRROR_OF", "SCENE_OF", "MOTION_OF",
           "SCENES", "generate", "prepare", "content_fingerprint", "render_clip", "write_avi", "cue_ceilings",
           "MAX_CLASSES", "VERSION"]

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
# the motion cue: what frame differences show (the Still classes share "still")
MOTION_OF = {c: ("still" if c.startswith("Still") else c) for c in CLASSES}
# the appearance cue: the scene type (pairs that differ only by motion share one)
SCENE_OF = {
    "MoveLeft": "track", "MoveRight": "track", "MoveUp": "forest", "MoveDown": "forest",
    "Grow": "stage", "Shrink": "stage", "SwingFast": "gym", "SwingSlow": "gym",
    "SpinClockwise": "court", "SpinCounterClockwise": "court",
    "OrbitClockwise": "sky", "OrbitCounterClockwise": "sky",
    "StillDisk": "pool", "StillSquare": "field", "StillTriangle": "snow", "StillCross": "sand",
}
# scene type -> (base colour, pattern colour, pattern); colours are RGB in 0..255
SCENES = {
    "track": ((178, 72, 56), (236, 226, 214), "hstripes"),
    "pool": ((40, 118, 206), (160, 214, 240), "vstripes"),
    "field": ((62, 150, 58), (120, 196, 96), "checker"),
    "gym": ((196, 160, 104), (120, 70, 40), "grid"),
    "stage": ((42, 34, 70), (236, 210, 150), "spot"),
    "snow": ((228, 232, 242), (150, 160, 185), "dots"),
    "sand": ((214, 190, 126), (170, 130, 70), "waves"),
    "forest": ((34, 84, 44), (92, 60, 36), "vstripes"),
    "court": ((70, 150, 160), (236, 236, 236), "grid"),
    "sky": ((120, 180, 236), (236, 242, 250), "gradient"),
}
VERSION = 2                        # the renderer's version: videos of another version are rewritten
W, H, FPS = 320, 240, 25           # UCF101's frame size and rate (the default)
MIN_FRAMES, MAX_FRAMES = 36, 56    # frames per clip (UCF101's shortest clip has 29)


def cue_ceilings(classes=None) -> dict:
    """The best accuracy each cue alone allows on balanced ``classes`` (default: all).

    A cue value shared by ``m`` classes can be right at best once in ``m``, so the ceiling is
    (distinct values) / (classes). Returns ``{"chance", "appearance", "motion", "both"}``.
    """
    classes = list(CLASSES if classes is None else classes)
    n = len(classes)
    both = {(SCENE_OF[c], MOTION_OF[c]) for c in classes}
    return {"chance": 1 / n, "appearance": len({SCENE_OF[c] for c in classes}) / n,
            "motion": len({MOTION_OF[c] for c in classes}) / n, "both": len(both) / n}


@functools.lru_cache(maxsize=8)
def _grid(w: int, h: int):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return xx, yy


def _box(cx: float, cy: float, r: float, w: int, h: int):
    """Slices of the frame that contain a shape of radius ``r`` at (cx, cy), any rotation."""
    m = 1.3 * r + 2
    return (slice(max(0, int(cy - m)), min(h, int(cy + m) + 1)), slice(max(0, int(cx - m)), min(w, int(cx + m) + 1)))


def _shape_mask(shape: str, cx: float, cy: float, r: float, angle: float, xx, yy) -> np.ndarray:
    """Boolean mask of ``shape`` over the coordinate arrays ``xx``, ``yy``."""
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


def _scene(name: str, grng, rng, w: int, h: int) -> np.ndarray:
    """A static background of scene type ``name``: the instance from ``grng``, the clip's details from ``rng``."""
    base, accent, pattern = SCENES[name]
    xx, yy = _grid(w, h)
    # the group's instance: hues, pattern period/phase/contrast
    c0 = np.clip(np.array(base, np.float32) * grng.uniform(0.88, 1.12, 3), 0, 255)
    c1 = np.clip(np.array(accent, np.float32) * grng.uniform(0.88, 1.12, 3), 0, 255)
    period = grng.uniform(0.12, 0.22) * h
    phase_x, phase_y = grng.uniform(0, 1, 2) * period
    strength = grng.uniform(0.45, 0.8)
    # the clip's camera offset
    x = xx + phase_x + rng.uniform(-0.2, 0.2) * period
    y = yy + phase_y + rng.uniform(-0.2, 0.2) * period
    if pattern == "hstripes":
        m = (np.sin(2 * np.pi * y / period) > 0.3).astype(np.float32)
    elif pattern == "vstripes":
        m = (np.sin(2 * np.pi * x / period) > 0.3).astype(np.float32)
    elif pattern == "checker":
        m = ((np.floor(x / period) + np.floor(y / period)) % 2).astype(np.float32)
    elif pattern == "grid":
        m = ((np.mod(x, period) < 0.12 * period) | (np.mod(y, period) < 0.12 * period)).astype(np.float32)
    elif pattern == "dots":
        m = ((np.mod(x, period) - period / 2) ** 2 + (np.mod(y, period) - period / 2) ** 2
             <= (0.22 * period) ** 2).astype(np.float32)
    elif pattern == "waves":
        m = (np.sin(2 * np.pi * (y + 0.25 * period * np.sin(2 * np.pi * x / (2 * period))) / period) > 0.5
             ).astype(np.float32)
    elif pattern == "spot":
        sx, sy = w / 2 + rng.uniform(-0.25, 0.25) * w, h / 2 + rng.uniform(-0.2, 0.2) * h
        m = np.exp(-((xx - sx) ** 2 + (yy - sy) ** 2) / (2 * (0.28 * h) ** 2)).astype(np.float32)
    elif pattern == "gradient":
        m = np.clip(1.0 - yy / h + 0.1 * np.sin(2 * np.pi * x / (3 * period)), 0, 1).astype(np.float32)
    else:
        raise ValueError(pattern)
    m *= strength
    bg = c0[None, None] * (1 - m[..., None]) + c1[None, None] * m[..., None]
    # illumination: a gentle gradient in a random direction, per clip
    a = rng.uniform(0, 2 * np.pi)
    t = (math.cos(a) * (xx / w - 0.5) + math.sin(a) * (yy / h - 0.5))
    bg *= (1 + rng.uniform(0.0, 0.3) * t)[..., None]
    for _ in range(int(rng.integers(1, 5))):     # static low-contrast clutter
        bw, bh = int(rng.uniform(0.04, 0.16) * w) + 1, int(rng.uniform(0.04, 0.2) * h) + 1
        x0, y0 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
        bg[y0:y0 + bh, x0:x0 + bw] = 0.75 * bg[y0:y0 + bh, x0:x0 + bw] + 0.25 * rng.uniform(20, 235, 3)
    return bg.astype(np.float32)


def _trajectory(cls: str, n: int, rng, r: float, w: int, h: int):
    """Per-frame (cx, cy, radius, angle) for class ``cls``; lengths scale with the frame height."""
    s = h / 240.0
    t = np.arange(n, dtype=np.float32)
    m = 10 * s                                     # margin
    cx = np.full(n, rng.uniform(r + m, w - r - m), np.float32)
    cy = np.full(n, rng.uniform(r + m, h - r - m), np.float32)
    rad = np.full(n, r, np.float32)
    ang = np.full(n, rng.uniform(0, 2 * np.pi), np.float32)
    if cls.startswith("Move"):
        span = (w if cls in ("MoveLeft", "MoveRight") else h) - 2 * r - 2 * m
        speed = min(rng.uniform(3.0, 6.0) * s, span / max(n - 1, 1))
        start = r + m + rng.uniform(0, max(0.0, span - speed * (n - 1)))
        pos = start + speed * t
        if cls in ("MoveLeft", "MoveUp"):          # the exact reverse of MoveRight / MoveDown
            pos = pos[::-1].copy()
        if cls in ("MoveLeft", "MoveRight"):
            cx = pos
        else:
            cy = pos
    elif cls.startswith("Swing"):
        period = rng.uniform(8, 12) if cls == "SwingFast" else rng.uniform(28, 40)
        amp = min(rng.uniform(35, 55) * s, (w - 2 * r - 2 * m) / 2 - 1)
        c0 = rng.uniform(r + amp + m, w - r - amp - m)
        cx = c0 + amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    elif cls.startswith("Spin"):
        om = rng.uniform(0.10, 0.18) * (1 if cls == "SpinClockwise" else -1)
        ang = ang + om * t
    elif cls in ("Grow", "Shrink"):
        # repeated growth (0.55r -> 1.45r every 16-26 frames); Shrink is its exact time reversal
        period = rng.uniform(16, 26)
        rad = r * (0.55 + 0.9 * np.mod(t / period + rng.uniform(0, 1), 1.0)).astype(np.float32)
        if cls == "Shrink":
            rad = rad[::-1].copy()
    elif cls.startswith("Orbit"):
        R = rng.uniform(20, 35) * s
        c0x, c0y = rng.uniform(R + r + m, w - R - r - m), rng.uniform(R + r + m, h - R - r - m)
        om = rng.uniform(0.08, 0.14) * (1 if cls == "OrbitClockwise" else -1)
        ph = rng.uniform(0, 2 * np.pi) + om * t
        cx, cy = c0x + R * np.cos(ph), c0y + R * np.sin(ph)
    elif not cls.startswith("Still"):
        raise ValueError(f"unknown synthetic class {cls!r}; known: {CLASSES}")
    return cx, cy, rad, ang


def render_clip(cls: str, seed: int, ci: int, group: int, clip: int, group_shared: bool = True,
                size: tuple[int, int] = (W, H)) -> np.ndarray:
    """Frames (N, height, width, 3) uint8 of one clip; ``size`` is (width, height).

    ``group_shared``: clips of a group share the object (colour, shape, size) and the scene
    instance (UCF101's shared actor and place); otherwise every clip draws its own.
    """
    if cls not in SCENE_OF:
        raise ValueError(f"unknown synthetic class {cls!r}; known: {CLASSES}")
    w, h = int(size[0]), int(size[1])
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise ValueError(f"size={size}: width and height must be even and >= 16")
    rng = np.random.default_rng([seed, ci, group, clip])
    grng = np.random.default_rng([seed, ci, group]) if group_shared else rng
    srng = np.random.default_rng([seed, ci, group, 10_000]) if group_shared else rng   # the scene instance
    color = PALETTE[int(grng.integers(len(PALETTE)))] * grng.uniform(0.85, 1.15)   # the group's colour
    marker = np.clip(255 - color, 0, 255)
    shape = cls[5:].lower() if cls.startswith("Still") else SHAPES[int(grng.integers(len(SHAPES)))]
    r = float(grng.uniform(0.15, 0.21)) * h
    bg = _scene(SCENE_OF[cls], srng, rng, w, h)
    n = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1))
    cx, cy, rad, ang = _trajectory(cls, n, rng, r, w, h)
    gain = rng.uniform(0.75, 1.25)
    sigma = rng.uniform(1, 4)
    xx, yy = _grid(w, h)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        img = bg.copy()
        box = _box(cx[i], cy[i], rad[i], w, h)
        patch = img[box]
        bx, by = xx[box], yy[box]
        patch[_shape_mask(shape, cx[i], cy[i], rad[i], ang[i], bx, by)] = color
        # a marker dot off-centre makes rotation visible
        mx, my = cx[i] + 0.55 * rad[i] * math.cos(ang[i]), cy[i] + 0.55 * rad[i] * math.sin(ang[i])
        patch[(bx - mx) ** 2 + (by - my) ** 2 <= (0.3 * rad[i]) ** 2] = marker
        img *= gain
        img += sigma * rng.standard_normal((h, w, 1), dtype=np.float32)
        np.clip(img, 0, 255, out=img)
        out[i] = img
    return out


def write_avi(path: Path, frames: np.ndarray, fps: int = FPS, bit_rate: int | None = None) -> None:
    """Write frames as an XviD (MPEG-4 Part 2) AVI with PyAV, atomically.

    ``bit_rate`` defaults to 600 kb/s at 320x240, scaled with the frame area.
    """
    import av
    path = Path(path)
    if bit_rate is None:
        bit_rate = max(100_000, int(600_000 * frames.shape[1] * frames.shape[2] / (W * H)))
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(3)}.part")     # unique per writer
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


def _video_path(out: Path, cls: str, g: int, c: int) -> Path:
    return out / "UCF-101" / cls / f"v_{cls}_g{g:02d}_c{c:02d}.avi"


def _job(args):
    out, cls, seed, ci, g, c, shared, size = args
    path = _video_path(out, cls, g, c)
    if not path.exists():
        write_avi(path, render_clip(cls, seed, ci, g, c, shared, size))
    return str(path)


def default_test_groups(groups: int) -> int:
    """Groups 1..k go to the test list, as UCF101's split 1 puts groups 1-7 of 25 there."""
    return max(1, round(groups * 7 / 25))


def list_sizes(classes: int, groups: int, clips: int, test_groups: int | None = None) -> dict[str, int]:
    """Videos per VIPriors split of a generated set, without generating it (each class's training list
    is halved, the first ceil(n/2) to train)."""
    tg = test_groups if test_groups is not None else default_test_groups(groups)
    per_class = (groups - tg) * clips
    return {"train": classes * -(-per_class // 2), "validation": classes * (per_class // 2),
            "test": classes * tg * clips}


def generate(out_dir, classes: int = 10, groups: int = 10, clips: int = 3, seed: int = 0,
             test_groups: int | None = None, workers: int | None = None, progress: bool = True,
             group_shared: bool = True, size: tuple[int, int] = (W, H), force: bool = False) -> dict:
    """Write the dataset, holding ``out_dir/.lock`` (a second process waits). Returns a summary dict.

    Reruns resume: videos already written with the same ``seed``, ``size``, ``group_shared`` and
    renderer :data:`VERSION` (recorded in ``out_dir/.synth.json``) are kept; otherwise (or with
    ``force``) they are rewritten.

    Groups ``1..test_groups`` go to ``testlist01.txt`` and the rest to ``trainlist01.txt``, as
    UCF101's split 1 puts groups 1-7 of 25 in test (default: ``round(groups * 7 / 25)``, at least 1).
    ``size`` is the frame (width, height): UCF101's 320x240 by default.
    """
    with folder_lock(Path(out_dir)):
        return _generate(Path(out_dir), classes, groups, clips, seed, test_groups, workers, progress, group_shared,
                         size, force)


def _generate(out: Path, classes: int, groups: int, clips: int, seed: int, test_groups: int | None,
              workers: int | None, progress: bool, group_shared: bool, size: tuple[int, int], force: bool) -> dict:
    """:func:`generate`'s work; the caller holds the folder's lock."""
    if not 1 <= classes <= MAX_CLASSES:
        raise ValueError(f"classes={classes}; allowed 1..{MAX_CLASSES}")
    if groups < 2 or clips < 1:
        raise ValueError("need groups >= 2 and clips >= 1")
    size = (int(size[0]), int(size[1]))
    if size[0] < 16 or size[1] < 16 or size[0] % 2 or size[1] % 2:
        raise ValueError(f"size={size}: width and height must be even and >= 16")
    names = list(CLASSES[:classes])
    names_sorted = sorted(names)                  # classInd.txt is alphabetical, like UCF101
    test_groups = test_groups if test_groups is not None else default_test_groups(groups)
    if not 1 <= test_groups < groups:
        raise ValueError(f"test_groups={test_groups}; allowed 1..{groups - 1}")
    for c in names:
        (out / "UCF-101" / c).mkdir(parents=True, exist_ok=True)
        for part in (out / "UCF-101" / c).glob("*.part"):     # a killed writer's; no writer lives: we hold the lock
            part.unlink(missing_ok=True)
    marker = out / ".synth.json"
    made_by = {"version": VERSION, "seed": seed, "size": list(size), "group_shared": group_shared}
    try:
        stale = force or json.loads(marker.read_text()) != made_by
    except (OSError, ValueError):
        stale = True                              # no record: videos there are not known to match
    jobs = [(out, c, seed, CLASSES.index(c), g, k, group_shared, size) for c in names_sorted
            for g in range(1, groups + 1) for k in range(1, clips + 1)]
    if stale:       # remove what this call would write, then record the settings (an interrupted run resumes)
        for j in jobs:
            _video_path(out, j[1], j[4], j[5]).unlink(missing_ok=True)
        write_atomic(marker, json.dumps(made_by).encode())
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
    write_atomic(lists / "classInd.txt", "".join(f"{i} {c}{crlf}" for i, c in enumerate(names_sorted, 1)).encode())
    train, test = [], []
    for i, c in enumerate(names_sorted, 1):
        for g in range(1, groups + 1):
            for k in range(1, clips + 1):
                rel = f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi"
                (test if g <= test_groups else train).append((rel, i))
    write_atomic(lists / "trainlist01.txt", "".join(f"{p} {i}{crlf}" for p, i in train).encode())
    write_atomic(lists / "testlist01.txt", "".join(f"{p}{crlf}" for p, _ in test).encode())
    return {"root": str(out), "videos": len(jobs), "classes": names_sorted, "train_list": len(train),
            "test_list": len(test), "test_groups": test_groups, "size": list(size), "version": VERSION,
            "cue_ceilings": cue_ceilings(names)}


def content_fingerprint(out_dir, progress: bool = True) -> str:
    """The :func:`~vipar_lib.data.identity.fingerprint` of the official-format lists and every video they name."""
    out = Path(out_dir)
    lists = [out / "ucfTrainTestlist" / n for n in ("classInd.txt", "trainlist01.txt", "testlist01.txt")]
    return fingerprint(lists, out / "UCF-101", listed_videos(lists[1:]), out / CACHE_NAME, progress)


def _record(path: Path) -> dict:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def prepare(out_dir, progress: bool = True, *, classes: int, groups: int, clips: int, seed: int,
            size: tuple[int, int]) -> dict:
    """The study's synthetic data, under ``out_dir/.lock``: returns the record of ``out_dir/synth.json``.

    Generated when missing or made with other options or another renderer :data:`VERSION`; every
    video rewritten when the content no longer has the fingerprint recorded when it was made (a
    video or list replaced by hand, or by ``vipar synth`` with other settings). A record written
    before fingerprints were kept is trusted, as it was, and given one.
    """
    out = Path(out_dir)
    opts = {"classes": classes, "groups": groups, "clips": clips, "seed": seed, "size": list(size)}
    with folder_lock(out):
        marker = out / "synth.json"
        seen = _record(marker)
        same = seen.get("options") == opts and seen.get("version") == VERSION
        fp = content_fingerprint(out, progress) if same else None
        if same and seen.get("fingerprint") in (None, fp):
            if seen.get("fingerprint") is None:
                seen["fingerprint"] = fp
                with contextlib.suppress(OSError):          # a read-only data root: checked again next time
                    write_atomic(marker, json.dumps(seen).encode())
            return seen
        info = _generate(out, classes, groups, clips, seed, None, None, progress, True, tuple(size), force=same)
        record = {"options": opts, "version": VERSION, "info": info, "fingerprint": content_fingerprint(out, progress)}
        write_atomic(marker, json.dumps(record).encode())
        return record
