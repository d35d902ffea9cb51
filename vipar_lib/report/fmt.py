"""How every number on a report page is written: one rounding rule, the same on every page.

* A percentage with a 95% interval (an accuracy, an effect in points) gets the decimals its own
  interval justifies, :func:`vipar_lib.metrics.decimals` of the interval's width (0 decimals from
  10 points wide, 1 from 1 point or at exactly 0, else 2); the estimate and both ends share them. So
  one effect reads the same on every page that shows it (Table 1, the findings, the summary, the
  index), whatever else the table holds.
* An *effect* whose interval excludes 0 (resolved) keeps as many more decimals as it takes for the
  end nearest 0 not to print as 0: ``[-1.13, -0.04]``, never ``[-1.1, -0.0]``.
* Numbers without an interval: the paper's numbers with their 1 printed decimal, counts as integers,
  ratios to chance with 1 decimal, model costs with 3 significant digits (never more than 4 decimals).
* Missing values print as ``–``.
"""
from __future__ import annotations

import math

from ..metrics import decimals

__all__ = ["num", "places", "interval", "with_ci", "per_seed", "sig", "MISSING", "MAX_DECIMALS"]

MISSING = "–"
MAX_DECIMALS = 4


def _missing(x) -> bool:
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def num(x, d: int = 1, sign: bool = False) -> str:
    """``x`` with ``d`` decimals (a leading sign when ``sign``); ``–`` when missing."""
    if _missing(x):
        return MISSING
    x = round(float(x), d) + 0.0        # -0.0 -> 0.0, and -0.2 at 0 decimals reads 0, not -0
    return f"{x:+.{d}f}" if sign else f"{x:.{d}f}"


def places(lo, hi, effect: bool = False, resolved: bool | None = None) -> int:
    """Decimals for an estimate whose 95% interval is ``[lo, hi]`` (points).

    ``effect``: a difference, judged against 0; when its interval excludes 0 (``resolved``, or
    ``lo > 0 or hi < 0`` when not given), the end nearest 0 keeps enough decimals not to print as 0.
    """
    if _missing(lo) or _missing(hi):
        return 1
    lo, hi = float(lo), float(hi)
    d = decimals(hi - lo)
    if effect:
        if resolved is None:
            resolved = lo > 0 or hi < 0
        edge = min(abs(lo), abs(hi))
        while resolved and d < MAX_DECIMALS and round(edge, d) == 0:
            d += 1
    return d


def interval(lo, hi, d: int, sign: bool = False) -> str:
    """``[lo, hi]`` with ``d`` decimals; empty when either end is missing."""
    if _missing(lo) or _missing(hi):
        return ""
    return f"[{num(lo, d, sign)}, {num(hi, d, sign)}]"


def with_ci(x, lo, hi, effect: bool = False, resolved: bool | None = None, unit: str = "") -> str:
    """``x [lo, hi]`` by the rule (``+x`` signed for an effect); ``x`` alone when the interval is missing."""
    d = places(lo, hi, effect, resolved)
    ci = interval(lo, hi, d, effect)
    return f"{num(x, d, effect)}{unit}" + (f" {ci}" if ci else "")


def per_seed(values, d: int, sign: bool = False) -> str:
    """Each seed's value at ``d`` decimals, ``a · b · c``; empty for a single run (nothing to show)."""
    return " · ".join(num(v, d, sign) for v in values) if values is not None and len(values) > 1 else ""


def sig(x, digits: int = 3) -> str:
    """A cost (parameters in millions, GFLOPs) with ``digits`` significant digits and at most 4 decimals."""
    if _missing(x):
        return MISSING
    x = float(x)
    if x == 0:
        return "0"
    d = max(0, min(MAX_DECIMALS, digits - 1 - math.floor(math.log10(abs(x)))))
    return f"{x:.{d}f}"
