"""Accuracy metrics and their intervals, on plain arrays (numpy only).

The challenge ranks by **mean per-class accuracy** (top-1 averaged over classes). A row of NaN
logits is a video that could not be decoded: it predicts nothing and counts as wrong.

**Ties count against the model** (pessimistic): a row whose highest score is shared by several
classes predicts nothing (:func:`predictions` gives -1), and for top-k the true class is a hit only
when fewer than ``k`` other classes score *at least* as high as it. So a constant row (all zeros,
say) is never right: it scores 0, at or below chance, never 100% top-5.

Intervals are percentile bootstraps over videos; :func:`paired_difference` resamples the same
videos for both members of a pair, so the interval is that of the *difference*.
"""
from __future__ import annotations

import numpy as np

__all__ = ["decimals", "predictions", "top1", "topk_accuracy", "per_class_accuracy", "mean_class_accuracy",
           "topk_mean_class_accuracy", "confusion_matrix", "bootstrap_ci", "bootstrap_mean",
           "paired_difference"]


def predictions(logits: np.ndarray) -> np.ndarray:
    """argmax per row; rows holding NaN (videos that could not be decoded) and rows whose maximum is
    shared by several classes (a tie) predict -1 (always wrong)."""
    logits = np.asarray(logits, dtype=np.float64)
    scores = np.nan_to_num(logits, nan=-np.inf)
    pred = np.argmax(scores, axis=1)
    if scores.size:
        tied = (scores == scores[np.arange(len(scores)), pred][:, None]).sum(axis=1) > 1
        pred[tied] = -1
    pred[np.isnan(logits).any(axis=1)] = -1
    return pred


def top1(logits, labels) -> float:
    labels = np.asarray(labels)
    return float(np.mean(predictions(logits) == labels)) if len(labels) else float("nan")


def topk_accuracy(logits, labels, k: int) -> float:
    """Fraction of videos whose label is among the ``k`` highest scores: fewer than ``k`` other classes
    score at least as high as the label (ties count wrong); NaN rows and unknown labels count wrong."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if not len(labels):
        return float("nan")
    known = labels >= 0
    true = logits[np.arange(len(labels)), np.where(known, labels, 0)]
    rivals = (logits >= true[:, None]).sum(axis=1) - 1          # other classes at least as high
    hit = known & np.isfinite(true) & ~np.isnan(logits).any(1) & (rivals < k)
    return float(hit.mean())


def per_class_accuracy(pred, labels, num_classes: int | None = None) -> np.ndarray:
    """Recall of each class present in ``labels`` (NaN for classes without videos)."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    c = num_classes or (int(labels.max()) + 1 if len(labels) else 0)
    out = np.full(c, np.nan)
    valid = labels >= 0
    hits = np.bincount(labels[valid], weights=(pred[valid] == labels[valid]), minlength=c)[:c]
    counts = np.bincount(labels[valid], minlength=c)[:c]
    has = counts > 0
    out[has] = hits[has] / counts[has]
    return out


def mean_class_accuracy(logits, labels) -> float:
    """The challenge metric: the mean over classes of per-class top-1 accuracy."""
    acc = per_class_accuracy(predictions(logits), labels, np.asarray(logits).shape[1])
    return float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan")


def topk_mean_class_accuracy(ranked: np.ndarray, labels, k: int) -> float:
    """``ranked`` (N, >=k) class predictions, best first: mean over classes of top-k hits."""
    labels = np.asarray(labels)
    hit = (np.asarray(ranked)[:, :k] == labels[:, None]).any(1)
    accs = [hit[labels == c].mean() for c in np.unique(labels)]
    return float(np.mean(accs)) if accs else float("nan")


def confusion_matrix(logits, labels, num_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]``; undecodable videos (prediction -1) are left out."""
    pred, labels = predictions(logits), np.asarray(labels)
    ok = (pred >= 0) & (labels >= 0)
    return np.bincount(labels[ok] * num_classes + pred[ok], minlength=num_classes * num_classes
                       ).reshape(num_classes, num_classes)


def bootstrap_ci(logits, labels, metric=top1, n: int = 1000, seed: int = 0, alpha: float = 0.05):
    """Percentile bootstrap over videos of any ``metric(logits, labels)``: (low, high) at 1-alpha."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(labels), len(labels))
        vals.append(metric(logits[i], labels[i]))
    return float(np.nanpercentile(vals, 100 * alpha / 2)), float(np.nanpercentile(vals, 100 * (1 - alpha / 2)))


def bootstrap_mean(values, n: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-video ``values`` (e.g. 0/1 correctness)."""
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(v), (n, len(v)))
    means = v[idx].mean(1)
    return float(np.percentile(means, 100 * alpha / 2)), float(np.percentile(means, 100 * (1 - alpha / 2)))


def paired_difference(logits_a, logits_b, labels, n: int = 1000, seed: int = 0,
                      alpha: float = 0.05) -> tuple[float, float, float]:
    """Top-1 of ``a`` minus ``b`` on the same videos, and its paired percentile-bootstrap interval."""
    labels = np.asarray(labels)
    d = (predictions(logits_a) == labels).astype(float) - (predictions(logits_b) == labels).astype(float)
    lo, hi = bootstrap_mean(d, n, seed, alpha)
    return float(d.mean()), lo, hi


def decimals(width: float) -> int:
    """Decimals a percentage deserves when its 95% interval is ``width`` points wide (0, 1 or 2)."""
    if not np.isfinite(width) or width >= 10:
        return 0
    return 1 if width >= 1 else 2
