"""Which synthetic classes a test-time view turns into another class (notebook 03's label-preservation text).

The data layer's tables (``REVERSE_OF``, ``MIRROR_OF``), restricted to the classes a run actually has;
a module of its own, so :mod:`.pages` imports it without an import cycle.
"""
from __future__ import annotations

__all__ = ["relabelled_by_view"]


def relabelled_by_view(classes: list[str]) -> dict[str, list[str]]:
    """For the ``reverse`` and ``flip`` views: the pairs among ``classes`` that the view turns into each other
    (``MoveLeft↔MoveRight``), and ``A→B`` where B is not one of ``classes``. Only the run's own classes."""
    from ..data.synth import MIRROR_OF, REVERSE_OF
    out = {}
    for view, of in (("reverse", REVERSE_OF), ("flip", MIRROR_OF)):
        pairs, seen = [], set()
        for c in classes:
            o = of.get(c, c)
            if o == c or c in seen:
                continue
            seen |= {c, o}
            pairs.append(f"{c}↔{o}" if o in classes else f"{c}→{o}")
        out[view] = pairs
    return out
