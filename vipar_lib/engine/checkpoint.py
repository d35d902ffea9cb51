"""Checkpoints: atomic writes, ``weights_only`` loads, warm starts that report what did not match."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

__all__ = ["save_atomic", "load_checkpoint", "warm_start", "resolve_checkpoint"]


def save_atomic(obj, path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A kill at any moment leaves either the old file or the new one, never a torn one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code from pickles)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    return torch.load(path, map_location=map_location, weights_only=True)


def resolve_checkpoint(ref) -> Path:
    """A run directory (its ``best.pt``, else ``last.pt``) or a checkpoint file."""
    p = Path(ref)
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
    added modules). Returns ``{"source", "loaded", "missing", "unexpected", "shape_mismatch"}``.
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
    return {"source": str(src), "loaded": len(loaded), "missing": sorted(set(own) - set(state)),
            "unexpected": sorted(set(state) - set(own)), "shape_mismatch": mismatch}
