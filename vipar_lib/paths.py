"""Paths inside the repository are stored relative to it; everything else stays absolute.

Run configs, split folders and logits metadata hold *portable* paths (:func:`portable`), and
every reader turns them back into real ones with :func:`resolve`. A run store copied to
another checkout, or a checkout that moved, is therefore found and reused as it is: the run
hash covers the relative form.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from . import REPO_DIR

__all__ = ["resolve", "portable", "write_atomic"]


def resolve(p, base: Path | None = None) -> Path:
    """A stored path -> a usable one: relative paths are relative to ``base`` (the repository)."""
    p = Path(p).expanduser()
    return p if p.is_absolute() else Path(base or REPO_DIR) / p


def portable(p, base: Path | None = None) -> str:
    """The form to store: relative to ``base`` (the repository) when inside it, else absolute."""
    if p in (None, ""):
        return ""
    base = Path(base or REPO_DIR).resolve()
    full = resolve(p, base).resolve()
    try:
        return full.relative_to(base).as_posix()
    except ValueError:
        return str(full)


def write_atomic(path, data: bytes | str) -> Path:
    """Write ``data`` to a uniquely named ``.<name>.<pid>.<random>.tmp`` beside ``path`` (the mode ``open``
    would give: ``0o666`` less the umask), fsync it, and rename it over ``path``: a reader, or a process
    killed at any moment, sees the old file or the new one, never a torn one. The project's one writer of
    small files (run-store JSON and YAML, split lists, dataset markers, the page status)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
