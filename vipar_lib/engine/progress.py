"""The engine's one progress-bar helper (training epochs, evaluation videos): change how bars
render (notebooks, logs) here and nowhere else."""
from __future__ import annotations

__all__ = ["bar"]


def bar(total, desc, on: bool, unit: str = "step"):
    """A tqdm bar (``tqdm.auto``: a widget in notebooks), or None when ``on`` is false."""
    if not on:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit=unit, leave=False)
