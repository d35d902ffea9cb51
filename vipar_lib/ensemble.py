"""Ensembles of pre-softmax logits (Table 4).

* :func:`combine` sums (optionally weighted) logits of several files after matching videos by id
  and classes by name (:func:`vipar_lib.logits.align`); files whose videos, classes, labels or
  splits differ are refused, naming what differs where.
* :func:`greedy_search` picks members on one split (validation) and reports them on another
  (test), so nothing is tuned on test: forward selection with replacement (Caruana et al. 2004),
  stopping when the validation mean per-class accuracy no longer improves.

The challenge's submission and ground-truth files and its metric live in :mod:`vipar_lib.challenge`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .logits import LogitsError, LogitsFile, align, load_logits
from .metrics import mean_class_accuracy, top1

__all__ = ["EnsembleError", "combine", "ensemble_files", "greedy_search"]


class EnsembleError(LogitsError):
    """Logits files that cannot be combined; the message names the files and videos."""


def combine(files: Sequence[LogitsFile], weights: Sequence[float] | None = None,
            names: Sequence[str] | None = None) -> LogitsFile:
    """Weighted sum of pre-softmax logits; videos matched by id (output sorted by id)."""
    if not files:
        raise EnsembleError("no logits files to combine")
    names = list(names or [f"file {i}" for i in range(len(files))])
    weights = list(weights) if weights is not None else [1.0] * len(files)
    if len(weights) != len(files):
        raise EnsembleError(f"{len(weights)} weights for {len(files)} files")
    al = _align(files, names)
    total = sum(w * x.astype(np.float64) for w, x in zip(weights, al.logits))
    return LogitsFile(al.video, al.label, total.astype(np.float32), {"members": names, "weights": weights, **al.meta})


def _align(files, names):
    try:
        return align(files, names)
    except LogitsError as e:
        raise EnsembleError(str(e)) from None


def ensemble_files(paths: Sequence, weights=None) -> LogitsFile:
    return combine([load_logits(p) for p in paths], weights, [str(p) for p in paths])


def greedy_search(val: dict[str, LogitsFile], test: dict[str, LogitsFile], max_members: int = 10) -> dict:
    """Choose members on ``val`` by forward selection with replacement; report the same mix on ``test``.

    ``val`` and ``test`` map the same member names to logits files. Returns the chosen sequence,
    and for each step the validation and test mean per-class accuracy and top-1.
    """
    missing = sorted(set(val) ^ set(test))
    if missing:
        raise EnsembleError(f"members must be evaluated on both splits; unmatched: {missing}")
    names = sorted(val)
    al = _align([val[n] for n in names], names)
    val_al = dict(zip(names, al.logits))
    vlab = al.label
    chosen, steps, total, best = [], [], None, -1.0
    for _ in range(max_members):
        cand = []
        for n in names:
            t = val_al[n].astype(np.float64) if total is None else total + val_al[n]
            cand.append((mean_class_accuracy(t, vlab), top1(t, vlab), n))
        score, _, pick = max(cand, key=lambda c: (c[0], c[1]))
        if score <= best + 1e-12:
            break
        best = score
        chosen.append(pick)
        total = val_al[pick].astype(np.float64) if total is None else total + val_al[pick]
        members = sorted(set(chosen))
        weights = [chosen.count(m) for m in members]
        te = combine([test[m] for m in members], weights, members)
        steps.append({"step": len(chosen), "added": pick, "val_mean_class": score,
                      "val_top1": top1(total, vlab), "test_mean_class": te.mean_class, "test_top1": te.top1})
    return {"chosen": chosen, "steps": steps}
