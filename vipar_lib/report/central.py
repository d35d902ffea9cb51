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

import pandas as pd

from ..ensemble import combine
from ..logits import align
from ..metrics import bootstrap_mean, paired_difference, per_class_accuracy, predictions
from ..paper import central_claim, row_ref
from ..study.plan import Plan
from .results import chance, classes, row_logits

__all__ = ["check_central_claim", "show_central_claim"]


def check_central_claim(plan: Plan) -> dict:
    """Accuracies, paired gains of the sum over each input, the 2×2 table and per-class accuracies."""
    spec = central_claim()
    (tr, ir), (td, idd) = row_ref(spec["rgb"]), row_ref(spec["diff"])
    rgb, diff = row_logits(plan, plan.row(tr, ir)), row_logits(plan, plan.row(td, idd))
    both = combine([rgb, diff], names=["rgb", "diff"])
    al = align([rgb, diff, both], ["rgb", "diff", "sum"])
    right = [predictions(x) == al.label for x in al.logits]
    n_boot = plan.study.bootstrap
    gains = {}
    for name, i in (("rgb", 0), ("diff", 1)):
        d, lo, hi = paired_difference(al.logits[2], al.logits[i], al.label, n_boot)
        gains[name] = {"gain": 100 * d, "low": 100 * lo, "high": 100 * hi, "resolved": bool(lo > 0 or hi < 0)}
    r, d_ = right[0], right[1]
    cells = {"both right": int((r & d_).sum()), "only RGB right": int((r & ~d_).sum()),
             "only Diff right": int((~r & d_).sum()), "neither": int((~r & ~d_).sum())}
    k = len(classes(plan))
    per_class = {name: per_class_accuracy(predictions(x), al.label, k) for name, x in zip(("rgb", "diff", "sum"),
                                                                                           al.logits)}
    acc = {name: 100 * float(x.mean()) for name, x in zip(("rgb", "diff", "sum"), right)}
    acc_ci = {name: [100 * v for v in bootstrap_mean(x, n_boot)] for name, x in zip(("rgb", "diff", "sum"), right)}
    beats_both = all(g["resolved"] and g["gain"] > 0 for g in gains.values())
    each = cells["only RGB right"] > 0 and cells["only Diff right"] > 0
    return {"claim": spec["claim"], "rows": {"rgb": f"{tr}:{ir}", "diff": f"{td}:{idd}"}, "videos": int(len(al.label)),
            "accuracy": acc, "accuracy_ci": acc_ci, "gains": gains, "cells": cells, "classes": classes(plan),
            "per_class": {name: v.tolist() for name, v in per_class.items()},
            "each_has_what_the_other_lacks": each, "sum_beats_both": beats_both}


def show_central_claim(plan: Plan) -> dict:
    from . import figures as F
    from . import fmt
    from .pages import _display, md, show_figure
    c = check_central_claim(plan)
    acc, ci_, g, cells = c["accuracy"], c["accuracy_ci"], c["gains"], c["cells"]
    gain = lambda x: fmt.with_ci(x["gain"], x["low"], x["high"], effect=True, resolved=x["resolved"])  # noqa: E731
    top1 = lambda k: fmt.with_ci(acc[k], *ci_[k])  # noqa: E731
    md(f"**The paper's central claim:** {c['claim']}. Checked on Table 3's rows {c['rows']['rgb']} (SlowFast RGB) and "
       f"{c['rows']['diff']} (SlowFast Diff), centre view, interval 1, {c['videos']} test videos.")
    table = pd.DataFrame([{"input": "RGB", "top-1 (%) [95% CI]": top1("rgb"),
                           "sum's gain over it (points) [95% CI]": gain(g["rgb"]),
                           "resolved?": "yes" if g["rgb"]["resolved"] else "no"},
                          {"input": "residual frames (Diff)", "top-1 (%) [95% CI]": top1("diff"),
                           "sum's gain over it (points) [95% CI]": gain(g["diff"]),
                           "resolved?": "yes" if g["diff"]["resolved"] else "no"},
                          {"input": "RGB + Diff (sum of pre-softmax logits)", "top-1 (%) [95% CI]": top1("sum"),
                           "sum's gain over it (points) [95% CI]": "", "resolved?": ""}])
    _display(table.style.hide(axis="index").set_caption("RGB, residual frames and their sum")
             .set_properties(subset=["input"], **{"text-align": "left"})
             .set_properties(subset=["top-1 (%) [95% CI]", "sum's gain over it (points) [95% CI]"],
                             **{"white-space": "nowrap"}))
    grid = pd.DataFrame({"Diff right": [cells["both right"], cells["only Diff right"]],
                         "Diff wrong": [cells["only RGB right"], cells["neither"]]}, index=["RGB right", "RGB wrong"])
    _display(grid.style.set_caption("Test videos by which input gets them right"))
    verdict = ("**On this run the ensemble beats both inputs** (both paired intervals exclude 0)."
               if c["sum_beats_both"] else
               "**On this run the ensemble does not beat both inputs with a resolved margin**"
               f" (gain over RGB {gain(g['rgb'])}, over Diff {gain(g['diff'])}).")
    md(f"{cells['only RGB right']} videos are right only with RGB and {cells['only Diff right']} only with residual "
       f"frames: each input gets videos right that the other gets wrong. {verdict}")
    names = c["classes"]
    show_figure(F.per_class_inputs(names, c["per_class"], chance(plan)),
                "Per-class top-1 of RGB, residual frames (Diff) and their sum on the test split, classes sorted by "
                "the difference between RGB and Diff: where one input fails the other may not.",
                "central_claim_per_class.png", plan)
    return c
