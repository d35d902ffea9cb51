"""Accuracy metrics. The challenge ranks by **mean per-class accuracy** (top-1 averaged over classes)."""
from __future__ import annotations

import numpy as np

__all__ = ["predictions", "top1", "mean_class_accuracy", "per_class_accuracy", "topk_mean_class_accuracy",
           "bootstrap_ci", "confusion_matrix"]


def predictions(logits: np.ndarray) -> np.ndarray:
    """argmax per row; rows holding NaN (videos that could not be decoded) predict -1 (always wrong)."""
    logits = np.asarray(logits, dtype=np.float64)
    pred = np.argmax(np.nan_to_num(logits, nan=-np.inf), axis=1)
    pred[np.isnan(logits).any(axis=1)] = -1
    return pred


def top1(logits, labels) -> float:
    labels = np.asarray(labels)
    return float(np.mean(predictions(logits) == labels)) if len(labels) else float("nan")


def per_class_accuracy(pred, labels, num_classes: int | None = None) -> np.ndarray:
    """Recall of each class present in ``labels`` (NaN for classes without videos)."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    c = num_classes or (int(labels.max()) + 1 if len(labels) else 0)
    out = np.full(c, np.nan)
    for k in range(c):
        m = labels == k
        if m.any():
            out[k] = np.mean(pred[m] == k)
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
    pred = predictions(logits)
    cm = np.zeros((num_classes, num_classes), int)
    for p, y in zip(pred, labels):
        if p >= 0:
            cm[y, p] += 1
    return cm


def bootstrap_ci(logits, labels, metric=top1, n: int = 1000, seed: int = 0, alpha: float = 0.05):
    """Percentile bootstrap over videos: (low, high) of ``metric`` at 1-alpha."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(labels), len(labels))
        vals.append(metric(logits[i], labels[i]))
    return float(np.nanpercentile(vals, 100 * alpha / 2)), float(np.nanpercentile(vals, 100 * (1 - alpha / 2)))
