"""Result tables: each row's accuracy and its *effect* against the table's reference row, beside the paper's.

Columns (percent unless said): the paper's accuracy and its difference to the reference row
(``paper_effect``); this run's top-1 with a 95% bootstrap interval over test videos, the
challenge's mean per-class accuracy, the row's difference to the reference row on the **same
videos** with a *paired* bootstrap interval (``effect``, ``effect_low``, ``effect_high``);
whether that interval excludes 0 (``resolved``) and whether the effect then goes the paper's way
(``agrees``); parameters and GFLOPs per clip.

How the paper is compared depends on the data (:func:`style_table`):

* synthetic profiles — **effects first**: a synthetic accuracy is not comparable with a UCF101
  one, so ``run − paper`` is not shown; the paper's absolute number stays as a reference column;
* real-data profiles — ``run − paper`` is shown too.

Numbers are rounded to what their intervals justify (:mod:`vipar_lib.report.fmt`, :func:`decimals`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..logits import LogitsFile, align
from ..metrics import bootstrap_mean, decimals, mean_class_accuracy, predictions, top1
from ..metrics import paired_difference as _paired
from ..paper import table_meta
from ..study.plan import Plan
from . import fmt
from .results import row_cost, row_logits

__all__ = ["result_row", "paired_difference", "compare_table", "build_table", "style_table", "save_csv", "decimals",
           "bootstrap_acc", "reference_of", "SYNTHETIC_BANNER"]

SYNTHETIC_BANNER = ("These numbers come from SYNTHETIC data (profile {profile}). They test the pipeline and show the "
                    "direction of effects on a toy problem; they are not a reproduction of the paper's UCF101 results.")


def bootstrap_acc(lf: LogitsFile, n: int = 1000, seed: int = 0):
    """95% percentile-bootstrap interval of top-1 over videos (fractions)."""
    return bootstrap_mean(predictions(lf.logits) == lf.label, n, seed)


def paired_difference(lf: LogitsFile, ref: LogitsFile, n: int = 1000, seed: int = 0):
    """Top-1 of ``lf`` minus ``ref`` and its paired 95% bootstrap interval (same resampled videos)."""
    al = align([lf, ref])
    return _paired(al.logits[0], al.logits[1], al.label, n, seed)


def result_row(row_id, method: str, paper_acc: float | None, lf: LogitsFile | None, params: int | None = None,
               gflops: float | None = None, n_boot: int = 1000, **extra) -> dict:
    """One table row; accuracies in percent."""
    out = {"id": row_id, "method": method, **extra, "paper": paper_acc}
    if lf is None:
        out.update(run=np.nan, run_minus_paper=np.nan, ci_low=np.nan, ci_high=np.nan, mean_class=np.nan)
    else:
        lo, hi = bootstrap_acc(lf, n_boot)
        run = 100 * top1(lf.logits, lf.label)
        out.update(run=run, run_minus_paper=run - paper_acc if paper_acc is not None else np.nan, ci_low=100 * lo,
                   ci_high=100 * hi, mean_class=100 * mean_class_accuracy(lf.logits, lf.label))
    out.update(params=params, gflops=gflops)
    return out


def reference_of(table: str) -> Callable[[dict, list[dict]], object]:
    """The reference row of each row, from the table's ``reference`` in the paper transcription."""
    ref = table_meta(table).get("reference")
    if isinstance(ref, dict):          # e.g. Table 3: the centre view of the same model and interval
        def pick(row, rows):
            for r in rows:
                if r.get("view") == ref["view"] and all(r.get(k) == row.get(k) for k in ref["same"]):
                    return r["id"]
            return None
        return pick
    return lambda row, rows: ref


def compare_table(rows: list[dict], logits: dict | None = None, ref=None, n_boot: int = 1000) -> pd.DataFrame:
    """DataFrame of :func:`result_row` dicts; with ``ref`` (an id, or ``f(row, rows) -> id``), add effects."""
    df = pd.DataFrame(rows)
    if ref is None or not logits:
        return df
    pick = ref if callable(ref) else (lambda row, rows_, _r=ref: _r)
    cols = {k: [] for k in ("reference", "paper_effect", "effect", "effect_low", "effect_high", "resolved", "agrees")}
    papers = {r["id"]: r["paper"] for r in rows}
    for r in rows:
        rid = pick(r, rows)
        lf, ref_lf = logits.get(r["id"]), logits.get(rid)
        cols["reference"].append(rid)
        known = rid in papers and r["paper"] is not None and papers[rid] is not None
        pe = r["paper"] - papers[rid] if known else np.nan
        cols["paper_effect"].append(pe)
        if rid is None or r["id"] == rid or lf is None or ref_lf is None:
            for k in ("effect", "effect_low", "effect_high"):
                cols[k].append(np.nan)
            cols["resolved"].append("reference" if r["id"] == rid else "")
            cols["agrees"].append("")
            continue
        d, lo, hi = paired_difference(lf, ref_lf, n_boot)
        cols["effect"].append(100 * d)
        cols["effect_low"].append(100 * lo)
        cols["effect_high"].append(100 * hi)
        resolved = lo > 0 or hi < 0
        cols["resolved"].append("yes" if resolved else "not resolved")
        cols["agrees"].append(("yes" if np.sign(d) == np.sign(pe) else "no") if resolved and np.isfinite(pe) else "")
    for k, v in cols.items():
        df[k] = v
    return df


_INFO = {"table2": ("input",), "table3": ("network", "input", "interval", "view"), "table4": ("members",)}


def build_table(plan: Plan, table: str) -> pd.DataFrame:
    """Every row of ``table`` from the run store (read only), with effects against its reference row."""
    n_boot = plan.study.bootstrap
    logits, rows = {}, []
    for r in plan.rows[table]:
        lf = row_logits(plan, r)
        logits[r.id] = lf
        params, gflops = row_cost(plan, r)
        extra = {k: r.info[k] for k in _INFO.get(table, ()) if k in r.info}
        if table == "table4":
            extra["members"] = " + ".join(f"{i}×{w:g}" if w != 1 else str(i) for i, w in r.members)
        rows.append(result_row(r.id, r.method, r.paper, lf, params, gflops, n_boot, **extra))
    return compare_table(rows, logits, reference_of(table), n_boot)


_fmt = fmt.num


def _resolved_text(r) -> str:
    res = r.get("resolved", "")
    if res == "yes":
        sign = "+" if r["effect"] > 0 else "−"
        agree = {"yes": ", as the paper", "no": ", against the paper"}.get(r.get("agrees", ""), "")
        return f"yes ({sign}{agree})"
    return res


def style_table(df: pd.DataFrame, caption: str = "", synthetic: bool = True, chance: float | None = None):
    """A readable Styler: effect first on synthetic data, intervals in one column, no index, no empty columns.

    Every number follows :mod:`vipar_lib.report.fmt`: each row's accuracies by their own interval, each
    effect by its own (a resolved one never shows an end of 0).
    """
    has_effect = "effect" in df and np.isfinite(df["effect"].astype(float)).any()
    d_acc = [fmt.places(lo, hi) for lo, hi in zip(df["ci_low"], df["ci_high"])]
    out = pd.DataFrame({"id": df["id"].astype(str)})
    if not {"network", "input", "interval", "view"} <= set(df.columns):    # Table 3's method just repeats them
        out["method"] = df["method"]
    for k in ("network", "input", "interval", "view", "members"):
        if k in df:
            out[k] = df[k].astype(str)
    eff_cols = {}
    if has_effect:
        eff_cols["vs"] = [str(x) if x is not None else "" for x in df["reference"]]
        d_eff = [fmt.places(lo, hi, effect=True, resolved=res == "yes")
                 for lo, hi, res in zip(df["effect_low"], df["effect_high"], df["resolved"])]
        eff_cols["this run: Δ top-1"] = [_fmt(e, d, True) for e, d in zip(df["effect"], d_eff)]
        eff_cols["Δ 95% CI"] = [fmt.interval(lo, hi, d, True)
                                for lo, hi, d in zip(df["effect_low"], df["effect_high"], d_eff)]
        eff_cols["paper: Δ"] = [_fmt(e, 1, True) for e in df["paper_effect"]]
        eff_cols["resolved?"] = [_resolved_text(r) for _, r in df.iterrows()]
    acc_cols = {
        "this run: top-1 (%)": [_fmt(x, d) for x, d in zip(df["run"], d_acc)],
        "95% CI": [fmt.interval(lo, hi, d) or "–" for lo, hi, d in zip(df["ci_low"], df["ci_high"], d_acc)],
        "mean per-class (%)": [_fmt(x, d) for x, d in zip(df["mean_class"], d_acc)],
        "paper: top-1 (%)": [_fmt(x, 1) for x in df["paper"]],
    }
    if not synthetic:
        acc_cols["run − paper"] = [_fmt(x, d, True) for x, d in zip(df["run_minus_paper"], d_acc)]
    cost_cols = {}
    if df["params"].notna().any():
        cost_cols["params (M)"] = [fmt.sig(None if p is None else p / 1e6) for p in df["params"]]
    if df["gflops"].notna().any():
        cost_cols["GFLOPs/clip"] = [fmt.sig(g) for g in df["gflops"]]
    for block in ((eff_cols, acc_cols) if synthetic else (acc_cols, eff_cols)):
        for k, v in block.items():
            out[k] = v
    for k, v in cost_cols.items():
        out[k] = v
    out = out.loc[:, [c for c in out.columns if not (out[c].isin(["", "–"]).all())]]
    cap = caption
    if chance is not None:
        cap += f" · chance = {chance:.1f}% top-1"
    text = [c for c in ("id", "method", "network", "input", "view", "members", "vs", "resolved?") if c in out]
    sty = out.style.hide(axis="index").set_properties(subset=text, **{"text-align": "left"})
    sty = sty.set_properties(subset=[c for c in out if "CI" in c], **{"white-space": "nowrap"})
    if cap:
        sty = sty.set_caption(cap)
    return sty.set_table_styles([{"selector": "caption", "props": "caption-side: top; font-weight: bold; "
                                                                  "text-align: left; font-size: 1.05em"}])


def save_csv(df: pd.DataFrame, path) -> Path:
    """The table's numbers (rounded to 2 decimals; counts as integers) as CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    for c in out.columns:
        if c == "params":
            out[c] = out[c].astype("Int64")
        elif out[c].dtype.kind == "f":
            out[c] = out[c].round(2 if c != "gflops" else 4)
    out.to_csv(path, index=False)
    return path
