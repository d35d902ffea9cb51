"""Accuracy metrics and their intervals, on plain arrays (numpy only).

The challenge ranks by **mean per-class accuracy** (top-1 averaged over classes). A row of NaN
logits is a video that could not be decoded: it predicts nothing and counts as wrong.

**Ties count against the model** (pessimistic): a row whose highest score is shared by several
classes predicts nothing (:func:`predictions` gives -1), and for top-k the true class is a hit only
when fewer than ``k`` other classes score *at least* as high as it. So a constant row (all zeros,
say) is never right: it scores 0, at or below chance, never 100% top-5.

Every interval says what it resamples:

* **test videos only** — :func:`bootstrap_mean`, :func:`paired_difference`:
  percentile bootstraps over the test videos of *one* run (a pair resamples the same videos for both
  members, so the interval is that of the *difference*). They treat the trained weights as fixed: a
  rerun with another seed is not inside them.
* **seeds and test videos** — :func:`seed_video_interval`, for rows trained with several seeds::

      per-video values x[s, v]   (s: seed, v: test video; a difference a - b is paired by seed and video)
            │
            ├── between seeds:  m_s = mean_v x[s, v]        ──► s²_seed / S          (S - 1 df)
            └── between videos: x̄_v = mean_s x[s, v]        ──► s²_video / N         (N - 1 df)
                                                                    │
      estimate  mean_s m_s  ±  t(df) · sqrt(s²_seed / S + s²_video / N),  df by Welch–Satterthwaite

  The seed term is the spread a rerun with another seed brings; the video term is that of a fixed
  test set drawn from the population of videos, which more seeds cannot shrink. (Both terms hold
  the seed × video interaction once more, so the interval errs wide.) We use this variance-component
  *t* interval rather than a two-level percentile bootstrap because with 2–5 seeds a bootstrap over
  seeds sees only a handful of distinct resamples and covers less often than it says when seed noise
  dominates (``tests/test_seed_stats.py`` measures both). With one seed it is the video bootstrap,
  labelled *test videos only*.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "seed_video_interval", "t_quantile", "discordance_halfwidth", "SEEDS_AND_VIDEOS",
           "VIDEOS_ONLY", "power_of", "min_detectable_effect", "seeds_needed", "decimals", "predictions", "top1",
           "topk_accuracy", "per_class_accuracy", "mean_class_accuracy", "topk_mean_class_accuracy",
           "confusion_matrix", "VideoBootstrap", "correct", "class_mean", "bootstrap_mean",
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


class VideoBootstrap:
    """The percentile bootstrap over videos: one set of ``n`` resamples of ``N`` videos, shared by every metric.

    The project's one bootstrap: :func:`bootstrap_mean`, :func:`paired_difference`
    and the released-logits analyses all draw from it. ``idx`` (``n x N``) holds the resampled video
    indices; ``W`` how often each video is drawn in each resample (built when first needed), so a mean
    of per-video values is ``W @ v / N`` and every file is scored on the very same resamples (paired by
    construction). With ``labels``, :meth:`mean_class` gives each resample's mean per-class accuracy
    (a class absent from a resample is skipped). Resamples: test videos only.
    """

    def __init__(self, n_videos: int, n: int = 1000, seed: int = 0, alpha: float = 0.05, labels=None):
        if int(n) < 1:
            raise ValueError(f"bootstrap resamples must be >= 1, got {n}")
        self.n, self.N, self.alpha = int(n), int(n_videos), alpha
        self.idx = np.random.default_rng(seed).integers(0, self.N, (self.n, self.N))
        self._W = None
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None:
            if (self.labels < 0).any():
                raise ValueError("a per-class bootstrap needs every video labelled")
            self.order = np.argsort(self.labels, kind="stable")           # videos grouped by class
            srt = self.labels[self.order]
            self.starts = np.flatnonzero(np.r_[True, srt[1:] != srt[:-1]])
            self._w_by_class = self.W[:, self.order]                       # made once, not per file
            self.totals = np.add.reduceat(self._w_by_class, self.starts, axis=1)
            self.totals[self.totals == 0] = np.nan
        self._memo: dict = {}

    @property
    def W(self) -> np.ndarray:
        if self._W is None:
            flat = (self.idx + self.N * np.arange(self.n)[:, None]).ravel()
            self._W = np.bincount(flat, minlength=self.n * self.N).reshape(self.n, self.N).astype(np.float64)
        return self._W

    def mean(self, values) -> np.ndarray:
        """Each resample's mean of per-video ``values``."""
        return self.W @ np.asarray(values, dtype=np.float64) / self.N

    top1 = mean                                            # of per-video correctness

    def mean_class(self, correct) -> np.ndarray:
        """Each resample's mean over classes of per-class accuracy (per-video 0/1 ``correct``)."""
        c = np.asarray(correct, np.float64)[self.order]
        key = hashlib.sha1(c.tobytes()).digest()          # the same correctness vector is scored once
        if key not in self._memo:
            hits = np.add.reduceat(self._w_by_class * c, self.starts, axis=1)
            self._memo[key] = np.nanmean(hits / self.totals, axis=1)
        return self._memo[key]

    def interval(self, values) -> tuple[float, float]:
        """The percentile interval of per-resample ``values`` at 1 - alpha."""
        lo, hi = np.nanpercentile(values, [100 * self.alpha / 2, 100 * (1 - self.alpha / 2)])
        return float(lo), float(hi)


def correct(logits, labels) -> np.ndarray:
    """Per video, 1.0 when the prediction (:func:`predictions`: ties and NaN rows never right) is the label."""
    return (predictions(logits) == np.asarray(labels)).astype(np.float64)


def class_mean(values, labels, num_classes: int | None = None) -> float:
    """The mean over the classes present in ``labels`` of the per-class mean of per-video ``values``."""
    labels = np.asarray(labels)
    valid = labels >= 0
    c = num_classes or (int(labels.max()) + 1 if valid.any() else 0)
    hits = np.bincount(labels[valid], weights=np.asarray(values, np.float64)[valid], minlength=c)
    cnt = np.bincount(labels[valid], minlength=c)
    has = cnt > 0
    return float(np.mean(hits[has] / cnt[has])) if has.any() else float("nan")


def bootstrap_mean(values, n: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-video ``values`` (e.g. 0/1 correctness)."""
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return float("nan"), float("nan")
    b = VideoBootstrap(len(v), n, seed, alpha)
    return b.interval(b.mean(v))


def paired_difference(logits_a, logits_b, labels, n: int = 1000, seed: int = 0,
                      alpha: float = 0.05) -> tuple[float, float, float]:
    """Top-1 of ``a`` minus ``b`` on the same videos, and its paired percentile-bootstrap interval."""
    labels = np.asarray(labels)
    d = (predictions(logits_a) == labels).astype(float) - (predictions(logits_b) == labels).astype(float)
    lo, hi = bootstrap_mean(d, n, seed, alpha)
    return float(d.mean()), lo, hi


def decimals(width: float) -> int:
    """Decimals a percentage deserves when its 95% interval is ``width`` points wide (0, 1 or 2).

    A zero-width interval (every seed and every resampled video set gives the same value, as for a
    view that changes no prediction) gets 1: more decimals would only print zeros.
    """
    if not np.isfinite(width) or width >= 10:
        return 0
    return 1 if width >= 1 or width == 0 else 2


# -- intervals over seeds and test videos ------------------------------------------------------------

SEEDS_AND_VIDEOS = "seeds and test videos"
VIDEOS_ONLY = "test videos only"


@dataclass(frozen=True)
class Interval:
    """An estimate (mean over seeds), its 1-alpha interval, and what the interval resamples."""

    estimate: float
    low: float
    high: float
    resamples: str                    # SEEDS_AND_VIDEOS | VIDEOS_ONLY
    per_seed: tuple[float, ...]       # the estimate of each seed, in the seeds' order
    seed_sd: float                    # between-seed SD of ``per_seed`` (NaN for one seed)
    df: float = float("inf")          # degrees of freedom of the t interval (inf: the video bootstrap)
    seed_var: float = float("nan")    # between-seed variance component (:func:`seed_variance_component`)

    @property
    def seeds(self) -> int:
        return len(self.per_seed)

    @property
    def resolved(self) -> bool:
        """The interval excludes 0."""
        return bool(self.low > 0 or self.high < 0)

    def scaled(self, k: float) -> "Interval":
        """The same interval in other units (e.g. ``k=100`` for percentage points)."""
        return Interval(k * self.estimate, k * self.low, k * self.high, self.resamples,
                        tuple(k * x for x in self.per_seed), abs(k) * self.seed_sd, self.df, k * k * self.seed_var)


def _t_cdf(x: float, df: float) -> float:
    """Student-t CDF by Simpson's rule on the density (x >= 0); the normal CDF for df = inf."""
    if not np.isfinite(df) or df > 1e6:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    n = 2000
    t = np.linspace(0.0, x, n + 1)
    f = c * (1 + t * t / df) ** (-(df + 1) / 2)
    h = x / n
    return 0.5 + h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` degrees of freedom (df >= 1; inf: normal)."""
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        lo, hi = hi, 2 * hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def seed_video_interval(a, b=None, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05,
                        bounds: tuple[float, float] | None = None) -> Interval:
    """Mean of ``a`` (or of the paired difference ``a - b``) with an interval over seeds and test videos.

    ``a``, ``b``: arrays ``(S, N)`` of per-video values (e.g. 0/1 correctness) of S seeds on the same N
    test videos in the same order; seed ``s`` of ``a`` is paired with seed ``s`` of ``b``. With S >= 2 the
    variance-component t interval of the module docstring (resamples: seeds and test videos); with
    S = 1 the percentile bootstrap over videos (``n_boot`` resamples; resamples: test videos only).
    ``bounds`` clips the interval to the values the estimate can take (e.g. (0, 1) for an accuracy).
    """
    x = np.atleast_2d(np.asarray(a, dtype=np.float64))
    if b is not None:
        x = x - np.atleast_2d(np.asarray(b, dtype=np.float64))
    s_count, n = x.shape
    per_seed = x.mean(1)
    est = float(per_seed.mean())
    if s_count == 1:
        lo, hi = bootstrap_mean(x[0], n_boot, seed, alpha)
        return Interval(est, lo, hi, VIDEOS_ONLY, (est,), float("nan"))
    v_seed = float(per_seed.var(ddof=1)) / s_count
    v_video = float(x.mean(0).var(ddof=1)) / n if n > 1 else 0.0
    var = v_seed + v_video
    if var <= 0:
        return Interval(est, est, est, SEEDS_AND_VIDEOS, tuple(map(float, per_seed)), 0.0, float("inf"), 0.0)
    den = (v_seed ** 2 / (s_count - 1) if v_seed else 0.0) + (v_video ** 2 / (n - 1) if v_video else 0.0)
    df = var ** 2 / den if den > 0 else float("inf")
    half = t_quantile(1 - alpha / 2, df) * math.sqrt(var)
    lo, hi = est - half, est + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return Interval(est, lo, hi, SEEDS_AND_VIDEOS, tuple(map(float, per_seed)), float(per_seed.std(ddof=1)), df,
                    seed_variance_component(x))


def seed_variance_component(x) -> float:
    """The between-seed variance of a per-seed mean, less the test-set noise that its spread also holds.

    ``x``: ``(S, N)`` per-video values of S >= 2 seeds on the same N videos. The spread of the S per-seed
    means holds the seed variance *plus* the seed × video interaction averaged over N videos, which is
    noise of this test set, not of training. Two-way ANOVA without replication: ``var(per-seed means) -
    MS_interaction / N``, with ``MS_interaction`` the mean square of ``x - seed mean - video mean + grand
    mean`` over (S-1)(N-1) df. What a power analysis on another test set should plan with. Unbiased, so
    it can be negative: pool several first, then clip at 0 (clipping each would bias the pool upwards).
    """
    x = np.asarray(x, dtype=np.float64)
    s_count, n = x.shape
    if s_count < 2 or n < 2:
        return float("nan")
    resid = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()
    ms_int = float((resid ** 2).sum()) / ((s_count - 1) * (n - 1))
    return float(x.mean(1).var(ddof=1)) - ms_int / n


def discordance_halfwidth(correct_a, correct_b, alpha: float = 0.05) -> tuple[float, float]:
    """(discordance, half-width): how often two classifiers disagree in correctness on the same videos, and
    the normal-approximation 1-alpha half-width of their paired top-1 difference on those N videos.

    With p10 (only ``a`` right) and p01 (only ``b`` right), the per-video difference has variance
    p10 + p01 - (p10 - p01)², so the half-width is z · sqrt(that / N): what one test set of this size
    allows a single comparison of two such classifiers to resolve.
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    p10, p01 = float(np.mean(a & ~b)), float(np.mean(~a & b))
    var = p10 + p01 - (p10 - p01) ** 2
    return p10 + p01, t_quantile(1 - alpha / 2, float("inf")) * math.sqrt(var / len(a))


# -- power: how many seeds a comparison needs --------------------------------------------------------

def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _effect_se(seed_sd: float, test_se: float, seeds: int) -> tuple[float, float]:
    """SE of a mean-over-seeds effect on one fixed test set, and the Welch–Satterthwaite df of its interval."""
    v_seed, v_test = seed_sd ** 2 / seeds, test_se ** 2
    var = v_seed + v_test
    den = (v_seed ** 2 / (seeds - 1) if seeds > 1 and v_seed else 0.0)
    return math.sqrt(var), (var ** 2 / den if den > 0 else float("inf"))


def power_of(delta: float, seed_sd: float, test_se: float, seeds: int, alpha: float = 0.05) -> float:
    """Probability that the interval of :func:`seed_video_interval` over ``seeds`` seeds excludes 0 on the side of
    a true effect ``delta`` (same units throughout).

    ``seed_sd``: between-seed SD of the effect; ``test_se``: its standard error from the test set alone (a
    fixed set of videos, which more seeds do not shrink). With one seed the interval covers test videos only
    (no seed term in its width), so this is the power of a single run's interval, seed noise included in
    the estimate: optimistic about what it resolves and blind to how often it resolves the wrong sign.
    """
    se, df = _effect_se(seed_sd, test_se, seeds)
    width_se = se if seeds > 1 else test_se
    if width_se <= 0:
        return 1.0 if delta else alpha / 2
    crit = t_quantile(1 - alpha / 2, df if seeds > 1 else float("inf")) * width_se
    return _normal_cdf((abs(delta) - crit) / se) if se > 0 else float(abs(delta) > crit)


def min_detectable_effect(seed_sd: float, test_se: float, seeds: int, power: float = 0.8,
                          alpha: float = 0.05) -> float:
    """The smallest true effect the seed-aware interval resolves with probability ``power`` at ``seeds`` seeds."""
    lo, hi = 0.0, 1.0
    while power_of(hi, seed_sd, test_se, seeds, alpha) < power:
        hi *= 2
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if power_of(mid, seed_sd, test_se, seeds, alpha) < power else (lo, mid)
    return hi


def seeds_needed(delta: float, seed_sd: float, test_se: float, power: float = 0.8, alpha: float = 0.05,
                 max_seeds: int = 20) -> int | None:
    """The fewest seeds (>= 2: a seed-aware interval needs two) whose interval resolves ``delta`` with probability
    ``power``; None when ``max_seeds`` do not (as seeds grow, the test set's own SE is the floor)."""
    for s in range(2, max_seeds + 1):
        if power_of(delta, seed_sd, test_se, s, alpha) >= power:
            return s
    return None
