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
which keep motion going; ``"pad"`` repeats the last frame (motion stops); ``"pingpong"`` is the
release's (below).

Residual-frame ("Diff") input needs one extra frame: ``extra=1`` extends the span so that T
differences can be taken.

**The release reading** (xdw1995/123 @ 40c31aa; README: interpretation table):

* ``short_policy="pingpong"`` — ``while len(buffer) < T + 2: buffer = buffer ++ reverse(buffer)``
  (release ``libb/dataset.py:56-57``, ``lastdataset.py:55-56``): the n frames are extended
  palindromically, position q reading frame ``q mod 2n`` if that is < n, else ``2n-1-(q mod 2n)``,
  to length ``L = n * 2^k >= span + 2`` (k >= 0 smallest; ``span`` plays the release's T), and
  the start is drawn from U{0..L-span-1} (``libb/dataset.py:143``: the last start is never
  drawn). The turning frames repeat (..., 1, 0, 0, 1, ...), so a Diff clip crossing a turn has a
  zero difference there. Example: n = 28, T = 64: 0..27, 27..0, 0..27, 27..0 (L = 112), start in
  0..47. **Reading:** the release extends before taking every second frame; here the span of the
  interval takes the place of T.
* ``window=N`` — the release reads at most N frames of a video (``libb/dataset.py:104-111,126``,
  N = 300): a video of F > N frames keeps frames e-N..e-1 for e ~ U{N..F-1} (a random window, drawn
  per clip), a video of F <= N frames keeps frames 0..F-2 (the last frame is never read; a
  one-frame video keeps its frame). The clip is then placed inside the kept frames as above.
  ``window=0`` (default) keeps every frame. Test clips draw their windows from the same seeded
  RNG as their starts (:func:`eval_clip_indices`).
"""
from __future__ import annotations

import numpy as np

__all__ = ["SHORT_POLICIES", "POSITIONS", "clip_span", "clip_indices", "train_clip_indices", "eval_clip_indices",
           "kept_frames", "last_start", "pingpong_length"]

SHORT_POLICIES = ("loop", "pad", "pingpong")
POSITIONS = ("uniform", "random")


def clip_span(clip_len: int, interval: int, extra: int = 0) -> int:
    """Frames a clip covers in the source video."""
    return (clip_len + extra - 1) * interval + 1


def kept_frames(num_frames: int, window: int = 0) -> int:
    """Frames a clip may use: all (``window=0``), ``window`` of a longer video, else all but the last."""
    if not window:
        return num_frames
    return window if num_frames > window else max(1, num_frames - 1)


def pingpong_length(num_frames: int, span: int) -> int:
    """Length ``n * 2^k`` of the palindromic extension: the smallest with at least ``span + 2`` frames."""
    n = num_frames
    while n < span + 2:
        n *= 2
    return n


def last_start(num_frames: int, span: int, short_policy: str = "loop") -> int:
    """The last start a clip of ``span`` frames may take (<= 0: the clip starts at frame 0)."""
    if short_policy == "pingpong":
        return pingpong_length(num_frames, span) - span - 1
    return num_frames - span


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
    if short_policy == "pingpong":
        q = idx % (2 * num_frames)
        return np.where(q < num_frames, q, 2 * num_frames - 1 - q)
    return np.minimum(idx, num_frames - 1)


def _window_offset(num_frames: int, window: int, rng: np.random.Generator, size=None):
    """First kept frame(s): e - window for e ~ U{window..F-1} when the video is longer than the window, else 0."""
    if not window or num_frames <= window:
        return 0 if size is None else np.zeros(size, dtype=np.int64)
    return rng.integers(window, num_frames, size=size) - window


def train_clip_indices(num_frames: int, clip_len: int, interval: int, rng: np.random.Generator,
                       extra: int = 0, short_policy: str = "loop", window: int = 0) -> np.ndarray:
    """A clip from a uniformly random start (start 0 when the video is too short).

    With ``window`` the kept frames are drawn first (module docstring), then the start inside them.
    """
    offset = int(_window_offset(num_frames, window, rng))
    n = kept_frames(num_frames, window)
    last = last_start(n, clip_span(clip_len, interval, extra), short_policy)
    start = int(rng.integers(0, last + 1)) if last > 0 else 0
    return offset + clip_indices(n, start, clip_len, interval, extra, short_policy)


def eval_clip_indices(num_frames: int, clip_len: int, interval: int, num_clips: int,
                      extra: int = 0, short_policy: str = "loop", positions: str = "uniform",
                      seed: int = 0, window: int = 0) -> list[np.ndarray]:
    """``num_clips`` clips at fixed (``uniform``) or seeded ``random`` starts.

    With ``window`` each clip has its own window (drawn from the seeded RNG after the starts) and
    its start is taken inside it.
    """
    n = kept_frames(num_frames, window)
    last = max(0, last_start(n, clip_span(clip_len, interval, extra), short_policy))
    rng = np.random.default_rng(seed)
    if positions == "uniform":
        starts = np.rint(np.linspace(0, last, num_clips)).astype(int) if num_clips > 1 else [last // 2]
    elif positions == "random":
        starts = rng.integers(0, last + 1, size=num_clips)
    else:
        raise ValueError(f"positions={positions!r}; allowed: {POSITIONS}")
    offsets = _window_offset(num_frames, window, rng, size=num_clips)
    return [int(o) + clip_indices(n, int(s), clip_len, interval, extra, short_policy) for s, o in zip(starts, offsets)]
