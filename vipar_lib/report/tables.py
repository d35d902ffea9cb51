"""Result tables: each row's accuracy and its *effect* against the table's reference row, beside the paper's.

Every row has one run per seed (``StudyConfig.seeds``). Columns (percent unless said): the paper's
accuracy and its difference to the reference row (``paper_effect``); this run's top-1, the mean over
seeds (``run``), each seed's value (``run_seeds``), their SD (``run_sd``) and a 95% interval
(``ci_low``/``ci_high``); the challenge's mean per-class accuracy (mean over seeds); the row's
difference to the reference row on the **same videos and seeds** (``effect``, ``effect_seeds``,
``effect_sd``, ``effect_low``/``effect_high``); whether that interval excludes 0 (``resolved``) and
whether the effect then goes the paper's way (``agrees``); parameters and GFLOPs per clip.

What an interval resamples is in ``resamples`` (:func:`vipar_lib.metrics.seed_video_interval`)::

    seeds >= 2   seeds and test videos   the verdict survives a rerun with another seed (as far as S seeds tell)
    seeds == 1   test videos only        the weights are taken as fixed: the verdict is a "single run"'s

How the paper is compared depends on the data (:func:`style_table`):

* synthetic profiles — **effects first**: a synthetic accuracy is not comparable with a UCF101
  one, so ``run − paper`` is not shown; the paper's absolute number stays as a reference column;
* real-data profiles — ``run − paper`` is shown too.

Numbers are rounded to what their intervals justify (:mod:`vipar_lib.report.fmt`, :func:`decimals`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..logits import LogitsFile, align
from ..metrics import Interval, decimals, mean_class_accuracy, predictions, seed_video_interval
from ..paper import table_meta
from ..study.plan import Plan
from . import fmt
from .results import row_cost, row_seed_logits

__all__ = ["result_row", "seed_interval", "compare_table", "build_table", "style_table", "save_csv", "decimals",
           "reference_of", "verdict", "SYNTHETIC_BANNER"]

SYNTHETIC_BANNER = ("These numbers come from SYNTHETIC data (profile {profile}). They test the pipeline and show the "
                    "direction of effects on a toy problem; they are not a reproduction of the paper's UCF101 results.")


def _seeds(x) -> list[LogitsFile]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def seed_interval(a: Sequence[LogitsFile] | LogitsFile, b: Sequence[LogitsFile] | LogitsFile | None = None,
                  n_boot: int = 1000) -> Interval:
    """Top-1 of ``a`` (or ``a`` minus ``b``), in points, over seeds and test videos.

    ``a``/``b``: one logits file per seed (seed *i* of ``a`` paired with seed *i* of ``b``), or one file.
    """
    fa = _seeds(a)
    fb = _seeds(b) if b is not None else []
    if fb and len(fb) != len(fa):
        raise ValueError(f"cannot pair {len(fa)} seeds with {len(fb)}")
    al = align(fa + fb)
    right = np.stack([predictions(x) == al.label for x in al.logits]).astype(float)
    s = len(fa)
    iv = seed_video_interval(right[:s], right[s:] if fb else None, n_boot, bounds=(-1.0, 1.0) if fb else (0.0, 1.0))
    return iv.scaled(100)


def verdict(iv: Interval) -> str:
    """'yes' / 'not resolved', with "single run" when the interval covers test videos only."""
    text = "yes" if iv.resolved else "not resolved"
    return text if iv.seeds > 1 else f"{text} (single run)"


def result_row(row_id, method: str, paper_acc: float | None, lf, params: int | None = None,
               gflops: float | None = None, n_boot: int = 1000, **extra) -> dict:
    """One table row from its logits (one file per seed, or one file); accuracies in percent."""
    out = {"id": row_id, "method": method, **extra, "paper": paper_acc}
    if lf is None:
        out.update(run=np.nan, run_minus_paper=np.nan, ci_low=np.nan, ci_high=np.nan, mean_class=np.nan, seeds=0,
                   run_seeds=[], run_sd=np.nan)
    else:
        files = _seeds(lf)
        iv = seed_interval(files, n_boot=n_boot)
        out.update(run=iv.estimate, run_minus_paper=iv.estimate - paper_acc if paper_acc is not None else np.nan,
                   ci_low=iv.low, ci_high=iv.high, resamples=iv.resamples, seeds=iv.seeds,
                   run_seeds=list(iv.per_seed), run_sd=iv.seed_sd,
                   mean_class=100 * float(np.mean([mean_class_accuracy(f.logits, f.label) for f in files])))
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


_EFFECT_COLS = ("reference", "paper_effect", "effect", "effect_low", "effect_high", "effect_seeds", "effect_sd",
                "effect_resamples", "resolved", "agrees")


def _effect(r: dict, rid, papers: dict, lf, ref_lf, n_boot: int) -> dict:
    known = rid in papers and r["paper"] is not None and papers[rid] is not None
    pe = r["paper"] - papers[rid] if known else np.nan
    out = {"reference": rid, "paper_effect": pe, "effect": np.nan, "effect_low": np.nan, "effect_high": np.nan,
           "effect_seeds": [], "effect_sd": np.nan, "effect_resamples": "", "agrees": "",
           "resolved": "reference" if r["id"] == rid else ""}
    if rid is None or r["id"] == rid or lf is None or ref_lf is None:
        return out
    iv = seed_interval(lf, ref_lf, n_boot)
    out.update(effect=iv.estimate, effect_low=iv.low, effect_high=iv.high, effect_seeds=list(iv.per_seed),
               effect_sd=iv.seed_sd, effect_resamples=iv.resamples, resolved=verdict(iv))
    if iv.resolved and np.isfinite(pe):
        out["agrees"] = "yes" if np.sign(iv.estimate) == np.sign(pe) else "no"
    return out


def compare_table(rows: list[dict], logits: dict | None = None, ref=None, n_boot: int = 1000) -> pd.DataFrame:
    """DataFrame of :func:`result_row` dicts; with ``ref`` (an id, or ``f(row, rows) -> id``), add effects.

    ``logits`` maps a row id to its logits: one file per seed (a list) or one file.
    """
    df = pd.DataFrame(rows)
    if ref is None or not logits:
        return df
    pick = ref if callable(ref) else (lambda row, rows_, _r=ref: _r)
    papers = {r["id"]: r["paper"] for r in rows}
    effects = [_effect(r, rid, papers, logits.get(r["id"]), logits.get(rid), n_boot)
               for r in rows for rid in [pick(r, rows)]]
    for k in _EFFECT_COLS:
        df[k] = [e[k] for e in effects]
    return df


_INFO = {"table2": ("input",), "table3": ("network", "input", "interval", "view"), "table4": ("members",)}


def build_table(plan: Plan, table: str) -> pd.DataFrame:
    """Every row of ``table`` from the run store (read only), with effects against its reference row."""
    n_boot = plan.study.bootstrap
    logits, rows = {}, []
    for r in plan.rows[table]:
        lf = row_seed_logits(plan, r)
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
    if res.startswith("yes"):
        sign = "+" if r["effect"] > 0 else "−"
        agree = {"yes": ", as the paper", "no": ", against the paper"}.get(r.get("agrees", ""), "")
        return f"yes ({sign}{agree})" + (" — single run" if "single run" in res else "")
    return res


def _seed_label(df: pd.DataFrame) -> tuple[int, str]:
    n = int(df["seeds"].max()) if "seeds" in df and len(df) else 1
    return n, ("seeds × videos" if n > 1 else "test videos")


def _effect_columns(df: pd.DataFrame, n: int, where: str) -> dict:
    d = [fmt.places(lo, hi, effect=True, resolved=str(res).startswith("yes"))
         for lo, hi, res in zip(df["effect_low"], df["effect_high"], df["resolved"])]
    cols = {"vs": [str(x) if x is not None else "" for x in df["reference"]],
            "this run: Δ top-1" + (f" (mean of {n} seeds)" if n > 1 else ""):
                [_fmt(e, k, True) for e, k in zip(df["effect"], d)]}
    if n > 1:
        cols["Δ per seed"] = [fmt.per_seed(v, k, True) for v, k in zip(df["effect_seeds"], d)]
        cols["Δ seed SD"] = [_fmt(v, k) for v, k in zip(df["effect_sd"], d)]
    cols[f"Δ 95% CI ({where})"] = [fmt.interval(lo, hi, k, True)
                                   for lo, hi, k in zip(df["effect_low"], df["effect_high"], d)]
    cols["paper: Δ"] = [_fmt(e, 1, True) for e in df["paper_effect"]]
    cols["resolved?"] = [_resolved_text(r) for _, r in df.iterrows()]
    return cols


def _accuracy_columns(df: pd.DataFrame, n: int, where: str, synthetic: bool) -> dict:
    d = [fmt.places(lo, hi) for lo, hi in zip(df["ci_low"], df["ci_high"])]
    cols = {"this run: top-1 (%)" + (f" (mean of {n} seeds)" if n > 1 else ""):
            [_fmt(x, k) for x, k in zip(df["run"], d)]}
    if n > 1:
        cols["top-1 per seed"] = [fmt.per_seed(v, k) for v, k in zip(df["run_seeds"], d)]
        cols["seed SD"] = [_fmt(v, k) for v, k in zip(df["run_sd"], d)]
    cols[f"95% CI ({where})"] = [fmt.interval(lo, hi, k) or "–" for lo, hi, k in zip(df["ci_low"], df["ci_high"], d)]
    cols["mean per-class (%)"] = [_fmt(x, k) for x, k in zip(df["mean_class"], d)]
    cols["paper: top-1 (%)"] = [_fmt(x, 1) for x in df["paper"]]
    if not synthetic:
        cols["run − paper"] = [_fmt(x, k, True) for x, k in zip(df["run_minus_paper"], d)]
    return cols


def _cost_columns(df: pd.DataFrame) -> dict:
    cols = {}
    if df["params"].notna().any():
        cols["params (M)"] = [fmt.sig(None if p is None else p / 1e6) for p in df["params"]]
    if df["gflops"].notna().any():
        cols["GFLOPs/clip"] = [fmt.sig(g) for g in df["gflops"]]
    return cols


def style_table(df: pd.DataFrame, caption: str = "", synthetic: bool = True, chance: float | None = None):
    """A readable Styler: effect first on synthetic data, intervals in one column, per-seed values beside the
    mean when there are several seeds, no index, no empty columns.

    Every number follows :mod:`vipar_lib.report.fmt`: each row's accuracies by their own interval, each
    effect by its own (a resolved one never shows an end of 0).
    """
    n, where = _seed_label(df)
    has_effect = "effect" in df and np.isfinite(df["effect"].astype(float)).any()
    out = pd.DataFrame({"id": df["id"].astype(str)})
    if not {"network", "input", "interval", "view"} <= set(df.columns):    # Table 3's method just repeats them
        out["method"] = df["method"]
    for k in ("network", "input", "interval", "view", "members"):
        if k in df:
            out[k] = df[k].astype(str)
    eff_cols = _effect_columns(df, n, where) if has_effect else {}
    acc_cols = _accuracy_columns(df, n, where, synthetic)
    for block in ((eff_cols, acc_cols) if synthetic else (acc_cols, eff_cols)) + (_cost_columns(df),):
        for k, v in block.items():
            out[k] = v
    out = out.loc[:, [c for c in out.columns if not (out[c].isin(["", "–"]).all())]]
    cap = caption + (f" · {n} seeds per row" if n > 1 else " · one seed per row (single run)")
    if chance is not None:
        cap += f" · chance = {fmt.num(chance, 1)}% top-1"
    text = [c for c in ("id", "method", "network", "input", "view", "members", "vs", "resolved?") if c in out]
    sty = out.style.hide(axis="index").set_properties(subset=text, **{"text-align": "left"})
    sty = sty.set_properties(subset=[c for c in out if "CI" in c or "per seed" in c], **{"white-space": "nowrap"})
    sty = sty.set_caption(cap)
    # cells a little tighter than JupyterLab's 0.5em: a 3-seed table fits a 1280-px window without scrolling
    return sty.set_table_styles([{"selector": "caption", "props": "caption-side: top; font-weight: bold; "
                                                                  "text-align: left; font-size: 1.05em"},
                                 {"selector": "td, th", "props": "padding: 0.3em 0.25em; font-size: 0.92em"}])


def save_csv(df: pd.DataFrame, path) -> Path:
    """The table's numbers (rounded to 2 decimals; counts as integers; per-seed values joined by ';') as CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, (list, tuple))).any():
            out[c] = [";".join(f"{x:.2f}" for x in v) if isinstance(v, (list, tuple)) else v for v in out[c]]
        elif c == "params":
            out[c] = out[c].astype("Int64")
        elif out[c].dtype.kind == "f":
            out[c] = out[c].round(2 if c != "gflops" else 4)
    out.to_csv(path, index=False)
    return path
