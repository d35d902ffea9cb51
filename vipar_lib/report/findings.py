"""The paper's findings (data in ``paper_tables.yaml``), checked against this run.

A finding compares two rows on the same test videos: ``a`` minus ``b``. For each, this run's
difference with a paired 95% bootstrap interval; the finding is **resolved** when the interval
excludes 0, and then **agrees** when its sign is the paper's. A finding that is not resolved says
nothing either way, whatever the point estimate.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..paper import findings as paper_findings
from ..paper import row_ref
from ..study.plan import Plan
from . import fmt
from .results import resolve_ref, row_logits
from .tables import paired_difference

__all__ = ["check_findings", "style_findings", "tally"]


def check_findings(plan: Plan, table: str | None = None, headline: bool | None = None) -> pd.DataFrame:
    """One row per finding: the paper's Δ, this run's Δ with its interval, resolved, agrees."""
    rows = []
    for f in paper_findings(table, headline):
        (ta, ia), (tb, ib) = row_ref(f["a"]), row_ref(f["b"])
        ra, rb = resolve_ref(plan, ta, ia), resolve_ref(plan, tb, ib)
        d, lo, hi = paired_difference(row_logits(plan, ra), row_logits(plan, rb), plan.study.bootstrap)
        paper = (ra.paper - rb.paper) if ra.paper is not None and rb.paper is not None else np.nan
        resolved = lo > 0 or hi < 0
        rows.append({"id": f["id"], "finding (paper)": f["claim"], "rows": f"{ra.id} vs {rb.id}",
                     "paper Δ": paper, "this run Δ": 100 * d, "low": 100 * lo, "high": 100 * hi,
                     "resolved": "yes" if resolved else "no",
                     "agrees": ("yes" if np.sign(d) == np.sign(paper) else "no") if resolved else "–",
                     "same sign": "yes" if np.sign(d) == np.sign(paper) else "no"})
    return pd.DataFrame(rows)


def tally(df: pd.DataFrame) -> dict:
    """How many findings this run resolves, and how many of those agree with the paper."""
    resolved = df[df["resolved"] == "yes"]
    return {"findings": int(len(df)), "resolved": int(len(resolved)), "agree": int((resolved["agrees"] == "yes").sum()),
            "against": int((resolved["agrees"] == "no").sum())}


def style_findings(df: pd.DataFrame, caption: str = ""):
    if df.empty:
        return df.style.hide(axis="index")
    d = [fmt.places(lo, hi, effect=True, resolved=r == "yes")
         for lo, hi, r in zip(df["low"], df["high"], df["resolved"])]
    out = pd.DataFrame({
        "finding (paper)": df["finding (paper)"], "rows": df["rows"],
        "paper Δ": [fmt.num(x, 1, True) for x in df["paper Δ"]],
        "this run Δ": [fmt.num(x, k, True) for x, k in zip(df["this run Δ"], d)],
        "95% CI": [fmt.interval(lo, hi, k, True) for lo, hi, k in zip(df["low"], df["high"], d)],
        "resolved?": df["resolved"],
        "agrees with the paper?": df["agrees"],
    })
    sty = out.style.hide(axis="index").set_properties(subset=["finding (paper)", "rows"], **{"text-align": "left"})
    sty = sty.set_properties(subset=["95% CI"], **{"white-space": "nowrap"})
    return sty.set_caption(caption) if caption else sty
