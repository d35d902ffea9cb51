"""The summary: every table's rows and effects, the findings tally, and ``summary.json`` for the index page."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..study.plan import Plan
from . import fmt
from .findings import tally
from .pages import md
from .results import chance, classes

__all__ = ["write_summary", "conclusions", "chance_table"]


def _num(x):
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return x
    return None if not np.isfinite(x) else round(x, 4)


def _nums(xs):
    return [_num(x) for x in xs] if isinstance(xs, (list, tuple)) else []


def chance_table(plan: Plan, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """How far above chance each trained model is (Tables 1 and 2): mean per-class accuracy / chance.

    Numbers as text, by the one rule (:mod:`vipar_lib.report.fmt`): the accuracy with the decimals of
    its row's top-1 interval (as in the tables), the ratio with 1 decimal.
    """
    c = chance(plan)
    rows = []
    for name in ("table1", "table2"):
        for _, r in tables[name].iterrows():
            d = fmt.places(r["ci_low"], r["ci_high"])
            rows.append({"table": _title(name), "id": r["id"], "method": r["method"],
                         "mean per-class (%)": fmt.num(r["mean_class"], d),
                         "× chance": fmt.num(r["mean_class"] / c, 1) + "×",
                         "≥ 3× chance": "yes" if r["mean_class"] >= 3 * c else "no"})
    return pd.DataFrame(rows)


def _title(name: str) -> str:
    return f"Table {name[-1]}" if name.startswith("table") else name


def write_summary(plan: Plan, tables: dict[str, pd.DataFrame], findings: pd.DataFrame,
                  claim: dict | None = None) -> Path:
    """``reports/<profile>/summary.json``: rows, effects, findings and chance, for the index and for tests."""
    c = chance(plan)
    rows = []
    for name, df in tables.items():
        for _, r in df.iterrows():
            rows.append({"table": name, "id": str(r["id"]), "method": r["method"], "paper": _num(r["paper"]),
                         "run": _num(r["run"]), "ci_low": _num(r["ci_low"]), "ci_high": _num(r["ci_high"]),
                         "mean_class": _num(r["mean_class"]), "x_chance": _num(r["mean_class"] / c),
                         "reference": None if r.get("reference") is None else str(r.get("reference")),
                         "effect": _num(r.get("effect")), "effect_low": _num(r.get("effect_low")),
                         "effect_high": _num(r.get("effect_high")), "paper_effect": _num(r.get("paper_effect")),
                         "seeds": int(r.get("seeds", 1)), "run_seeds": _nums(r.get("run_seeds")),
                         "run_sd": _num(r.get("run_sd")), "effect_seeds": _nums(r.get("effect_seeds")),
                         "effect_sd": _num(r.get("effect_sd")), "resamples": r.get("resamples", ""),
                         "resolved": r.get("resolved", ""), "agrees": r.get("agrees", ""),
                         "params": _num(r.get("params")), "gflops": _num(r.get("gflops"))})
    t4 = tables["table4"]
    best = t4.sort_values("run", ascending=False).iloc[0]
    out = {"profile": plan.study.profile, "reading": plan.study.reading, "synthetic": plan.study.synthetic,
           "classes": len(classes(plan)), "seeds": {t: list(plan.study.seed_list(t)) for t in ("table1", "table2")},
           "chance": round(c, 3), "rows": rows,
           "best_ensemble": {"id": str(best["id"]), "run": _num(best["run"]), "paper": _num(best["paper"])},
           "findings": json.loads(findings.to_json(orient="records")), "tally": tally(findings)}
    if claim is not None:
        out["central_claim"] = {k: claim[k] for k in ("claim", "rows", "videos", "seeds", "accuracy", "accuracy_ci",
                                                      "accuracy_per_seed", "gains", "cells", "cells_per_seed",
                                                      "each_has_what_the_other_lacks", "sum_beats_both") if k in claim}
    p = plan.study.reports_path / "summary.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(out, indent=1))
    return p


def conclusions(plan: Plan, tables: dict[str, pd.DataFrame], findings: pd.DataFrame, claim: dict | None = None) -> str:
    """A paragraph, written from this run's numbers, on what it does and does not reproduce."""
    c = chance(plan)
    models = pd.concat([tables["table1"].assign(table="T1"), tables["table2"].assign(table="T2")])
    below = [f"{r['id']} ({fmt.num(r['mean_class'] / c, 1)}×)" for _, r in models.iterrows() if r["mean_class"] < 3 * c]
    at_chance = [str(r["id"]) for _, r in models.iterrows() if r["ci_low"] <= c]
    t = tally(findings)
    kind = f"synthetic data, profile `{plan.study.profile}`" if plan.study.synthetic else "this data"
    basis = (f"by this run's {t['seeds']} seeds (95% interval over seeds and test videos excludes 0)" if t["seeds"] > 1
             else "by a single run (paired 95% interval over test videos only excludes 0; a rerun with another seed "
                  "may not agree)")
    lines = [f"**What this run shows** (computed; chance is {fmt.num(c, 1)}% with {len(classes(plan))} classes, "
             f"{kind}).",
             f"- Models of Tables 1–2 below 3× chance (mean per-class): {', '.join(below) or 'none'}.",
             f"- Models whose top-1 interval includes chance: {', '.join(at_chance) or 'none'}.",
             f"- Of {t['findings']} findings of the paper checked here, {t['resolved']} are resolved {basis}: "
             f"{t['agree']} go the paper's way, {t['against']} against it; "
             f"{t['findings'] - t['resolved']} are not resolved and say nothing either way."]
    if claim is not None:
        g, a = claim["gains"], claim["accuracy"]
        ci = claim.get("accuracy_ci", {})
        top1 = lambda k: fmt.with_ci(a[k], *ci.get(k, (None, None)), unit="%")  # noqa: E731
        gain = lambda x: fmt.with_ci(x["gain"], x["low"], x["high"], effect=True, resolved=x["resolved"])  # noqa: E731
        lines.append(f"- The central claim (RGB + residual frames): RGB {top1('rgb')}, Diff {top1('diff')}, "
                     f"sum {top1('sum')}; the sum "
                     + ("beats both (resolved)" if claim["sum_beats_both"] else "does not beat both with a resolved "
                        "margin")
                     + f" (gain over RGB {gain(g['rgb'])}, over Diff {gain(g['diff'])} points). "
                     f"{fmt.num(claim['cells']['only RGB right'], 0)} videos are right only with RGB, "
                     f"{fmt.num(claim['cells']['only Diff right'], 0)} only with Diff"
                     + (" (means over seeds)." if len(claim.get("seeds", [])) > 1 else "."))
    if at_chance:
        lines.append("- Where a model stays at chance, the differences built on it carry no information about the "
                     "paper's claims.")
    text = "\n".join(lines)
    md(text)
    return text
