"""The device feed's decoder: PyAV, one open per read, frames as uint8 planes at source size (issue #18).

Workers decode a clip's frames and nothing else: no colour conversion, no resizing, no float
work. A ``yuv420p`` stream (UCF101's XviD AVIs, the prepared copies) comes back as its Y, U and
V planes, packed per frame (``H*W`` luma bytes, then ``ceil(H/2)*ceil(W/2)`` bytes of U, then of
V); any other pixel format is converted to RGB by the decoder library (``rgb24``, ``H*W*3``
bytes). The device turns either into RGB at the decode size
(:func:`vipar_lib.data.device.frames_to_rgb`), in the training or evaluation step.

**One open per read.** What a read needs to know about a video (frame count, the header's
claim, size, pixel format, keyframes and timestamps) is learnt once by :func:`index_video` and
kept in a :class:`VideoIndexStore`, an on-disk index keyed by path, size and mtime (issue #18
item 2). :func:`read_planes` then opens the container once, seeks to the keyframe at or before
the first frame it needs (again after a gap that holds a keyframe) and decodes forward.

**Why PyAV** (measured, ``benchmarks/data_pipeline.py``): it opens a video in 0.1-0.5 ms against
decord's 3-6 ms, returns the decoder's own planes (decord returns only RGB, after a colour
conversion and resize that cost about three times the decode itself), and seeks by keyframe.

**Frame numbers** are positions in presentation order among the stream's packets, the count
decord's index gives too (``len(VideoReader)``): a decoded frame's timestamp names its number
(:class:`VideoIndex` keeps the packets' timestamps, as a start and step when they are regular).
"""
from __future__ import annotations

import json
import os
import threading
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..paths import write_atomic

__all__ = ["VideoIndex", "index_video", "read_planes", "VideoIndexStore", "Planes", "FORMATS", "INDEX_VERSION",
           "plane_bytes"]

FORMATS = ("yuv420p", "rgb24")          # what a worker hands to the device
INDEX_VERSION = 1


@dataclass
class VideoIndex:
    """What one probe learns about a video (cached on disk; :class:`VideoIndexStore`)."""

    frames: int                       # video packets: decodable frame slots, as decord counts them
    claimed: int                      # the container header's frame count (0: not said)
    fps: float
    width: int
    height: int
    pix_fmt: str                      # the decoder's output format
    colorspace: str                   # bt601 | bt709: the matrix the YUV planes use
    keyframes: list[int] = field(default_factory=list)    # frame numbers of keyframes, ascending
    pts0: int = 0                     # regular timestamps: frame i has pts0 + i * step
    step: int = 1
    pts: list[int] | None = None      # irregular timestamps: frame i has pts[i]

    @property
    def fmt(self) -> str:
        return "yuv420p" if self.pix_fmt == "yuv420p" else "rgb24"

    def pts_of(self, i: int) -> int:
        return self.pts[i] if self.pts is not None else self.pts0 + i * self.step

    def number(self, pts) -> int:
        """The frame number of a decoded frame's timestamp (-1 if it is not one of the stream's)."""
        if pts is None:
            return -1
        if self.pts is not None:
            j = bisect_right(self.pts, pts) - 1
            return j if j >= 0 and self.pts[j] == pts else -1
        q, r = divmod(pts - self.pts0, self.step)
        return q if r == 0 and 0 <= q < self.frames else -1

    def keyframe_before(self, i: int) -> int:
        """The last keyframe at or before frame ``i`` (0 when none is indexed)."""
        j = bisect_right(self.keyframes, i) - 1
        return self.keyframes[j] if j >= 0 else 0


def plane_bytes(fmt: str, width: int, height: int, lines: tuple[int, int] | None = None) -> int:
    """Bytes of one packed frame of ``fmt`` at ``width`` x ``height`` whose planes' rows take ``lines`` = (luma,
    chroma) bytes (the decoder's line sizes, padding included; default: no padding)."""
    ly, lc = lines or tight_lines(fmt, width)
    if fmt == "yuv420p":
        return ly * height + 2 * lc * ((height + 1) // 2)
    return ly * height


def tight_lines(fmt: str, width: int) -> tuple[int, int]:
    """Row bytes of the planes without padding."""
    return (width, (width + 1) // 2) if fmt == "yuv420p" else (width * 3, 0)


def _av():
    import av
    return av


def _open(path):
    from .video import DECODE_STATS, VideoError
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "missing")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty", "0 bytes")
    av = _av()
    try:
        c = av.open(str(path))
    except Exception as e:
        raise VideoError(path, "corrupt", _msg(e)) from None
    DECODE_STATS["opens"] += 1
    if not c.streams.video:
        c.close()
        raise VideoError(path, "corrupt", "no video stream")
    s = c.streams.video[0]
    s.thread_type = "SLICE"             # one thread: workers are the parallelism (issue #18 item 5)
    s.codec_context.thread_count = 1
    return c, s


def _msg(e: Exception) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


def index_video(path) -> VideoIndex:
    """One open: demux every packet (no decoding but the first frame) -> :class:`VideoIndex`.

    Raises :class:`~vipar_lib.data.video.VideoError` when the video is missing, empty, has no
    packets or its first frame does not decode (``corrupt``).
    """
    from .video import VideoError
    c, s = _open(path)
    try:
        pts, keys = [], []
        for p in c.demux(s):
            if p.pts is None and p.dts is None:
                continue                                    # the flush packet
            t = p.pts if p.pts is not None else p.dts
            pts.append(int(t))
            if p.is_keyframe:
                keys.append(int(t))
        if not pts:
            raise VideoError(path, "empty", "no frames")
        order = sorted(pts)
        number = {t: i for i, t in enumerate(order)}
        keyframes = sorted({number[t] for t in keys}) or [0]
        c.seek(order[0], stream=s, backward=True, any_frame=False)
        try:
            first = next(c.decode(s))
        except Exception as e:
            raise VideoError(path, "corrupt", "decoding failed: " + _msg(e)) from None
        steps = np.diff(order)
        regular = len(order) < 2 or (steps == steps[0]).all()
        cc = s.codec_context
        fps = float(s.average_rate or s.guessed_rate or 0)
        info = VideoIndex(frames=len(order), claimed=int(s.frames or 0), fps=fps,
                          width=int(cc.width), height=int(cc.height), pix_fmt=str(first.format.name),
                          colorspace="bt709" if int(first.colorspace or 2) == 1 else "bt601", keyframes=keyframes,
                          pts0=order[0], step=int(steps[0]) if len(order) > 1 and regular else 1,
                          pts=None if regular else order)
        return info
    finally:
        c.close()


@dataclass
class Planes:
    """Decoded frames, packed: uint8 (N, plane_bytes) in ``fmt`` at ``width`` x ``height``; each plane's rows
    take ``lines`` = (luma, chroma) bytes, the decoder's padding kept (copying whole planes is one memcpy each)."""

    data: np.ndarray
    fmt: str
    width: int
    height: int
    colorspace: str = "bt601"
    lines: tuple[int, int] | None = None

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    def take(self, rows) -> "Planes":
        return Planes(self.data[rows], self.fmt, self.width, self.height, self.colorspace, self.lines)


def _segments(uniq: np.ndarray, info: VideoIndex) -> list[tuple[int, list[int]]]:
    """Needed frames grouped by where decoding starts: [(keyframe, [frames])]. A new group starts when a
    keyframe lies after the group's last frame and at or before the next needed frame (a seek saves the gap)."""
    out: list[tuple[int, list[int]]] = []
    for i in uniq.tolist():
        k = info.keyframe_before(i)
        if out and k <= out[-1][1][-1]:
            out[-1][1].append(i)
        else:
            out.append((k, [i]))
    return out


def _lines(frame, fmt: str) -> tuple[int, int]:
    if fmt != "yuv420p":
        return tight_lines(fmt, frame.width)
    p = frame.planes
    return p[0].line_size, p[1].line_size


def _cuts(fmt: str, height: int, lines: tuple[int, int]) -> list[tuple[int, int]]:
    """Where each plane of a packed row of the ``lines`` layout starts and ends."""
    if fmt != "yuv420p":
        return [(0, lines[0] * height)]
    y, c = lines[0] * height, lines[1] * ((height + 1) // 2)
    return [(0, y), (y, y + c), (y + c, y + 2 * c)]


def _copy_frame(frame, dst: np.ndarray, fmt: str, lines: tuple[int, int]) -> None:
    """The frame's planes (or its RGB conversion) into ``dst``, one packed row of the ``lines`` layout."""
    if fmt != "yuv420p":
        dst[:] = frame.to_ndarray(format="rgb24").reshape(-1)
        return
    o = 0
    for p, ls in zip(frame.planes, (lines[0], lines[1], lines[1])):
        n = ls * p.height
        if p.line_size == ls and p.buffer_size == n:
            dst[o:o + n] = p                               # the whole plane, padding included: one memcpy
        else:                                              # another layout than the first frame's: row by row
            w = min(ls, p.line_size)
            dst[o:o + n].reshape(p.height, ls)[:, :w] = np.frombuffer(p, np.uint8).reshape(p.height, -1)[:, :w]
        o += n


def read_planes(path, indices: Sequence[int], info: VideoIndex) -> tuple[Planes, np.ndarray | None]:
    """Decode ``indices`` (any order, repeats allowed) with one open -> (distinct frames, positions).

    ``positions`` picks the requested frames from the distinct ones (None when ``indices`` were
    sorted and distinct). Raises :class:`~vipar_lib.data.video.VideoError` naming the file when a
    frame is out of range (``truncated``) or does not decode (``corrupt``).
    """
    from .video import DECODE_STATS, VideoError
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size == 0:
        raise ValueError("read_planes needs at least one index")
    uniq, inverse = np.unique(idx, return_inverse=True)
    if uniq[0] < 0 or uniq[-1] >= info.frames:
        raise VideoError(path, "truncated", f"frame {int(uniq[-1])} requested, {info.frames} indexed")
    fmt = info.fmt
    out, lines = None, None
    slot = {int(f): j for j, f in enumerate(uniq.tolist())}
    size = (info.width, info.height)
    pts0, step, regular = info.pts0, info.step, info.pts is None
    planar = fmt == "yuv420p"
    c, s = _open(path)
    DECODE_STATS["reads"] += 1
    DECODE_STATS["frames"] += int(uniq.size)
    try:
        for key, want in _segments(uniq, info):
            c.seek(info.pts_of(key), stream=s, backward=True, any_frame=False)
            last, n = want[-1], key
            for frame in c.decode(s):
                pts = frame.pts
                i = (pts - pts0) // step if regular and pts is not None else info.number(pts)
                n = i if i >= 0 else n              # no timestamp: count on from the keyframe
                j = slot.pop(n, None)
                if j is not None and (frame.width, frame.height) == size:
                    if out is None:                 # the first frame's layout (line sizes) for all
                        lines = _lines(frame, fmt)
                        out = np.empty((uniq.size, plane_bytes(fmt, info.width, info.height, lines)), np.uint8)
                        cuts = _cuts(fmt, info.height, lines)
                    try:
                        if not planar:
                            raise ValueError
                        row = out[j]
                        for p, (a, b) in zip(frame.planes, cuts):
                            row[a:b] = p                # whole planes, padding included: one memcpy each
                    except ValueError:                  # another layout than the first frame's, or RGB
                        _copy_frame(frame, out[j], fmt, lines)
                elif j is not None:
                    slot[n] = j
                if n >= last:
                    break
                n += 1
    except VideoError:
        raise
    except Exception as e:
        raise VideoError(path, "corrupt", "decoding failed: " + _msg(e)) from None
    finally:
        c.close()
    if slot:
        raise VideoError(path, "corrupt", f"decoding failed: {len(slot)} of {uniq.size} frames did not decode "
                                          f"(first: {min(slot)})")
    planes = Planes(out, fmt, info.width, info.height, info.colorspace, lines)
    if uniq.size == idx.size and np.array_equal(uniq, idx):
        return planes, None
    return planes, inverse


class VideoIndexStore:
    """:class:`VideoIndex` of each video, on disk (a JSON file) and in memory, keyed by path, size and mtime.

    The file lives beside the split (the engine passes ``<split_dir>/videos.index.json``); a
    changed, moved or replaced video is probed again. ``path=None`` keeps the index in memory.
    Writes are atomic (a temporary file renamed over the old one); readers ignore an unreadable
    or older-version file.
    """

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self.items: dict[str, dict] = {}
        self.dirty = False
        if self.path and self.path.is_file():
            try:
                d = json.loads(self.path.read_text())
                if d.get("version") == INDEX_VERSION:
                    self.items = d["videos"]
            except (OSError, ValueError, KeyError, TypeError):
                self.items = {}

    @staticmethod
    def _stamp(path) -> list:
        st = os.stat(path)
        return [st.st_size, st.st_mtime_ns]

    def get(self, path) -> VideoIndex:
        """The index of ``path`` (probed now if unknown or changed). Raises VideoError for bad videos."""
        key = str(Path(path).resolve())
        try:
            stamp = self._stamp(path)
        except OSError:
            stamp = None
        row = self.items.get(key)
        if row is not None and stamp is not None and row["stamp"] == stamp:
            return VideoIndex(**row["index"])
        info = index_video(path)
        with self._lock:
            self.items[key] = {"stamp": stamp, "index": asdict(info)}
            self.dirty = True
        return info

    def save(self) -> None:
        """Write the index if it changed (atomic); a read-only folder is skipped silently (probed next time)."""
        if not (self.path and self.dirty):
            return
        try:
            write_atomic(self.path, json.dumps({"version": INDEX_VERSION, "videos": self.items}, separators=(",", ":")))
            self.dirty = False
        except OSError:
            pass
