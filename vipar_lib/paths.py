"""Paths inside the repository are stored relative to it; everything else stays absolute.

Run configs, split folders and logits metadata hold *portable* paths (:func:`portable`), and
every reader turns them back into real ones with :func:`resolve`. A run store copied to
another checkout, or a checkout that moved, is therefore found and reused as it is: the run
hash covers the relative form.
"""
from __future__ import annotations

from pathlib import Path

from . import REPO_DIR

__all__ = ["resolve", "portable"]


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
