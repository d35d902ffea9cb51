"""Video decoding with decord, with errors that name the file: the host feed (``data.feed: host``) and
``vipar check-videos``. The device feed (the default since issue #18) decodes with PyAV
(:mod:`vipar_lib.data.decode`); both share :class:`VideoError`, the truncation rule and :data:`DECODE_STATS`.

Resizing happens inside ``decord.VideoReader(path, width=, height=)``: measured here it is the
fastest path (~3,900 frames/s on one core for 320x240 XviD against ~1,600 for decode-then-resize),
so :func:`read_frames` asks the reader for the target size directly.

A video is *bad* when it is missing, empty, not decodable (garbage, unknown codec) or truncated:
fewer frames decode than its container header claims (PyAV reads the header's frame count), by
more than :data:`TRUNCATION_TOLERANCE` (:func:`truncation`). ``vipar check-videos`` decodes every
frame and applies that rule; datasets apply the same rule to decord's frame index at build time
(:func:`probe_checked`), so a truncated file is never used as if whole, and a file that fails
later, while its frames are decoded, counts as bad from then on (the dataset layer).

Reading the header costs ~0.2 ms a video with PyAV (measured on the synthetic 320x240 XviD set,
against ~1.8 ms for decord's open); both are cached per path, size and mtime, per process.

:data:`DECODE_STATS` counts reader opens and the frames asked of the decoder per process (the
evaluation benchmark reads it).
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

__all__ = ["VideoError", "VideoInfo", "probe", "probe_checked", "header_frames", "truncation",
           "TRUNCATION_TOLERANCE", "read_frames", "check_video", "check_videos", "resized_shape", "DECODE_STATS"]

# a video may miss this many of the frames its header claims before it counts as truncated:
# max(frames, fraction * claimed). Real AVIs often index one or two frames fewer than the header.
TRUNCATION_TOLERANCE = (2, 0.02)

# reader opens and frames asked of the decoder in this process (unique indices per read)
DECODE_STATS = {"opens": 0, "reads": 0, "frames": 0}


class VideoError(RuntimeError):
    """A video could not be read. ``reason`` is one of missing/empty/corrupt/truncated."""

    def __init__(self, path, reason: str, detail: str = ""):
        self.path, self.reason, self.detail = str(path), reason, detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


@dataclass
class VideoInfo:
    path: str
    frames: int
    fps: float
    width: int
    height: int


def _decord_msg(e: Exception) -> str:
    """decord's C++ message without its ``[hh:mm:ss] file.cc:line:`` prefixes, on one line."""
    import re
    text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", str(e))
    return " ".join(text.split())[:200] or type(e).__name__


def _decord():
    import decord  # imported lazily: workers and CLI start faster
    decord.bridge.set_bridge("native")
    return decord


def _open(path, width: int = -1, height: int = -1):
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "missing")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty", "0 bytes")
    try:
        vr = _decord().VideoReader(str(path), width=width, height=height, num_threads=1)
    except Exception as e:  # decord raises RuntimeError/DECORDError with C++ text
        raise VideoError(path, "corrupt", _decord_msg(e)) from None
    if len(vr) == 0:
        raise VideoError(path, "empty", "no frames")
    return vr


_INFO_CACHE: "OrderedDict[tuple, VideoInfo]" = OrderedDict()
_HEADER_CACHE: "OrderedDict[tuple, int]" = OrderedDict()


def _key(path) -> tuple:
    try:
        st = os.stat(path)
        return (str(path), st.st_size, st.st_mtime_ns)
    except OSError:
        return (str(path), -1, -1)


def _remember(cache: OrderedDict, key, value):
    cache[key] = value
    if len(cache) > 50_000:
        cache.popitem(last=False)
    return value


def probe(path) -> VideoInfo:
    """Frame count (decord's index), fps and size of a video (cached per path, size, mtime, per process)."""
    key = _key(path)
    if key in _INFO_CACHE:
        return _INFO_CACHE[key]
    vr = _open(path)
    try:
        h, w = vr[0].shape[:2]
    except Exception as e:
        raise VideoError(path, "corrupt", "decoding failed: " + _decord_msg(e)) from None
    return _remember(_INFO_CACHE, key, VideoInfo(str(path), len(vr), float(vr.get_avg_fps()), int(w), int(h)))


def header_frames(path) -> int:
    """Frame count the container header claims (0 when it does not say); cached like :func:`probe`."""
    key = _key(path)
    if key in _HEADER_CACHE:
        return _HEADER_CACHE[key]
    return _remember(_HEADER_CACHE, key, _claimed_frames(path))


def truncation(decodable: int, claimed: int) -> str:
    """Why a video with ``decodable`` of ``claimed`` frames is truncated, or "" when it is not."""
    lo, frac = TRUNCATION_TOLERANCE
    if claimed and claimed - decodable > max(lo, frac * claimed):
        return f"{decodable} frames decode, header claims {claimed}"
    return ""


def probe_checked(path) -> VideoInfo:
    """:func:`probe`, raising :class:`VideoError` (``truncated``) when the header claims more frames."""
    info = probe(path)
    why = truncation(info.frames, header_frames(path))
    if why:
        raise VideoError(path, "truncated", why)
    return info


def resized_shape(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) after scaling so the shorter side is ``short_side`` (None: unchanged)."""
    if not short_side:
        return width, height
    if width <= height:
        return short_side, max(1, round(height * short_side / width))
    return max(1, round(width * short_side / height)), short_side


def read_frames(path, indices: Sequence[int], short_side: int | None = None, gather: bool = True):
    """Decode ``indices`` (any order, repeats allowed) -> uint8 array (T, H, W, 3), RGB.

    ``short_side`` resizes inside the reader. Raises :class:`VideoError` naming the file.
    Each distinct frame is decoded once. ``gather=False`` returns ``(distinct frames, positions)``
    instead, ``positions`` (or None when the indices were sorted and distinct) picking the clip's
    frames from them: a looping clip (a video shorter than the clip) is then not copied whole
    here, and the clip transform gathers only the cropped region (``ClipTransform.clip(idx=)``).
    """
    info = probe(path)
    w, h = resized_shape(info.width, info.height, short_side)
    in_reader = bool(short_side) and (w, h) != (info.width, info.height) and (w, h) not in _BAD_SIZES
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size == 0:
        raise ValueError("read_frames needs at least one index")
    uniq, inverse = np.unique(idx, return_inverse=True)
    frames = None
    if in_reader:
        try:
            frames = _get(path, uniq, w, h)
        except VideoError as e:
            if "must exactly match" not in e.detail:
                raise
            _BAD_SIZES.add((w, h))   # decord 0.6 fails to resize to a few sizes (48x36, 72x54): resize here
    if frames is None:
        frames = _get(path, uniq, -1, -1)
        if (frames.shape[2], frames.shape[1]) != (w, h):
            import torch
            import torch.nn.functional as F
            t = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
            t = F.interpolate(t, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
            frames = t.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    if uniq.size == idx.size and np.array_equal(uniq, idx):
        return frames if gather else (frames, None)    # sorted, distinct (the usual clip): no reordering copy
    return frames[inverse] if gather else (frames, inverse)


_BAD_SIZES: set[tuple[int, int]] = set()


def _get(path, uniq: np.ndarray, w: int, h: int) -> np.ndarray:
    vr = _open(path, w, h)
    DECODE_STATS["opens"] += 1
    DECODE_STATS["reads"] += 1
    DECODE_STATS["frames"] += int(uniq.size)
    if uniq.min() < 0 or uniq.max() >= len(vr):
        raise VideoError(path, "truncated", f"frame {int(uniq.max())} requested, {len(vr)} decodable")
    try:
        return vr.get_batch(uniq.tolist()).asnumpy()
    except Exception as e:
        raise VideoError(path, "corrupt", "decoding failed: " + _decord_msg(e)) from None


def _claimed_frames(path) -> int:
    """Frame count from the container header (0 when the header does not say)."""
    try:
        import av
        with av.open(str(path)) as c:
            return int(c.streams.video[0].frames or 0)
    except Exception:
        return 0


def check_video(path, chunk: int = 64) -> dict:
    """Decode every frame of ``path``. Returns a dict with ``ok``, ``reason``, frames, fps, size."""
    row = {"path": str(path), "ok": False, "reason": "", "frames": 0, "claimed_frames": 0,
           "fps": 0.0, "width": 0, "height": 0}
    try:
        vr = _open(path)
        row["fps"] = float(vr.get_avg_fps())
        n = len(vr)
        decoded = 0
        try:
            for s in range(0, n, chunk):
                b = vr.get_batch(list(range(s, min(n, s + chunk)))).asnumpy()
                decoded += b.shape[0]
                row["height"], row["width"] = int(b.shape[1]), int(b.shape[2])
        except Exception as e:
            raise VideoError(path, "truncated" if decoded else "corrupt",
                             f"decoding stopped after {decoded} of {n} frames: {str(e)[:120]}") from None
        row["frames"] = decoded
        claimed = _claimed_frames(path)
        row["claimed_frames"] = claimed
        why = truncation(decoded, claimed)
        if why:
            raise VideoError(path, "truncated", why)
        row["ok"] = True
    except VideoError as e:
        row["reason"] = e.reason + (f": {e.detail}" if e.detail else "")
    return row


def _expand(paths: Iterable, root: Path | None) -> list[Path]:
    from .splits import _read_lines
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in {".avi", ".mp4", ".mkv", ".webm", ".mov"})
        elif p.suffix.lower() == ".txt":
            base = root or _guess_root(p)
            out += [base / ln.split()[0] for ln in _read_lines(p)]
        else:
            out.append(p)
    return out


def _guess_root(list_file: Path) -> Path:
    """For a split list, videos live beside it or in a sibling ``UCF-101``/``videos`` folder."""
    from .splits import SplitError, _read_lines
    try:
        first = _read_lines(list_file)[0].split()[0]
    except (SplitError, IndexError):
        return list_file.parent
    for cand in (list_file.parent.parent / "UCF-101", list_file.parent / "UCF-101", list_file.parent,
                 list_file.parent.parent):
        if (cand / first).exists():
            return cand
    return list_file.parent


def check_videos(paths: Iterable, root: Path | None = None, progress: bool = True,
                 workers: int = 1) -> list[dict]:
    """:func:`check_video` over folders, split lists (``.txt``) or files."""
    files = _expand(paths, root)
    it: Iterable = files
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers) as ex:
            rows = list(_progress(ex.map(check_video, files, chunksize=8), len(files), progress))
        return rows
    return [check_video(f) for f in _progress(it, len(files), progress)]


def _progress(it, total, on):
    if not on:
        return it
    from tqdm.auto import tqdm
    return tqdm(it, total=total, desc="check-videos", unit="video")


def format_check_report(rows: list[dict], as_json: bool = False) -> str:
    if as_json:
        return json.dumps({"videos": rows, "bad": sum(not r["ok"] for r in rows)}, indent=1)
    lines = [f"{'status':8} {'frames':>6} {'fps':>6} {'size':>9}  path"]
    for r in rows:
        size = f"{r['width']}x{r['height']}" if r["width"] else "-"
        st = "ok" if r["ok"] else "BAD"
        lines.append(f"{st:8} {r['frames']:6d} {r['fps']:6.2f} {size:>9}  {r['path']}"
                     + ("" if r["ok"] else f"  <- {r['reason']}"))
    bad = sum(not r["ok"] for r in rows)
    lines.append(f"{len(rows)} videos, {bad} bad")
    return os.linesep.join(lines)
