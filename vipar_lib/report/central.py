"""The paper's central claim, checked: RGB and residual frames each carry information the other lacks,
and their ensemble (the sum of pre-softmax logits) beats both.

::

    RGB logits ──┐                    per video: right/wrong under RGB, Diff, RGB+Diff
                 ├── sum ──► paired differences (sum − RGB, sum − Diff) with 95% intervals
    Diff logits ─┘                    2×2: both right · only RGB · only Diff · neither; per class

The claim has two parts, each answered by this run: (1) each input gets videos right that the
other gets wrong (the "only" cells, and classes where one is far better); (2) the sum beats both,
*resolved* when both paired intervals exclude 0. Whether the answer agrees with the paper is what
the run says.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..ensemble import combine
from ..logits import LogitsFile, align
from ..metrics import per_class_accuracy, predictions
from ..paper import central_claim, row_ref
from ..study.plan import Plan
from . import fmt
from .results import chance, classes, paired_seed_logits
from .tables import seed_interval

__all__ = ["check_central_claim", "show_central_claim"]


def _seed_cells(rgb: LogitsFile, diff: LogitsFile, both: LogitsFile, k: int):
    """One seed: correctness of RGB, Diff and their sum on common videos, and per-class accuracies."""
    al = align([rgb, diff, both], ["rgb", "diff", "sum"])
    right = [predictions(x) == al.label for x in al.logits]
    r, d = right[0], right[1]
    cells = {"both right": int((r & d).sum()), "only RGB right": int((r & ~d).sum()),
             "only Diff right": int((~r & d).sum()), "neither": int((~r & ~d).sum())}
    per_class = {n: per_class_accuracy(predictions(x), al.label, k) for n, x in zip(("rgb", "diff", "sum"), al.logits)}
    return right, cells, per_class, len(al.label)


def check_central_claim(plan: Plan) -> dict:
    """Accuracies, gains of the sum over each input (paired by seed and video), the 2×2 table and per-class accuracies.

    Seed by seed: seed *i*'s sum adds seed *i*'s RGB and Diff logits. Accuracies and cells are means over
    seeds (each seed's beside them); the gains' intervals cover seeds and test videos when there are >= 2.
    """
    spec = central_claim()
    (tr, ir), (td, idd) = row_ref(spec["rgb"]), row_ref(spec["diff"])
    rgb_rows, diff_rows, seeds = paired_seed_logits(plan, plan.row(tr, ir), plan.row(td, idd))
    sums = [combine([a, b], names=["rgb", "diff"]) for a, b in zip(rgb_rows, diff_rows)]
    k = len(classes(plan))
    per_seed = [_seed_cells(a, b, c, k) for a, b, c in zip(rgb_rows, diff_rows, sums)]
    gains = {}
    for name, files in (("rgb", rgb_rows), ("diff", diff_rows)):
        iv = seed_interval(sums, files, plan.study.bootstrap)
        gains[name] = {"gain": iv.estimate, "low": iv.low, "high": iv.high, "resolved": iv.resolved,
                       "per_seed": list(iv.per_seed), "resamples": iv.resamples}
    cell_names = ("both right", "only RGB right", "only Diff right", "neither")
    cells = {c: float(np.mean([x[1][c] for x in per_seed])) for c in cell_names}
    acc = {n: float(np.mean([100 * x[0][i].mean() for x in per_seed])) for i, n in enumerate(("rgb", "diff", "sum"))}
    acc_ci = {n: [v.low, v.high] for n, v in (("rgb", seed_interval(rgb_rows, n_boot=plan.study.bootstrap)),
                                               ("diff", seed_interval(diff_rows, n_boot=plan.study.bootstrap)),
                                               ("sum", seed_interval(sums, n_boot=plan.study.bootstrap)))}
    beats_both = all(g["resolved"] and g["gain"] > 0 for g in gains.values())
    return {"claim": spec["claim"], "rows": {"rgb": f"{tr}:{ir}", "diff": f"{td}:{idd}"}, "videos": per_seed[0][3],
            "seeds": list(seeds), "accuracy": acc, "accuracy_ci": acc_ci,
            "accuracy_per_seed": {n: [100 * float(x[0][i].mean()) for x in per_seed]
                                  for i, n in enumerate(("rgb", "diff", "sum"))},
            "gains": gains, "cells": cells, "cells_per_seed": [x[1] for x in per_seed], "classes": classes(plan),
            "per_class": {n: np.nanmean([x[2][n] for x in per_seed], axis=0).tolist() for n in ("rgb", "diff", "sum")},
            "each_has_what_the_other_lacks": cells["only RGB right"] > 0 and cells["only Diff right"] > 0,
            "sum_beats_both": beats_both}


def show_central_claim(plan: Plan) -> dict:
    from . import figures as F
    from .pages import _display, md, show_figure
    c = check_central_claim(plan)
    acc, ci_, g, cells, n = c["accuracy"], c["accuracy_ci"], c["gains"], c["cells"], len(c["seeds"])
    gain = lambda x: fmt.with_ci(x["gain"], x["low"], x["high"], effect=True, resolved=x["resolved"])  # noqa: E731
    top1 = lambda k: fmt.with_ci(acc[k], *ci_[k])  # noqa: E731
    where = "seeds and test videos" if n > 1 else "test videos only: a single run"
    md(f"**The paper's central claim:** {c['claim']}. Checked on Table 3's rows {c['rows']['rgb']} (SlowFast RGB) and "
       f"{c['rows']['diff']} (SlowFast Diff), centre view, interval 1, {c['videos']} test videos"
       + (f", {n} seeds (seed *i*'s sum adds seed *i*'s RGB and Diff logits)" if n > 1 else ", one seed") + ".")
    per = lambda k: fmt.per_seed(c["accuracy_per_seed"][k], fmt.places(*ci_[k]))  # noqa: E731
    resolved = lambda x: ("yes" if x["resolved"] else "no") + ("" if n > 1 else " (single run)")  # noqa: E731
    acc_col, gain_col = f"top-1 (%) [95% CI over {where}]", "sum's gain over it (points) [95% CI]"
    table = pd.DataFrame([{"input": "RGB", acc_col: top1("rgb"), "per seed": per("rgb"), gain_col: gain(g["rgb"]),
                           "resolved?": resolved(g["rgb"])},
                          {"input": "residual frames (Diff)", acc_col: top1("diff"), "per seed": per("diff"),
                           gain_col: gain(g["diff"]), "resolved?": resolved(g["diff"])},
                          {"input": "RGB + Diff (sum of pre-softmax logits)", acc_col: top1("sum"),
                           "per seed": per("sum"), gain_col: "", "resolved?": ""}])
    if n == 1:
        table = table.drop(columns=["per seed"])
    _display(table.style.hide(axis="index").set_caption("RGB, residual frames and their sum")
             .set_properties(subset=["input"], **{"text-align": "left"})
             .set_properties(subset=[acc_col, gain_col], **{"white-space": "nowrap"}))
    count = (lambda v: fmt.num(v, 1)) if n > 1 else (lambda v: fmt.num(v, 0))  # noqa: E731
    grid = pd.DataFrame({"Diff right": [count(cells["both right"]), count(cells["only Diff right"])],
                         "Diff wrong": [count(cells["only RGB right"]), count(cells["neither"])]},
                        index=["RGB right", "RGB wrong"])
    _display(grid.style.set_caption("Test videos by which input gets them right" + (
        f" (mean over {n} seeds)" if n > 1 else "")))
    who = f"On these {n} seeds" if n > 1 else "On this single run"
    verdict = (f"**{who} the ensemble beats both inputs** (both paired intervals, over {where}, exclude 0)."
               if c["sum_beats_both"] else
               f"**{who} the ensemble does not beat both inputs with a resolved margin**"
               f" (gain over RGB {gain(g['rgb'])}, over Diff {gain(g['diff'])}).")
    md(f"{count(cells['only RGB right'])} videos are right only with RGB and {count(cells['only Diff right'])} only "
       f"with residual frames{' (means over seeds)' if n > 1 else ''}: each input gets videos right that the other "
       f"gets wrong. {verdict}")
    names = c["classes"]
    show_figure(F.per_class_inputs(names, c["per_class"], chance(plan)),
                "Per-class top-1 of RGB, residual frames (Diff) and their sum on the test split, classes sorted by "
                "the difference between RGB and Diff: where one input fails the other may not.",
                "central_claim_per_class.png", plan)
    return c
