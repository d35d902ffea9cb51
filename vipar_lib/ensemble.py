"""Ensembles of pre-softmax logits (Table 4), the challenge's submission file and its metric.

* :func:`combine` sums (optionally weighted) logits of several files after matching videos by id
  and classes by name (:func:`vipar_lib.logits.align`); files whose videos, classes, labels or
  splits differ are refused, naming what differs where.
* :func:`greedy_search` picks members on one split (validation) and reports them on another
  (test), so nothing is tuned on test: forward selection with replacement (Caruana et al. 2004),
  stopping when the validation mean per-class accuracy no longer improves.
* :func:`write_submission` writes ``clip.avi c1 c2 c3 c4 c5`` with the challenge's class ids;
  :func:`score_submission` computes top-1/3/5 **mean per-class** accuracy against a ground-truth
  file of ``clip.avi class_id`` lines. Only the first five predictions count; a missing clip, an
  unparsable or out-of-range class counts as wrong and never stops the scoring.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .logits import LogitsError, LogitsFile, align, load_logits
from .metrics import mean_class_accuracy, top1, topk_mean_class_accuracy

__all__ = ["EnsembleError", "combine", "ensemble_files", "greedy_search", "write_submission", "read_ground_truth",
           "score_submission", "write_ground_truth"]


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
    total = sum(w * l.astype(np.float64) for w, l in zip(weights, al.logits))
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


def write_submission(lf: LogitsFile, out, class_ids: Sequence[int] | None = None, k: int = 5) -> Path:
    """``clip.avi c1 ... ck`` per video with challenge class ids (1-based), best first."""
    ids = list(class_ids or lf.meta.get("class_ids") or range(1, lf.logits.shape[1] + 1))
    scores = np.nan_to_num(lf.logits.astype(np.float64), nan=-np.inf)
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{v} {' '.join(str(ids[c]) for c in row)}\n" for v, row in zip(lf.video, ranked)))
    return out


def read_ground_truth(path) -> dict[str, int]:
    gt = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not parts[1].isdigit():
            raise ValueError(f"{path}:{n}: expected '<clip.avi> <class id>', got {line!r}")
        gt[parts[0]] = int(parts[1])
    return gt


def write_ground_truth(lf: LogitsFile, out, class_ids: Sequence[int] | None = None) -> Path:
    """The challenge's ground-truth format for the labelled videos of a logits file."""
    ids = list(class_ids or lf.meta.get("class_ids") or range(1, lf.logits.shape[1] + 1))
    out = Path(out)
    out.write_text("".join(f"{v} {ids[y]}\n" for v, y in zip(lf.video, lf.label) if y >= 0))
    return out


def score_submission(sub_path, gt_path, num_classes: int | None = None) -> dict:
    """Top-1/3/5 mean per-class accuracy of a submission file against ground truth."""
    gt = read_ground_truth(gt_path)
    n_cls = num_classes or max(gt.values())
    preds: dict[str, list[int]] = {}
    malformed = 0
    for line in Path(sub_path).read_text(errors="replace").splitlines():
        parts = line.split()
        if not parts:
            continue
        row = []
        for tok in parts[1:6]:
            try:
                c = int(tok)
            except ValueError:
                c = -1
                malformed += 1
            row.append(c if 1 <= c <= n_cls else -1)
        preds.setdefault(parts[0], row)
    videos = sorted(gt)
    ranked = np.full((len(videos), 5), -1)
    for i, v in enumerate(videos):
        r = preds.get(v, [])
        ranked[i, :len(r)] = r
    labels = np.array([gt[v] for v in videos])
    res = {f"top{k}": topk_mean_class_accuracy(ranked, labels, k) for k in (1, 3, 5)}
    res.update(videos=len(videos), missing=sum(v not in preds for v in videos), malformed_tokens=malformed,
               top1_overall=float(np.mean(ranked[:, 0] == labels)) if len(videos) else float("nan"))
    return res
