"""Which frames make a clip.

The paper (III.A, III.C) feeds *T consecutive frames* taken at interval 1 or 2 — 64 for SlowFast,
16 for TSM — from a random start when training. At test time it "randomly select[s] 64
consecutive frames ... and take[s] ten consecutive times to calculate the average": we read this
as K clips per video whose pre-softmax logits are averaged. So that evaluations are repeatable,
the K clips sit at fixed positions by default: starts evenly spaced from the first to the last
possible start (``positions="uniform"``); ``positions="random"`` draws them from a seeded RNG
instead, which is the literal reading.

Videos shorter than a clip's span ``(T-1)*interval+1`` follow ``short_policy``:
``"loop"`` (default) wraps around to the first frame — the reading of PySlowFast/TSN loaders,
which keep motion going; ``"pad"`` repeats the last frame (motion stops).

Residual-frame ("Diff") input needs one extra frame: ``extra=1`` extends the span so that T
differences can be taken.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SHORT_POLICIES", "POSITIONS", "clip_span", "clip_indices", "train_clip_indices", "eval_clip_indices"]

SHORT_POLICIES = ("loop", "pad")
POSITIONS = ("uniform", "random")


def clip_span(clip_len: int, interval: int, extra: int = 0) -> int:
    """Frames a clip covers in the source video."""
    return (clip_len + extra - 1) * interval + 1


def clip_indices(num_frames: int, start: int, clip_len: int, interval: int, extra: int = 0,
                 short_policy: str = "loop") -> np.ndarray:
    """Frame indices of the clip starting at ``start`` (``clip_len + extra`` of them)."""
    if short_policy not in SHORT_POLICIES:
        raise ValueError(f"short_policy={short_policy!r}; allowed: {SHORT_POLICIES}")
    if num_frames <= 0:
        raise ValueError("video has no frames")
    idx = start + interval * np.arange(clip_len + extra)
    if short_policy == "loop":
        return idx % num_frames
    return np.minimum(idx, num_frames - 1)


def train_clip_indices(num_frames: int, clip_len: int, interval: int, rng: np.random.Generator,
                       extra: int = 0, short_policy: str = "loop") -> np.ndarray:
    """A clip from a uniformly random start (start 0 when the video is too short)."""
    last = num_frames - clip_span(clip_len, interval, extra)
    start = int(rng.integers(0, last + 1)) if last > 0 else 0
    return clip_indices(num_frames, start, clip_len, interval, extra, short_policy)


def eval_clip_indices(num_frames: int, clip_len: int, interval: int, num_clips: int,
                      extra: int = 0, short_policy: str = "loop", positions: str = "uniform",
                      seed: int = 0) -> list[np.ndarray]:
    """``num_clips`` clips at fixed (``uniform``) or seeded ``random`` starts."""
    last = max(0, num_frames - clip_span(clip_len, interval, extra))
    if positions == "uniform":
        starts = np.rint(np.linspace(0, last, num_clips)).astype(int) if num_clips > 1 else [last // 2]
    elif positions == "random":
        starts = np.random.default_rng(seed).integers(0, last + 1, size=num_clips)
    else:
        raise ValueError(f"positions={positions!r}; allowed: {POSITIONS}")
    return [clip_indices(num_frames, int(s), clip_len, interval, extra, short_policy) for s in starts]
