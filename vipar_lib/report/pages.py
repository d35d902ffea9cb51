"""What a notebook cell shows: one call per table, figure or finding, read from the run store through a plan.

A notebook is a parameters cell, ``open_study`` (validates everything, prints the banner), an
``execute`` cell (the study layer fills the run store), then calls into this module. Every table is
also written as CSV and every figure as PNG under ``reports/<profile>/`` (``study.reports_dir``),
and every figure carries alt text.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..ensemble import greedy_search
from ..metrics import confusion_matrix
from ..paper import PAPER_CITATION, table_meta
from ..study.config import READINGS, StudyConfig, check_notebook_parameters, load_study
from ..study.plan import Plan, plan_study
from . import figures as F
from .findings import check_findings, style_findings, tally
from .results import chance, classes, histories, row_logits, row_seed_logits, table_logits, warm_starts
from .runner import watch_page_units
from .tables import SYNTHETIC_BANNER, build_table, save_csv, style_table

__all__ = ["open_study", "banner", "md", "show_figure", "figures_dir", "table", "effects", "accuracy", "curves", "cost",
           "findings", "tta", "greedy", "confusion", "label_preservation", "challenge_files", "TABLE_TITLES"]

TABLE_TITLES = {"table1": "Table 1: SlowFast module ablations (test split, centre crop)",
                "table2": "Table 2: backbones and input types (test split, centre crop)",
                "table3": "Table 3: test-time augmentation (test split)",
                "table4": "Table 4: ensembles of pre-softmax logits (test split)"}


def _title(name: str) -> str:
    """``table1`` -> ``Table 1``."""
    return f"Table {name[-1]}" if name.startswith("table") else name


def _display(obj, **kw):
    from IPython.display import display
    display(obj, **kw)


def md(text: str) -> None:
    from IPython.display import Markdown
    _display(Markdown(text))


def open_study(profile: str, overrides: dict | None, namespace: dict | None = None) -> Plan:
    """Validate the notebook's parameters and the whole study config, show the banner, return the plan."""
    if namespace is not None:
        check_notebook_parameters(namespace)
    study = load_study(profile, overrides)
    if namespace is not None:
        watch_page_units(study)          # a run outside `vipar reproduce` marks the pages it makes stale (#21)
    banner(study)
    return plan_study(study)


def banner(study: StudyConfig) -> None:
    """First lines of every report: the profile, and for synthetic data that it is synthetic."""
    if study.synthetic:
        text = (f"> ⚠️ **Synthetic data.** **Profile: `{study.profile}`.** "
                + SYNTHETIC_BANNER.format(profile=study.profile))
    else:
        text = (f"**Profile: `{study.profile}`.** Real data ({study.dataset.kind}) under `{study.dataset.root}`; "
                "every model was trained by this run.")
    md(f"{text}\n\n**Reading: `{study.reading}`** — {READINGS[study.reading]}. Paper: {PAPER_CITATION}. "
       "Paper numbers appear only in the *paper* columns.")


def figures_dir(plan: Plan) -> Path:
    """Where a profile's figures go: ``reports/<profile>/figures``."""
    return plan.study.reports_path / "figures"


def show_figure(fig, alt: str, name: str = "", plan: Plan | None = None, folder: Path | None = None):
    """Save ``fig`` as PNG (when a folder is known) and display it with alt text.

    Returns nothing, so a notebook cell ending in a figure call shows the figure and no value.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    out = None
    folder = folder or (figures_dir(plan) if plan is not None else None)
    if folder is not None and name:
        out = Path(folder) / name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(buf.getvalue())
    b64 = base64.b64encode(buf.getvalue()).decode()
    _display(HTML(f'<figure style="margin:0"><img src="data:image/png;base64,{b64}" alt="{html.escape(alt)}" '
                  f'style="max-width:100%"><figcaption style="font-size:85%;color:#555">{html.escape(alt)}'
                  "</figcaption></figure>"))


def table(plan: Plan, name: str) -> pd.DataFrame:
    """Build, show and save (CSV) one of the paper's tables; returns the numeric DataFrame."""
    df = build_table(plan, name)
    # synthetic accuracy is never compared with UCF101's: the CSV, like the page, has no run − paper column
    save_csv(df.drop(columns=["run_minus_paper"]) if plan.study.synthetic else df,
             plan.study.reports_path / f"{name}.csv")
    c = chance(plan)
    _display(style_table(df, TABLE_TITLES[name], plan.study.synthetic, c))
    ref = table_meta(name).get("reference")
    if isinstance(ref, dict):
        ref_text = f"the {ref['view']} view of the same {', '.join(ref['same'])}"
    else:
        ref_text = f"row {ref}"
    note = f"Effects (Δ) are differences in top-1 to {ref_text}, on the same test videos. " + _interval_note(plan, name)
    note += f" Chance is {c:.1f}% ({len(classes(plan))} classes)."
    if plan.study.synthetic:
        note += (" On synthetic data, compare the **effects** with the paper's; the paper's accuracy is shown for "
                 "reference only (UCF101, another task).")
    md(note)
    return df


def _interval_note(plan: Plan, name: str) -> str:
    """What the page's intervals resample, in words."""
    n = plan.study.seed_count(name)
    if n > 1:
        seeds = ", ".join(map(str, plan.study.seed_list(name)))
        return (f"Every row has {n} seeds (`train.seed` {seeds}); each number is the mean over seeds, each "
                "seed's value is shown beside it, and every 95% interval covers **seeds and test videos** "
                "(a variance-component *t* interval, paired by seed and video; "
                "`vipar_lib.metrics.seed_video_interval`). *Resolved* means that interval excludes 0.")
    return ("Every row is a **single run** (one seed): its 95% intervals are paired bootstraps over **test videos "
            f"only** ({plan.study.bootstrap} resamples) and take the trained weights as fixed, so a rerun with another "
            "seed is not inside them; verdicts say *single run*. Set `seeds: 3` (params or overrides) for intervals "
            "over seeds and videos.")


def effects(plan: Plan, df: pd.DataFrame, name: str):
    ref = table_meta(name).get("reference")
    title = f"{_title(name)}: effects against {'the centre view' if isinstance(ref, dict) else ref}"
    n = plan.study.seed_count(name)
    what = (f"mean of {n} seeds with its 95% CI over seeds and videos (circles), each seed's difference (dots)"
            if n > 1 else "a single run, paired 95% CI over test videos (circles)")
    return show_figure(F.effects(df, title),
                       f"{title}: each row's difference in top-1 ({what}) beside the paper's difference (diamonds); "
                       "0 is no effect.", f"{name}_effects.png", plan)


def accuracy(plan: Plan, df: pd.DataFrame, name: str):
    c = chance(plan)
    synthetic = plan.study.synthetic
    title = f"{_title(name)}: top-1 accuracy" + (" (synthetic data)" if synthetic else "")
    n = plan.study.seed_count(name)
    what = f"mean of {n} seeds, dots: each seed; 95% intervals over seeds and videos" if n > 1 else \
        "a single run; 95% intervals over test videos"
    return show_figure(F.accuracy_bars(df, title, c, paper=not synthetic),
                       f"{title} ({what}); dashed line: chance ({c:.1f}%)"
                       + ("" if synthetic else "; orange: the paper's number") + ".", f"{name}_bars.png", plan)


def curves(plan: Plan, name: str):
    h = histories(plan, name)
    if not h:
        md("No training history in the run store for these runs.")
        return None
    title = f"{_title(name)}: training curves"
    shown = [plan.runs[n] for n in h if n in plan.runs] + [plan.runs[r.run] for r in plan.rows[name]
                                                          if r.run and str(r.id) in h]
    every = sorted({run.config.train.val_every for run in shown})
    val = "validation after every epoch" if every == [1] else \
        f"validation every {' or '.join(map(str, every))} epochs and after the last"
    seeds = plan.study.seed_count(name)
    which = "one line per run of the first seed" if seeds > 1 else "one line per run"
    fig = show_figure(F.training_curves(h, title, chance(plan)),
                      f"{title}: training loss per epoch and validation mean per-class accuracy ({val}), {which} "
                      "(bases included).", f"{name}_curves.png", plan)
    warm = warm_starts(plan, name)
    if warm:
        md("**Warm starts.** Each row fine-tunes the run named *base* (the paper's staged training, §III.B)"
           + (", the base of its own seed; the table shows the first seed" if seeds > 1 else "") + ". "
           "Weights are taken by name and shape; *fresh* tensors belong to modules the base lacks and start from "
           "their initialisation, so a row with many of them is closer to a short training from scratch.")
        _display(pd.DataFrame(warm).rename(columns={"fresh": "fresh (new modules)", "unused": "base tensors unused",
                                                    "mismatch": "shape mismatch"})
                 .style.hide(axis="index"))
    return fig


def cost(plan: Plan, df: pd.DataFrame, name: str):
    d = df.dropna(subset=["gflops", "params"])
    if d.empty:
        return None
    title = f"{_title(name)}: cost against accuracy"
    return show_figure(F.cost_accuracy(d, title, chance(plan)),
                       f"{title}: top-1 (95% CI) against forward GFLOPs per clip and against parameters.",
                       f"{name}_cost.png", plan)


def findings(plan: Plan, name: str | None = None, headline: bool | None = None) -> pd.DataFrame:
    df = check_findings(plan, name, headline)
    t = tally(df)
    cap = "The paper's findings, checked on this run" + (f" ({name})" if name else "")
    _display(style_findings(df, cap))
    if t["seeds"] > 1:
        md(f"**{t['resolved']} of {t['findings']}** findings are resolved by this run's {t['seeds']} seeds (the 95% "
           f"interval over seeds and test videos excludes 0); of those, **{t['agree']}** go the paper's way and "
           f"{t['against']} against it. An unresolved finding says nothing either way.")
    else:
        md(f"**{t['resolved']} of {t['findings']}** findings are resolved by a **single run** (the paired 95% interval "
           f"over test videos only excludes 0); of those, {t['agree']} go the paper's way and {t['against']} against "
           "it. A single run's verdict may not survive a rerun with another seed (`seeds: 3` checks it). An "
           "unresolved finding says nothing either way.")
    return df


def tta(plan: Plan, df: pd.DataFrame):
    c = chance(plan)
    return show_figure(F.tta_bars(df, c, "Table 3: top-1 per test-time view"),
                       f"Top-1 per test-time view, one panel per frame interval, one colour per model; dashed line: "
                       f"chance ({c:.1f}%).", "table3_views.png", plan)


def greedy(plan: Plan) -> dict:
    """Greedy forward selection of Table-3 rows on validation, reported on test."""
    if not plan.has_validation:
        md(f"No ensemble is chosen here: this profile trains on validation too (`dataset.train_list: "
           f"{plan.study.dataset.train_list}`), so there is nothing left to choose on, and vipar never chooses on "
           "test. (The release chose its checkpoints and ensembles on the 3,783 test videos; notebook 06 measures "
           "what that is worth.)")
        return {}
    seeds = plan.study.seed_list("table3")
    searches = []
    for i in range(len(seeds)):
        val = {str(k): v for k, v in table_logits(plan, "table3", "validation", i).items()}
        test = {str(k): v for k, v in table_logits(plan, "table3", "test", i).items()}
        searches.append((val, test, greedy_search(val, test)))
    val, test, search = searches[0]
    if len(seeds) > 1:
        _greedy_per_seed(seeds, [x[2] for x in searches])
    steps = pd.DataFrame(search["steps"])
    for col in ("val_mean_class", "val_top1", "test_mean_class", "test_top1"):
        steps[col] = (100 * steps[col]).round(1)
    md(f"Greedy forward selection (with replacement) of Table-3 rows, chosen on the **validation** split"
       f"{f' (seed {seeds[0]} shown step by step)' if len(seeds) > 1 else ''}: `{' + '.join(search['chosen'])}`. "
       "Test numbers are reported, never used to choose.")
    _display(steps.rename(columns={"added": "added row", "val_mean_class": "validation mean per-class (%)",
                                   "val_top1": "validation top-1 (%)", "test_mean_class": "test mean per-class (%)",
                                   "test_top1": "test top-1 (%)"}).style.format(precision=1).hide(axis="index"))
    order = sorted(val, key=lambda s: (0, int(s)) if s.isdigit() else (1, s))
    singles = {n: (val[n].mean_class, test[n].mean_class) for n in order}
    show_figure(F.ensemble_steps(search["steps"], singles, chance=chance(plan)),
                "Left: mean per-class accuracy of each Table-3 row alone on validation and test. Right: the greedy "
                f"ensemble after each added member, chosen on validation, reported on test (seed {seeds[0]}).",
                "table4_greedy.png", plan)
    return {**search, "per_seed": [{"seed": sd, "chosen": x[2]["chosen"],
                                    "test_mean_class": x[2]["steps"][-1]["test_mean_class"]}
                                   for sd, x in zip(seeds, searches)]}


def _greedy_per_seed(seeds, searches: list[dict]) -> None:
    """The greedy ensemble of every seed: what it chose on validation and what it scores on test."""
    rows = [{"seed": sd, "chosen on validation": " + ".join(x["chosen"]),
             "validation mean per-class (%)": round(100 * x["steps"][-1]["val_mean_class"], 1),
             "test mean per-class (%)": round(100 * x["steps"][-1]["test_mean_class"], 1)}
            for sd, x in zip(seeds, searches)]
    test = np.array([100 * x["steps"][-1]["test_mean_class"] for x in searches])
    md(f"**The greedy ensemble of each seed.** Its test mean per-class accuracy over the {len(seeds)} seeds: "
       f"{test.mean():.1f}% (seed SD {test.std(ddof=1):.1f}); which rows it chooses varies with the seed:")
    _display(pd.DataFrame(rows).style.format(precision=1).hide(axis="index"))


def confusion(plan: Plan, df: pd.DataFrame, name: str = "table4"):
    best = df.sort_values("run", ascending=False).iloc[0]["id"]
    lf = row_logits(plan, plan.row(name, best))
    cls = classes(plan)
    cm = confusion_matrix(lf.logits, lf.label, len(cls))
    seed = _first_seed(plan, name)
    return show_figure(F.confusion_and_per_class(cm, cls, f"Best ensemble ({best}{seed}) on test", chance(plan)),
                       f"Confusion matrix (row-normalised) and per-class accuracy of {best}{seed}, the most accurate "
                       "Table-4 row on test (mean over seeds).", f"{name}_confusion.png", plan)


def _first_seed(plan: Plan, name: str) -> str:
    """' , seed N' when a page shows one of several seeds."""
    seeds = plan.study.seed_list(name)
    return f", seed {seeds[0]}" if len(seeds) > 1 else ""


def challenge_files(plan: Plan, df: pd.DataFrame) -> dict:
    """Write the best recipe's submission file (challenge format) beside the reports, and score it."""
    from ..challenge import score_submission, write_ground_truth, write_submission
    best = df.sort_values("run", ascending=False).iloc[0]["id"]
    lf = row_logits(plan, plan.row("table4", best))
    out = plan.study.reports_path / "submission"
    sub = write_submission(lf, out / f"submission_{best}.txt")
    gt = write_ground_truth(lf, out / "test_ground_truth.txt")
    res = score_submission(sub, gt)
    md(f"Submission for **{best}**{_first_seed(plan, 'table4')} written to "
       f"`reports/{plan.study.profile}/submission/{sub.name}` (challenge format `clip.avi c1 … c5`). Challenge "
       f"metric (mean per-class accuracy): top-1 **{100 * res['top1']:.1f}%**, "
       f"top-3 {100 * res['top3']:.1f}%, top-5 {100 * res['top5']:.1f}%.")
    return res


def _pct(hits: np.ndarray) -> float:
    return round(100 * float(hits.mean()), 1) if len(hits) else np.nan


def label_preservation(plan: Plan) -> pd.DataFrame | None:
    """Per Table-3 view: accuracy on the classes the view relabels against the classes it keeps (synthetic data)."""
    if not plan.study.synthetic:
        md("Label preservation per class is known only for the synthetic data.")
        return None
    from ..data.synth import MIRROR_OF, REVERSE_OF
    from ..metrics import predictions
    names = classes(plan)
    changes = {"reverse": {i for i, c in enumerate(names) if REVERSE_OF.get(c, c) != c},
               "flip": {i for i, c in enumerate(names) if MIRROR_OF.get(c, c) != c}}
    changes["concat_reverse"] = changes["reverse"]
    rows = []
    for r in plan.rows["table3"]:
        files = row_seed_logits(plan, r)                 # every seed's videos, pooled
        right = np.concatenate([predictions(lf.logits) == lf.label for lf in files])
        changed = np.isin(np.concatenate([lf.label for lf in files]), list(changes.get(r.info["view"], set())))
        rows.append({"id": r.id, "model": f"{r.info['network']} {r.info['input']}", "interval": r.info["interval"],
                     "view": r.info["view"], "acc on classes the view relabels (%)": _pct(right[changed]),
                     "acc on classes it keeps (%)": _pct(right[~changed])})
    from .relabel import relabelled_by_view
    rel = {v: ", ".join(p) or "none of this run's classes" for v, p in relabelled_by_view(names).items()}
    md(f"For `reverse` the relabelled classes are those whose backwards playback is another class ({rel['reverse']}); "
       f"for `flip` those whose mirror image is another class ({rel['flip']}). `concat_reverse` shows both "
       "directions, so it is ambiguous for them. A view that is not label-preserving should lose accuracy on the "
       "relabelled classes only.")
    df = pd.DataFrame(rows)
    _display(df.style.format(precision=1, na_rep="–").hide(axis="index"))
    return df
