"""What a dataset is: a content fingerprint of its split lists and videos, cached; and a lock for data folders.

A run's hash covers the identity of the data it trains on (issue #21), so a run trained on other
videos, or on other lists, is never taken for a finished one::

    fingerprint = sha1( each list file's name and bytes,
                        each listed video's path (relative to the video root) and the sha1 of its bytes )

* **Content, not dates.** Videos are identified by their bytes, so a copied dataset, checkout or
  run store (``cp -r`` gives every file a new mtime) has the same fingerprint and its runs are reused.
* **Cached.** The sha1 of a video is kept in a JSON cache (``.video-hashes.json``) under the key of
  its absolute path, size and mtime: a video is read again only when one of them changed, so a
  large dataset is hashed once (UCF101's 6.5 GB once; every later call only stats its 13,320
  files). A copy is hashed once more, at its new place. A cache that cannot be written (a
  read-only folder) is skipped: the fingerprint is the same, only slower.
* A listed video that does not exist enters as ``missing``; a list that does not exist as ``<missing>``.

:func:`split_fingerprint` fingerprints a ``vipar split`` folder and the videos its lists name (the
engine adds it to a user's run config: :func:`content_id`); :func:`fingerprint` any lists and
videos (the study uses it for UCF101 and the challenge layout). :func:`folder_lock` serialises
writers of one data folder (the synthetic generator, the study's split) across processes: a
second process waits for the first, then finds its work done.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Iterable, Sequence

from ..paths import write_atomic
from .splits import SplitError

__all__ = ["fingerprint", "split_fingerprint", "video_hashes", "listed_videos", "content_id", "content_tag",
           "folder_lock", "DatasetChangedError", "CACHE_NAME", "SPLIT_LISTS"]

CACHE_NAME = ".video-hashes.json"
SPLIT_LISTS = ("classInd.txt", "train.txt", "validation.txt", "test.txt")
_TAG = "split+videos sha1 "
_TAG_RE = re.compile(re.escape(_TAG) + r"([0-9a-f]{16})")
_PROGRESS_FROM = 200                # a progress bar when at least this many videos must be read


class DatasetChangedError(SplitError):
    """The data a run was trained on changed since; the message names the run and what to do."""


@contextlib.contextmanager
def folder_lock(folder: Path):
    """Hold an exclusive ``flock`` on ``folder/.lock`` for the ``with`` block; a second holder waits.

    In a folder this process cannot write (a shared, read-only data root or run store) nobody can be
    writing through it either: the lock is then taken on an existing lock file opened for reading,
    or not at all, and whatever would be written raises its own error.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        try:
            fd = os.open(folder / ".lock", os.O_RDONLY)
        except OSError:
            yield folder
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        os.close(fd)                    # closing the descriptor releases the lock


def _load_cache(cache: Path | None) -> dict:
    try:
        d = json.loads(Path(cache).read_text()) if cache is not None else {}
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def _save_cache(cache: Path | None, d: dict) -> None:
    if cache is None:
        return
    with contextlib.suppress(OSError):
        write_atomic(cache, json.dumps(d, separators=(",", ":")).encode())


def _sha1(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def video_hashes(video_root: Path, videos: Iterable[str], cache: Path | None = None,
                 progress: bool = True) -> dict[str, str]:
    """``{relative path: sha1 of its bytes, or "missing"}``, reading only videos the cache does not know."""
    root = Path(video_root)
    base = root.resolve()
    known = _load_cache(cache)
    out, todo = {}, []
    for rel in sorted(set(videos)):
        p = root / rel
        try:
            st = p.stat()
        except OSError:
            out[rel] = "missing"
            continue
        key = f"{base}/{rel}"
        hit = known.get(key)
        if isinstance(hit, list) and hit[:2] == [st.st_size, st.st_mtime_ns]:
            out[rel] = hit[2]
        else:
            todo.append((rel, p, key, st))
    it = todo
    if progress and len(todo) >= _PROGRESS_FROM:
        from tqdm.auto import tqdm
        it = tqdm(todo, desc="hashing videos (once; cached)", unit="video")
    for rel, p, key, st in it:
        try:
            digest = _sha1(p)
        except OSError:
            out[rel] = "missing"
            continue
        out[rel] = digest
        known[key] = [st.st_size, st.st_mtime_ns, digest]
    if todo:
        _save_cache(cache, known)
    return out


def fingerprint(lists: Sequence[Path], video_root: Path, videos: Iterable[str], cache: Path | None = None,
                progress: bool = True) -> str:
    """16 hex digits of sha1 over the lists' names and bytes and each video's relative path and sha1."""
    h = hashlib.sha1()
    for f in lists:
        f = Path(f)
        h.update(f"{f.name}\0".encode())
        try:
            h.update(f.read_bytes())
        except OSError:
            h.update(b"<missing>")
        h.update(b"\0")
    for rel, digest in sorted(video_hashes(video_root, videos, cache, progress).items()):
        h.update(f"{rel}\0{digest}\n".encode())
    return h.hexdigest()[:16]


def listed_videos(files: Iterable[Path]) -> list[str]:
    """The first field of every line of the split lists (their video paths), ``\\`` read as ``/``."""
    out = []
    for f in files:
        try:
            text = Path(f).read_bytes().decode("utf-8-sig", errors="replace")    # as splits.read_list: no BOM
        except OSError:
            continue
        out += [ln.split()[0].replace("\\", "/") for ln in text.splitlines() if ln.split()]
    return out


def split_fingerprint(split_dir: Path, video_root: Path, cache: Path | None = None, progress: bool = True) -> str:
    """The fingerprint of a ``vipar split`` folder's lists and of every video they name, under ``video_root``.

    ``cache`` defaults to ``split_dir/.video-hashes.json``.
    """
    split_dir = Path(split_dir)
    lists = [split_dir / n for n in SPLIT_LISTS]
    return fingerprint(lists, video_root, listed_videos(lists[1:]), split_dir / CACHE_NAME if cache is None else cache,
                       progress)


def content_tag(dataset_id: str) -> str | None:
    """The split+videos fingerprint a run's ``dataset_id`` carries (None for a study's descriptive id)."""
    m = _TAG_RE.search(dataset_id or "")
    return m.group(1) if m else None


def content_id(dataset_id: str, split_dir: Path, video_root: Path, progress: bool = True) -> str:
    """``dataset_id`` with the current split+videos fingerprint: appended to a user's id (or to ""), or replacing
    an older fingerprint."""
    fp = split_fingerprint(split_dir, video_root, progress=progress)
    base = _TAG_RE.sub("", dataset_id or "").rstrip("; ")
    return f"{base}; {_TAG}{fp}" if base else f"{_TAG}{fp}"
