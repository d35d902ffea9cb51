"""``vipar prepare-videos SRC DST``: a one-off transcode of a video folder to a small short side (issue #18).

Every video under ``SRC`` is written to the same relative path under ``DST`` (UCF101's
``<Class>/v_*.avi`` layout, so the split's paths still resolve), scaled to the size the feed
decodes at (:func:`~vipar_lib.data.video.resized_shape`: 320x240 -> 171x128 at short side 128;
a video already that small keeps its size) and re-encoded as MPEG-4 part 2 in AVI (the originals'
codec family; ``XVID`` tag) at quantiser 2-3 with a keyframe every 12 frames. The scaling is
FFmpeg's bilinear, in YUV, as decord's reader scales today, so the prepared frames are the frames
the feed decodes from the originals up to the re-encoding (``benchmarks/data_pipeline.py``
measures the difference). Decoding one costs about a third of the original's CPU time: fewer
pixels, no resize on the device.

* **Same frames.** Each output must hold exactly its source's frame count (the feed's frame
  numbers, :class:`~vipar_lib.data.decode.VideoIndex`); a frame the decoder skips is written again
  from its predecessor so later numbers do not shift. A source that is truncated, corrupt, or
  whose output would differ in count is reported bad (one line naming it) and not written.
* **Idempotent and resumable.** Outputs are written to a temporary file and renamed; the
  manifest ``DST/.vipar-prepared.json`` records each source's size and mtime and the output's
  frame count and size. A rerun skips what is done and redoes what changed or was interrupted.
  A ``DST`` prepared at another short side is refused.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..paths import write_atomic

__all__ = ["prepare_videos", "transcode", "prepared_info", "MANIFEST", "PREPARE_VERSION", "VIDEO_SUFFIXES"]

MANIFEST = ".vipar-prepared.json"
PREPARE_VERSION = 1
VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".webm", ".mov"}
GOP, QMIN, QMAX = 12, 2, 3


def prepared_info(root) -> dict | None:
    """The manifest of a prepared folder (``version``, ``short_side``, ``videos``), or None if it is not one."""
    p = Path(root) / MANIFEST
    if not p.is_file():
        return None
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and "short_side" in d else None


def _target(width: int, height: int, short_side: int) -> tuple[int, int]:
    from .video import resized_shape
    if min(width, height) <= short_side:
        return width, height
    return resized_shape(width, height, short_side)


def transcode(src, dst, short_side: int) -> dict:
    """Transcode one video (see the module docstring) -> ``{"frames", "width", "height", "bytes", "filled"}``.

    Raises :class:`~vipar_lib.data.video.VideoError` naming ``src`` when it is bad; nothing is left at ``dst``."""
    import av

    from .decode import index_video
    from .video import VideoError, truncation
    src, dst = Path(src), Path(dst)
    info = index_video(src)
    why = truncation(info.frames, info.claimed)
    if why:
        raise VideoError(src, "truncated", why)
    w, h = _target(info.width, info.height, short_side)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    written = filled = 0
    try:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="avi") as out:
            rate = round(info.fps) or 25
            s = out.add_stream("mpeg4", rate=rate)
            s.width, s.height, s.pix_fmt, s.codec_tag = w, h, "yuv420p", "XVID"
            cc = s.codec_context
            cc.gop_size, cc.qmin, cc.qmax, cc.bit_rate, cc.thread_count = GOP, QMIN, QMAX, 50_000_000, 1
            vs = inp.streams.video[0]
            vs.thread_type, vs.codec_context.thread_count = "SLICE", 1
            last = None
            try:
                for frame in inp.decode(vs):
                    n = info.number(frame.pts)
                    small = frame.reformat(width=w, height=h, format="yuv420p", interpolation="BILINEAR")
                    while last is not None and n > written:          # a frame the decoder skipped: repeat
                        _encode(out, s, last, written, rate)
                        written, filled = written + 1, filled + 1
                    if n < 0 or n == written:
                        _encode(out, s, small, written, rate)
                        written += 1
                    last = small
            except av.error.FFmpegError as e:
                raise VideoError(src, "corrupt", f"decoding stopped after {written} of {info.frames} frames: "
                                                 + " ".join(str(e).split())[:120]) from None
            while last is not None and written < info.frames:
                _encode(out, s, last, written, rate)
                written, filled = written + 1, filled + 1
            for p in s.encode():
                out.mux(p)
        got = index_video(tmp).frames
        if got != info.frames or written != info.frames:
            raise VideoError(src, "corrupt", f"the prepared copy holds {got} frames, the source {info.frames}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return {"frames": info.frames, "width": w, "height": h, "bytes": dst.stat().st_size, "filled": filled}


def _encode(out, stream, frame, number: int, rate: int) -> None:
    from fractions import Fraction
    frame.pts, frame.time_base = number, Fraction(1, rate)
    for p in stream.encode(frame):
        out.mux(p)


def _job(args):
    src, dst, short_side = args
    from .video import VideoError
    try:
        return str(src), transcode(src, dst, short_side), ""
    except VideoError as e:
        return str(src), None, e.reason + (f": {e.detail}" if e.detail else "")


def _stamp(p: Path) -> list:
    st = p.stat()
    return [st.st_size, st.st_mtime_ns]


def _write_manifest(dst: Path, manifest: dict) -> None:
    write_atomic(dst / MANIFEST, json.dumps(manifest, indent=0, sort_keys=True))


def prepare_videos(src, dst, short_side: int = 128, workers: int = 1, progress: bool = True) -> dict:
    """Transcode every video under ``src`` into ``dst`` (module docstring) -> a summary:
    ``{"videos", "prepared", "skipped", "bad": [(path, reason)], "short_side", "dst"}``."""
    from ..typed import ConfigError
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: not a folder of videos")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise ConfigError(f"{dst}: must lie outside {src}")
    if short_side < 16:
        raise ConfigError(f"--short-side {short_side}: must be at least 16")
    files = sorted(p.relative_to(src) for p in src.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES
                   and not p.name.startswith("."))
    dst.mkdir(parents=True, exist_ok=True)
    manifest = prepared_info(dst) or {"version": PREPARE_VERSION, "short_side": short_side, "videos": {}}
    if manifest["short_side"] != short_side:
        raise ConfigError(f"{dst}: holds videos prepared at short side {manifest['short_side']}, not {short_side}; "
                          f"use another folder")
    done = manifest["videos"]

    def finished(rel: Path) -> bool:
        row, out = done.get(str(rel)), dst / rel
        return bool(row) and row.get("source") == _stamp(src / rel) and out.is_file() and \
            out.stat().st_size == row.get("bytes")
    todo = [rel for rel in files if not finished(rel)]
    jobs = [(src / rel, dst / rel, short_side) for rel in todo]
    bad: list[tuple[str, str]] = []
    results = _run(jobs, workers, progress)
    for k, (path, row, why) in enumerate(results, 1):
        rel = str(Path(path).relative_to(src))
        if row is None:
            bad.append((path, why))
            done.pop(rel, None)
        else:
            done[rel] = {**row, "source": _stamp(Path(path))}
        if k % 100 == 0:
            _write_manifest(dst, manifest)             # a kill loses at most the videos since
    _write_manifest(dst, manifest)
    return {"videos": len(files), "prepared": len(todo) - len(bad), "skipped": len(files) - len(todo), "bad": bad,
            "short_side": short_side, "dst": str(dst)}


def _run(jobs, workers: int, progress: bool):
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(jobs), desc="prepare-videos", unit="video")
    try:
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(workers) as ex:
                for r in ex.map(_job, jobs, chunksize=4):
                    if bar is not None:
                        bar.update(1)
                    yield r
        else:
            for j in jobs:
                r = _job(j)
                if bar is not None:
                    bar.update(1)
                yield r
    finally:
        if bar is not None:
            bar.close()
