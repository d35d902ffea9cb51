"""Result tables that set each run beside the paper's number.

Every table has: the paper's accuracy (cited to its table and row), this run's top-1, their
difference, a 95% bootstrap interval over test videos, the mean per-class accuracy (the
challenge's metric), parameters and GFLOPs. Rows compared with a reference row (Table 1's base
model, say) also get the paper's difference to it and ours with a *paired* bootstrap interval;
when that interval contains 0, the difference is marked **not resolved**: this run cannot tell
whether the module helps, whatever the paper reports.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..logits import LogitsFile, align
from ..metrics import bootstrap_mean, mean_class_accuracy, paired_difference as _paired, predictions, top1

__all__ = ["result_row", "paired_difference", "compare_table", "style_table", "SYNTHETIC_BANNER"]

SYNTHETIC_BANNER = ("These numbers come from SYNTHETIC data (profile {profile}). They test the pipeline and the "
                    "direction of effects on a toy problem; they are not a reproduction of the paper's UCF101 results.")


def bootstrap_acc(lf: LogitsFile, n: int = 1000, seed: int = 0):
    return bootstrap_mean(predictions(lf.logits) == lf.label, n, seed)


def paired_difference(lf: LogitsFile, ref: LogitsFile, n: int = 1000, seed: int = 0):
    """Top-1 of ``lf`` minus ``ref`` and its paired 95% bootstrap interval (same resampled videos)."""
    al = align([lf, ref])
    return _paired(al.logits[0], al.logits[1], al.label, n, seed)


def result_row(row_id: str, method: str, paper_acc: float | None, lf: LogitsFile | None, params: int | None = None,
               gflops: float | None = None, n_boot: int = 1000, **extra) -> dict:
    """One table row; accuracies in percent."""
    out = {"id": row_id, "method": method, **extra, "paper": paper_acc}
    if lf is None:
        out.update(run=np.nan, diff=np.nan, ci_low=np.nan, ci_high=np.nan, mean_class=np.nan)
    else:
        lo, hi = bootstrap_acc(lf, n_boot)
        run = 100 * top1(lf.logits, lf.label)
        out.update(run=run, diff=run - paper_acc if paper_acc is not None else np.nan, ci_low=100 * lo,
                   ci_high=100 * hi, mean_class=100 * mean_class_accuracy(lf.logits, lf.label))
    out.update(params=params, gflops=gflops)
    return out


def compare_table(rows: list[dict], logits: dict[str, LogitsFile] | None = None, ref_id: str | None = None,
                  n_boot: int = 1000) -> pd.DataFrame:
    """DataFrame of :func:`result_row` dicts; with ``ref_id``, add the differences to that row."""
    df = pd.DataFrame(rows)
    if ref_id is not None and logits and ref_id in logits:
        ref = logits[ref_id]
        p_ref = df.loc[df["id"] == ref_id, "paper"].iloc[0]
        cols = {"paper_vs_ref": [], "run_vs_ref": [], "run_vs_ref_low": [], "run_vs_ref_high": [], "resolved": []}
        for _, r in df.iterrows():
            lf = logits.get(r["id"])
            cols["paper_vs_ref"].append(r["paper"] - p_ref if r["paper"] is not None else np.nan)
            if lf is None or r["id"] == ref_id:
                for k in ("run_vs_ref", "run_vs_ref_low", "run_vs_ref_high"):
                    cols[k].append(np.nan)
                cols["resolved"].append("reference" if r["id"] == ref_id else "")
                continue
            d, lo, hi = paired_difference(lf, ref, n_boot)
            cols["run_vs_ref"].append(100 * d)
            cols["run_vs_ref_low"].append(100 * lo)
            cols["run_vs_ref_high"].append(100 * hi)
            cols["resolved"].append("yes" if (lo > 0 or hi < 0) else "not resolved")
        for k, v in cols.items():
            df[k] = v
    return df


_LABELS = {"paper": "paper acc (%)", "run": "this run top-1 (%)", "diff": "run − paper", "mean_class": "mean per-class (%)",
           "params": "params", "gflops": "GFLOPs", "paper_vs_ref": "paper Δ vs ref", "run_vs_ref": "run Δ vs ref",
           "resolved": "Δ resolved?"}


def style_table(df: pd.DataFrame, caption: str = ""):
    """A readable pandas Styler: interval as one column, formatted numbers."""
    d = df.copy()
    d["95% CI"] = [f"[{lo:.1f}, {hi:.1f}]" if np.isfinite(lo) else "" for lo, hi in zip(d["ci_low"], d["ci_high"])]
    if "run_vs_ref_low" in d:
        d["run Δ 95% CI"] = [f"[{lo:+.1f}, {hi:+.1f}]" if np.isfinite(lo) else "" for lo, hi in
                             zip(d["run_vs_ref_low"], d["run_vs_ref_high"])]
        d = d.drop(columns=["run_vs_ref_low", "run_vs_ref_high"])
    d = d.drop(columns=["ci_low", "ci_high"])
    d["params"] = [f"{p / 1e6:.2f}M" if p else "" for p in d["params"]]
    order = [c for c in d.columns if c not in ("95% CI", "run Δ 95% CI")]
    i = order.index("run") + 1 if "run" in order else len(order)
    order[i:i] = ["95% CI"]
    if "run Δ 95% CI" in d:
        order.insert(order.index("run_vs_ref") + 1, "run Δ 95% CI")
    d = d[order].rename(columns=_LABELS)
    fmt = {c: "{:.1f}" for c in d.columns if c in ("paper acc (%)", "this run top-1 (%)", "mean per-class (%)")}
    fmt.update({c: "{:+.1f}" for c in ("run − paper", "paper Δ vs ref", "run Δ vs ref") if c in d})
    fmt["GFLOPs"] = "{:.3f}"
    sty = d.style.format(fmt, na_rep="–").hide(axis="index")
    if caption:
        sty = sty.set_caption(caption)
    return sty
