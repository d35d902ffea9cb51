"""The paper's findings (data in ``paper_tables.yaml``), checked against this run.

A finding compares two rows on the same test videos and seeds: ``a`` minus ``b``. For each, this run's
difference (mean over seeds, and each seed's) with a paired 95% interval that says what it resamples
(:func:`vipar_lib.metrics.seed_video_interval`): over seeds and test videos when the rows have >= 2
seeds, over test videos only for a single run. The finding is **resolved** when the interval excludes
0, and then **agrees** when its sign is the paper's; with one seed the verdict says "single run",
since a rerun with another seed is not inside its interval. A finding that is not resolved says
nothing either way, whatever the point estimate.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..paper import findings as paper_findings
from ..paper import row_ref
from ..study.plan import Plan
from . import fmt
from .results import paired_seed_logits, resolve_ref
from .tables import seed_interval

__all__ = ["check_findings", "style_findings", "tally"]


def check_findings(plan: Plan, table: str | None = None, headline: bool | None = None) -> pd.DataFrame:
    """One row per finding: the paper's Δ, this run's Δ (mean and per seed) with its interval, resolved, agrees."""
    rows = []
    for f in paper_findings(table, headline):
        (ta, ia), (tb, ib) = row_ref(f["a"]), row_ref(f["b"])
        ra, rb = resolve_ref(plan, ta, ia), resolve_ref(plan, tb, ib)
        fa, fb, seeds = paired_seed_logits(plan, ra, rb)
        iv = seed_interval(fa, fb, plan.study.bootstrap)
        paper = (ra.paper - rb.paper) if ra.paper is not None and rb.paper is not None else np.nan
        rows.append({"id": f["id"], "finding (paper)": f["claim"], "rows": f"{ra.id} vs {rb.id}",
                     "paper Δ": paper, "this run Δ": iv.estimate, "low": iv.low, "high": iv.high,
                     "seeds": iv.seeds, "per seed": list(iv.per_seed), "seed SD": iv.seed_sd, "seed var": iv.seed_var,
                     "resamples": iv.resamples, "resolved": "yes" if iv.resolved else "no",
                     "basis": "seeds and test videos" if iv.seeds > 1 else "single run",
                     "agrees": ("yes" if np.sign(iv.estimate) == np.sign(paper) else "no") if iv.resolved else "–",
                     "same sign": "yes" if np.sign(iv.estimate) == np.sign(paper) else "no"})
    return pd.DataFrame(rows)


def tally(df: pd.DataFrame) -> dict:
    """How many findings this run resolves, how many of those agree with the paper, and on what basis."""
    resolved = df[df["resolved"] == "yes"]
    seeds = int(df["seeds"].min()) if len(df) else 0
    return {"findings": int(len(df)), "resolved": int(len(resolved)), "agree": int((resolved["agrees"] == "yes").sum()),
            "against": int((resolved["agrees"] == "no").sum()), "seeds": seeds,
            "basis": "seeds and test videos" if seeds > 1 else "single run (test videos only)"}


def style_findings(df: pd.DataFrame, caption: str = ""):
    if df.empty:
        return df.style.hide(axis="index")
    if "seeds" not in df:
        df = df.assign(seeds=1, **{"per seed": [[]] * len(df), "seed SD": np.nan})
    d = [fmt.places(lo, hi, effect=True, resolved=r == "yes")
         for lo, hi, r in zip(df["low"], df["high"], df["resolved"])]
    n = int(df["seeds"].max())
    out = pd.DataFrame({"finding (paper)": df["finding (paper)"], "rows": df["rows"],
                        "paper Δ": [fmt.num(x, 1, True) for x in df["paper Δ"]],
                        "this run Δ" + (f" (mean of {n} seeds)" if n > 1 else ""):
                            [fmt.num(x, k, True) for x, k in zip(df["this run Δ"], d)]})
    if n > 1:
        out["Δ per seed"] = [fmt.per_seed(v, k, True) for v, k in zip(df["per seed"], d)]
        out["seed SD"] = [fmt.num(x, k) for x, k in zip(df["seed SD"], d)]
    lo_n = int(df["seeds"].min())
    where = "seeds × videos" if lo_n > 1 else "test videos only" if n == 1 else "seeds × videos; single runs: videos"
    ci = f"95% CI ({where})"
    out[ci] = [fmt.interval(lo, hi, k, True) for lo, hi, k in zip(df["low"], df["high"], d)]
    out["resolved?"] = [r if k > 1 else f"{r} (single run)" for r, k in zip(df["resolved"], df["seeds"])]
    out["agrees with the paper?"] = df["agrees"]
    sty = out.style.hide(axis="index").set_properties(subset=["finding (paper)", "rows"], **{"text-align": "left"})
    sty = sty.set_properties(subset=[c for c in (ci, "Δ per seed") if c in out], **{"white-space": "nowrap"})
    return sty.set_caption(caption) if caption else sty
