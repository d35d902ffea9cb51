"""Checkpoints: atomic writes with ordinary permissions, ``weights_only`` loads with one-line errors,
warm starts that report what did not match.

A checkpoint is written to a temporary file beside its target (``.<name>.<random>.tmp``),
flushed, fsynced and renamed over the target, so a kill at any moment leaves the old file or the
new one, never a torn one. The temporary file is created by :func:`tempfile.mkstemp` (mode 0600)
and given the mode an ordinary ``open`` would give (``0666 & ~umask``) before the rename: run
files are readable by whoever may read the run store (issue #13, item 6). A killed writer can
leave its temporary file behind; :func:`vipar_lib.engine.runs.clean_stray_temps` removes them when
the run resumes.

Loads use ``weights_only=True`` (no code from pickles). A damaged file raises
:class:`~vipar_lib.engine.errors.CheckpointError` naming the file and what to do, never torch's
raw message (which advises ``weights_only=False``).
"""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

import torch

from ..paths import portable, resolve
from .errors import CheckpointError, RunDirError

__all__ = ["save_atomic", "load_checkpoint", "checkpoint_epoch", "warm_start", "resolve_checkpoint",
           "ordinary_mode", "CheckpointError"]

_UMASK_LOCK = threading.Lock()


def ordinary_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: ``0o666 & ~umask``."""
    with _UMASK_LOCK:                   # reading the umask means setting it; keep that atomic within the process
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def mkstemp_ordinary(path: Path, text: bool = False) -> tuple[int, str]:
    """``mkstemp`` beside ``path`` (``.<name>.<random>.tmp``) with the ordinary mode; errors name the folder."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent, text=text)
    except PermissionError as e:
        raise RunDirError(f"{path.parent}: cannot write here ({e.strerror}); make it writable or use another "
                          f"runs_dir") from None
    except OSError as e:
        raise RunDirError(f"{path.parent}: cannot write here ({e.strerror})") from None
    os.fchmod(fd, ordinary_mode())
    return fd, tmp


def save_atomic(obj, path, before_replace: Callable[[Path], None] | None = None) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A kill at any moment leaves either the old file or the new one, never a torn one.
    ``before_replace(tmp)`` runs after the temporary file is complete and before the rename
    (the fault-injection hook of the kill tests).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = mkstemp_ordinary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _damaged(path: Path, why: str) -> CheckpointError:
    why = " ".join(why.split())[:120]
    if path.name == "last.pt":
        todo = "resume from best.pt instead (vipar train --resume-from best) or delete last.pt to start the run over"
    elif path.name == "best.pt":
        todo = ("delete best.pt (the next validation writes it again) or use last.pt (vipar train --resume-from "
                "last; vipar evaluate --checkpoint last)")
    else:
        todo = "replace or delete it"
    return CheckpointError(f"{path}: damaged checkpoint ({why}); {todo}")


def load_checkpoint(path, map_location="cpu", mmap: bool = False) -> dict:
    """Load a checkpoint with ``weights_only=True``; a damaged file raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except PermissionError as e:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({e.strerror})") from None
    except Exception as e:              # zip/pickle errors from a truncated or garbled file
        first = str(e).split(". ")[0].splitlines()[0] if str(e) else type(e).__name__
        raise _damaged(path, first) from None
    if not isinstance(ck, dict) or not isinstance(ck.get("model"), dict):
        raise _damaged(path, "not a vipar checkpoint: no 'model' state dict")
    return ck


def checkpoint_epoch(path) -> int | None:
    """The ``epoch`` a checkpoint records, read without loading its tensors; None if unreadable."""
    try:
        ck = load_checkpoint(path, mmap=True)
    except (CheckpointError, FileNotFoundError, OSError):
        return None
    e = ck.get("epoch")
    return int(e) if isinstance(e, int) else None


def resolve_checkpoint(ref) -> Path:
    """A run directory (its ``best.pt``, else ``last.pt``) or a checkpoint file; stored paths are resolved."""
    p = resolve(ref)
    if p.is_dir():
        for name in ("best.pt", "last.pt"):
            if (p / name).is_file():
                return p / name
        raise FileNotFoundError(f"{p}: run directory has no best.pt or last.pt")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such run directory or checkpoint")
    return p


def warm_start(model: torch.nn.Module, ref) -> dict:
    """Load the weights of ``ref`` whose names and shapes match; report the rest.

    Used for the paper's staged training (TSM single-frame -> 16 frames; SlowFast base ->
    added modules). Returns ``{"source", "loaded", "missing", "unexpected", "shape_mismatch"}``;
    ``source`` is stored portable (repository-relative when inside it) so the report moves with
    the run store.
    """
    src = resolve_checkpoint(ref)
    state = load_checkpoint(src)["model"]
    own = model.state_dict()
    loaded, mismatch = [], []
    for k, v in state.items():
        if k in own and own[k].shape == v.shape:
            own[k] = v
            loaded.append(k)
        elif k in own:
            mismatch.append(f"{k}: {tuple(v.shape)} -> {tuple(own[k].shape)}")
    model.load_state_dict(own)
    return {"source": portable(src), "loaded": len(loaded), "missing": sorted(set(own) - set(state)),
            "unexpected": sorted(set(state) - set(own)), "shape_mismatch": mismatch}
