"""Notebook 06: the authors' released test logits, re-scored on the real UCF101 test set.

The DeepBlue team published one pre-softmax logits file per model and test-time view
(:mod:`vipar_lib.released` finds, parses, labels and scores them). This module shows what those
numbers say about the paper's test-time and ensemble questions, one call per notebook section::

    page = released.open_release(profile, overrides, globals())   # banner, scores everything once
    released.in_brief(page)        # the numbers that matter, in five lines
    released.files(page)           # what each file is (catalogue) and how accurate it is
    released.table3(page)          # each view against the centre view of the same model and interval
    released.rgb_diff(page)        # RGB against residual input, and their sum
    released.table4(page)          # the paper's recipes rebuilt from the files that exist
    released.selection(page)       # how the ensemble was chosen: on test, or cross-fitted
    released.per_class(page)       # per-class accuracy and confusions of the best ensemble

Every number is computed from the authors' own predictions (never from a model trained here) and
every caption says so (:data:`LABEL`); the paper's numbers appear only as the reference column.
:func:`open_release` writes ``released.json`` (read by the index page) and each section its CSV
and PNG under ``reports/<profile>/``. When the release is not found the first lines say so and how
to get it, and every section is skipped: the notebook still completes.
"""
from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import released as R
from ..paper import PAPER_CITATION, paper_rows
from ..paths import resolve
from ..study.config import StudyConfig, check_notebook_parameters, load_study
from . import figures as F
from . import fmt
from .pages import _display, md, show_figure
from .runner import watch_page_units
from .tables import save_csv

__all__ = ["LABEL", "ReleasedPage", "open_release", "in_brief", "files", "table3", "rgb_diff", "table4",
           "selection", "per_class", "power", "how_to_get", "summary_json", "JSON_NAME"]

LABEL = "authors' released logits, real UCF101 test set"
JSON_NAME = "released.json"
_TITLE = LABEL[0].upper() + LABEL[1:]
RGB_COLOR, DIFF_COLOR, TSM_COLOR, SUM_COLOR = F.RUN_COLOR, "#55A868", "#8172B3", "#C44E52"
VIEW_NAMES = {"center": "centre", "flip": "horizontal flip", "random_crop": "random crop", "reverse": "reverse order",
              "concat_reverse": "normal+reverse concatenated", "random": "one random clip",
              "random_interval": "random interval (1 or 2)"}


# ------------------------------------------------------------------------------------------------ the page
@dataclass
class ReleasedPage:
    """What the sections read: the study (for paths), the release's location and its scored report."""

    study: StudyConfig
    release_dir: Path | None
    lists_dir: Path | None
    report: dict | None = None
    error: str | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.report is not None

    @property
    def out(self) -> Path:
        return self.study.reports_path

    @property
    def figures(self) -> Path:
        return self.out / "figures"

    @property
    def n_boot(self) -> int:
        return int(self.report["ci"]["resamples"]) if self.report else self.study.bootstrap


def how_to_get(profile: str = "demo") -> str:
    """Markdown: the ways to get the release and to point a report at it."""
    if profile.startswith("dryrun-"):                  # a dry run's study is named after its profile
        profile = f"{profile[len('dryrun-'):]} --dry-run"
    return (f"**How to get it.** `vipar released fetch` clones "
            f"[{R.RELEASE_REPO}](https://github.com/{R.RELEASE_REPO}) into `data/deepblue-release` (the `ucf101` "
            f"profile's `release.dir`). Offline: download "
            f"`https://github.com/{R.RELEASE_REPO}/archive/{R.RELEASE_COMMIT}.zip`, unpack it, or copy the release's "
            "`*.txt` logits into any folder. Then point the report at it: `vipar reproduce --profile "
            f"{profile} --set release.dir=/path/to/release --only 06_released_logits`, or in this notebook "
            "`overrides = {\"release\": {\"dir\": \"/path/to/release\", \"lists\": \"/path/to/ucfTrainTestlist\"}}`. "
            "The labels come from the official `ucfTrainTestlist/` (`release.lists`). The release has no licence "
            "file, so vipar never copies it into its own tree.")


def open_release(profile: str, overrides: dict | None, namespace: dict | None = None) -> ReleasedPage:
    """Validate the parameters, show the real-data banner, score the release once, write ``released.json``.

    The banner's first words are :data:`LABEL`. A release that is not found (or whose labels or files
    cannot be used) is said in the first lines, with how to get it; the page is then empty but valid.
    """
    if namespace is not None:
        check_notebook_parameters(namespace)
    study = load_study(profile, overrides)
    if namespace is not None:
        watch_page_units(study)          # a run outside `vipar reproduce` marks the pages it makes stale (#21)
    rd = Path(os.path.normpath(resolve(study.release.dir))) if study.release.dir else None
    ld = Path(os.path.normpath(resolve(study.release.lists))) if study.release.lists else None
    page = ReleasedPage(study, rd, ld)
    t0 = time.perf_counter()
    if rd is None:
        page.error = f"`release.dir` is not set in profile `{study.profile}`"
    elif ld is None:
        page.error = f"`release.lists` (the official ucfTrainTestlist/ folder) is not set in profile `{study.profile}`"
    else:
        try:
            page.report = R.report(rd, ld, cache_dir=study.runs_path.parent / "released-cache",
                                   n_boot=study.bootstrap, seed=0, repeats=10)
        except (R.ReleasedError, OSError) as e:
            page.error = str(e)
    page.seconds = time.perf_counter() - t0
    if page.found:
        page.extra["training_list"] = _training_list(rd)
    _banner(page)
    summary_json(page)
    return page


def _banner(page: ReleasedPage) -> None:
    s = page.study
    profile = (f"**Profile: `{s.profile}`.** This notebook does not use the profile's data or training"
               + (" (Synthetic data and stand-in models are used by the other reports of this profile, not here)"
                  if s.synthetic else "") + ": it reads the DeepBlue team's own predictions.")
    if not page.found:
        err = page.error or ""
        absent = page.release_dir is None or not page.release_dir.is_dir() or "no logits files" in err
        what = "the release was not found" if absent else "the release could not be scored"
        md(f"> **{_TITLE}: {what}.** {html.escape(err)}\n>\n"
           f"> Looked for the release in `{page.release_dir or '(not set)'}` and the UCF101 lists in "
           f"`{page.lists_dir or '(not set)'}`. Nothing below can be computed without them; the other reports of "
           f"this profile are not affected.\n\n{how_to_get(s.profile)}\n\n{profile}")
        return
    r = page.report
    src = r["source"]
    md(f"> **{_TITLE}.** Every number in this report is computed from the pre-softmax test logits that the "
       f"authors published ([{src['repo']}](https://github.com/{src['repo']}), commit `{src['commit'][:7]}`), "
       f"scored against the labels of the official `testlist01.txt`: {src['videos']:,} test videos of the VIPriors "
       f"2020 split, {src['classes']} UCF101 classes (chance = {100 / src['classes']:.1f}%). No model was trained "
       f"or evaluated by vipar for it.\n\n{profile}\n\n"
       f"Release folder `{src['release_dir']}`; {len(r['files'])} logits files scored in {page.seconds:.1f} s "
       f"({len(r['cache']['cached'])} from the cache `{_short(r['cache']['dir'])}`). Intervals: 95% percentile "
       f"bootstrap over test videos, {page.n_boot} resamples, the same resamples for every file. Paper: "
       f"{PAPER_CITATION}; its numbers appear only in the *paper* columns.")


def _short(p) -> str:
    if p is None:
        return "none"
    try:
        return str(Path(p).resolve().relative_to(resolve(".").resolve()))
    except ValueError:
        return str(p)


def _training_list(release_dir: Path) -> dict | None:
    """What the release's training list holds (``train22.txt``): challenge train and validation videos."""
    hits = sorted(p for p in Path(release_dir).rglob("train22.txt") if p.is_file())
    if not hits:
        return None
    names = [ln.split()[0] for ln in hits[0].read_text(errors="replace").splitlines() if ln.strip()]
    uniq = set(names)
    return {"file": str(hits[0].relative_to(release_dir)), "lines": len(names), "videos": len(uniq),
            "train": sum(n.startswith("video_train_") for n in uniq),
            "validation": sum(n.startswith("video_validation_") for n in uniq),
            "test": sum(n.startswith("video_test_") for n in uniq)}


# ------------------------------------------------------------------------------------------------- helpers
def _pct(x) -> float:
    return np.nan if x is None else 100.0 * float(x)


def _f(x, d: int = 1, sign: bool = False) -> str:
    return fmt.num(x, d, sign)


def _ci(lo, hi, d: int = 1, sign: bool = False) -> str:
    if lo is None or hi is None:
        return ""
    return f"[{_f(100 * lo, d, sign)}, {_f(100 * hi, d, sign)}]"


def _d(lo, hi, effect: bool = False, resolved: bool | None = None) -> int:
    """Decimals of a number whose interval is ``[lo, hi]`` (fractions), by the one rule (:mod:`.fmt`)."""
    return fmt.places(_pct(lo), _pct(hi), effect, resolved)


def _style(df: pd.DataFrame, caption: str, text_cols=(), wide_cols=()):
    """A Styler without index, caption on top, text columns left-aligned, long text columns wrapped."""
    sty = df.style.hide(axis="index")
    text = [c for c in df.columns if c in text_cols]
    if text:
        sty = sty.set_properties(subset=text, **{"text-align": "left"})
    ci = [c for c in df.columns if "CI" in str(c)]
    if ci:
        sty = sty.set_properties(subset=ci, **{"white-space": "nowrap"})
    heads = [{"selector": f"th.col_heading.col{i}", "props": "text-align: left"}
             for i, c in enumerate(df.columns) if c in text_cols]
    wide = [c for c in df.columns if c in wide_cols]
    if wide:
        sty = sty.set_properties(subset=wide, **{"white-space": "normal", "min-width": "16em", "max-width": "30em"})
    return sty.set_caption(caption).set_table_styles(
        [{"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left; font-size: 1.05em"},
         {"selector": "td", "props": "font-variant-numeric: tabular-nums"}] + heads)


def _html(text: str) -> None:
    from IPython.display import HTML
    _display(HTML(text))


def _order(page: ReleasedPage) -> list[str]:
    """Files in catalogue order (RGB, Diff, one-clip files, TSM), uncatalogued ones last."""
    cat = R.catalogue()["files"]
    have = page.report["files"]
    return [s for s in cat if s in have] + sorted(s for s in have if s not in cat)


def _model(e: dict) -> str:
    return {"slowfast": "SlowFast", "tsm": "TSM"}.get(e.get("model"), str(e.get("model") or "?"))


def _inp(e: dict) -> str:
    return {"rgb": "RGB", "diff": "Diff"}.get(e.get("input"), str(e.get("input") or "?"))


def _mark(value, fld: str, e: dict) -> str:
    v = "?" if value is None else str(value)
    return v + ("†" if fld in (e.get("name_only") or []) else "")


def _cap(text: str) -> str:
    return f"{text} — {LABEL}"


# -------------------------------------------------------------------------------------------------- JSON
def summary_json(page: ReleasedPage) -> Path:
    """``reports/<profile>/released.json``: what the index shows (fractions in [0, 1])."""
    out = {"label": LABEL, "profile": page.study.profile, "found": page.found,
           "release_dir": str(page.release_dir) if page.release_dir else None,
           "lists_dir": str(page.lists_dir) if page.lists_dir else None,
           "written": time.strftime("%Y-%m-%d %H:%M")}
    if not page.found:
        out["error"] = page.error
        out["how_to_get"] = ("vipar released fetch; or download the repository's zip from GitHub "
                             f"(github.com/{R.RELEASE_REPO}) and set release.dir (vipar reproduce --set "
                             "release.dir=...)")
    else:
        r = page.report
        rows = []
        for s in _order(page):
            f = r["files"][s]
            rows.append({"file": s, **{k: f.get(k) for k in ("model", "input", "interval", "view", "clips", "table3",
                                                               "top1", "top5", "mean_class", "ci_low", "ci_high",
                                                               "top1_ci_low", "top1_ci_high")}})
        top1 = [x["top1"] for x in rows]
        alls = [x for x in r["rgb_vs_diff"] if str(x["rgb"]).startswith("all ")]
        rd = alls[0] if alls else (max(r["rgb_vs_diff"], key=lambda x: x["sum_mean_class"]) if r["rgb_vs_diff"]
                                   else None)
        sel = r["selection"]
        best4 = max((x for x in r["table4"] if x.get("members")), key=lambda x: x["mean_class"], default=None)
        out.update({
            "source": r["source"], "videos": r["source"]["videos"], "classes": r["source"]["classes"],
            "bootstrap": page.n_boot, "files": rows,
            "range_top1": {"min": min(top1), "max": max(top1), "min_file": rows[int(np.argmin(top1))]["file"],
                           "max_file": rows[int(np.argmax(top1))]["file"]},
            "sum_all": {k: r["sum_all"][k] for k in ("top1", "top5", "mean_class", "ci_low", "ci_high",
                                                     "top1_ci_low", "top1_ci_high")} | {"files": len(rows)},
            "rgb_diff": None if rd is None else {"pair": _pair_name(rd)} | {k: rd[k] for k in (
                "rgb", "diff", "rgb_top1", "diff_top1", "sum_top1", "rgb_mean_class", "diff_mean_class",
                "sum_mean_class", "better_single", "gain_top1", "gain_top1_ci_low", "gain_top1_ci_high",
                "gain_mean_class", "gain_mean_class_ci_low", "gain_mean_class_ci_high", "both", "only_rgb",
                "only_diff", "neither")},
            "selection": {"test_chosen": {k: sel["test_chosen"][k] for k in ("top1", "mean_class", "members")},
                          "crossfit": {k: sel["crossfit"][k] for k in ("top1", "mean_class", "repeats")},
                          "optimism": sel["optimism"], "procedure": sel["procedure"]},
            "table4": [{"id": x["id"], "paper_acc": x["paper_acc"], "complete": x["complete"],
                        "missing": len(x["missing"]), "members": len(x["members"]),
                        **{k: x.get(k) for k in ("top1", "mean_class", "ci_low", "ci_high")}} for x in r["table4"]],
            "best_table4": None if best4 is None else {"id": best4["id"], "mean_class": best4["mean_class"],
                                                       "paper_acc": best4["paper_acc"]},
            "problems": r["problems"], "timing": r["timing"] | {"notebook_load_s": round(page.seconds, 3)}})
    p = page.out / JSON_NAME
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(out, indent=1))
    return p


# ---------------------------------------------------------------------------------------------- in brief
def in_brief(page: ReleasedPage) -> str | None:
    """Five lines: per-file range, the plain sum, RGB+Diff, the best rebuilt recipe, the optimism of test choice."""
    if not page.found:
        return None
    j = json.loads((page.out / JSON_NAME).read_text())
    r = page.report
    rng, sa, sel = j["range_top1"], j["sum_all"], j["selection"]
    fmin, fmax = r["files"].get(rng["min_file"], {}), r["files"].get(rng["max_file"], {})
    d1 = _d(sa["top1_ci_low"], sa["top1_ci_high"])
    dmin, dmax = (_d(f.get("top1_ci_low"), f.get("top1_ci_high")) for f in (fmin, fmax))
    lines = [f"## In brief ({LABEL})",
             f"- **Single files:** top-1 from {_f(_pct(rng['min']), dmin)}% (`{rng['min_file']}`) to "
             f"{_f(_pct(rng['max']), dmax)}% (`{rng['max_file']}`); chance is {100 / j['classes']:.1f}%.",
             f"- **Plain sum of all {sa['files']} files:** top-1 {_f(_pct(sa['top1']), d1)}% "
             f"{_ci(sa['top1_ci_low'], sa['top1_ci_high'], d1)}, "
             f"mean per-class {_f(_pct(sa['mean_class']), _d(sa['ci_low'], sa['ci_high']))}% "
             f"{_ci(sa['ci_low'], sa['ci_high'], _d(sa['ci_low'], sa['ci_high']))}."]
    rd = j["rgb_diff"]
    if rd:
        dg = _d(rd["gain_top1_ci_low"], rd["gain_top1_ci_high"], effect=True)
        lines.append(f"- **RGB + residual frames** ({rd['pair']}): top-1 {_f(_pct(rd['rgb_top1']))}% "
                     f"and {_f(_pct(rd['diff_top1']))}% alone, {_f(_pct(rd['sum_top1']))}% summed: "
                     f"{_f(_pct(rd['gain_top1']), dg, True)} points over the better input "
                     f"{_ci(rd['gain_top1_ci_low'], rd['gain_top1_ci_high'], dg, True)}; "
                     f"{rd['only_diff']} videos only Diff gets right, {rd['only_rgb']} only RGB.")
    b4 = j["best_table4"]
    if b4:
        inc = [x for x in j["table4"] if not x["complete"]]
        lines.append(f"- **Paper's Table-4 recipes rebuilt from the files that exist:** best {b4['id']} at "
                     f"{_f(_pct(b4['mean_class']))}% mean per-class (paper: {b4['paper_acc']:.1f}%); "
                     + (f"{len(inc)} of {len(j['table4'])} recipes lack released files for some of their rows."
                        if inc else "every recipe is complete."))
    o = sel["optimism"]
    do = _d(o["ci_low"], o["ci_high"], effect=True)
    lines.append(f"- **Choosing the ensemble on the test labels** (as the release's `fusion.py` does) scores "
                 f"{_f(_pct(sel['test_chosen']['mean_class']), do)}% mean per-class; the same greedy choice made on "
                 f"one half and scored on the other scores {_f(_pct(sel['crossfit']['mean_class']), do)}% "
                 f"({sel['crossfit']['repeats']} random halvings): an optimism of "
                 f"{_f(_pct(o['mean_class']), do, True)} points {_ci(o['ci_low'], o['ci_high'], do, True)}.")
    if r["problems"]:
        lines.append(f"- **{len(r['problems'])} file(s) left out** as unreadable (see *What each file is*).")
    text = "\n".join(lines)
    md(text)
    return text


# -------------------------------------------------------------------------------------------------- files
def files(page: ReleasedPage) -> pd.DataFrame | None:
    """What each file is (from the release's code) and its accuracy; CSV ``released_files.csv``."""
    if not page.found:
        return None
    r = page.report
    cat = r["catalogue"]
    order = _order(page)
    md("## What each file is\n\nThe release's file names are its only labels. What each file holds was read from "
       "the release's own code (`vipar_lib/released_files.yaml`, with `file:line` evidence below); a field marked "
       "**†** has **no evidence but the file name**. *Paper row* is the Table-3 row the file stands for under this "
       "reading.")
    out, num = [], []
    for s in order:
        f, e = r["files"][s], cat.get(s, {})
        d1, dm = _d(f["top1_ci_low"], f["top1_ci_high"]), _d(f["ci_low"], f["ci_high"])
        out.append({"file": s, "model": _mark(_model(e) if e else None, "model", e),
                    "input": _mark(_inp(e) if e else None, "input", e),
                    "interval": _mark(e.get("interval"), "interval", e),
                    "test-time view": _mark(VIEW_NAMES.get(e.get("view"), e.get("view")), "view", e),
                    "clips": _mark(e.get("clips"), "clips", e),
                    "paper row": "" if e.get("table3") is None else str(e["table3"]),
                    "top-1 (%)": _f(_pct(f["top1"]), d1), "top-1 95% CI": _ci(f["top1_ci_low"], f["top1_ci_high"], d1),
                    "top-5 (%)": _f(_pct(f["top5"]), d1),
                    "mean per-class (%)": _f(_pct(f["mean_class"]), dm),
                    "mean per-class 95% CI": _ci(f["ci_low"], f["ci_high"], dm)})
        num.append({"file": s, "model": e.get("model"), "input": e.get("input"), "interval": e.get("interval"),
                    "view": e.get("view"), "clips": e.get("clips"), "weights": e.get("weights"),
                    "paper_table3_row": e.get("table3"), "name_only": " ".join(e.get("name_only") or []),
                    **{k: _pct(f[k]) for k in ("top1", "top1_ci_low", "top1_ci_high", "top5", "mean_class", "ci_low",
                                               "ci_high")}})
    sa = r["sum_all"]
    d1, dm = _d(sa["top1_ci_low"], sa["top1_ci_high"]), _d(sa["ci_low"], sa["ci_high"])
    out.append({"file": f"sum of all {len(order)} files", "model": "", "input": "", "interval": "",
                "test-time view": "", "clips": "", "paper row": "",
                "top-1 (%)": _f(_pct(sa["top1"]), d1), "top-1 95% CI": _ci(sa["top1_ci_low"], sa["top1_ci_high"], d1),
                "top-5 (%)": _f(_pct(sa["top5"]), d1), "mean per-class (%)": _f(_pct(sa["mean_class"]), dm),
                "mean per-class 95% CI": _ci(sa["ci_low"], sa["ci_high"], dm)})
    num.append({"file": "sum_all", **{k: _pct(sa[k]) for k in ("top1", "top1_ci_low", "top1_ci_high", "top5",
                                                               "mean_class", "ci_low", "ci_high")}})
    df = pd.DataFrame(out)
    save_csv(pd.DataFrame(num), page.out / "released_files.csv")
    _display(_style(df, _cap("The released logits files: what each is and how accurate it is on the 3,783 test "
                             "videos"), text_cols=("file", "model", "input", "test-time view"))
             .set_properties(subset=pd.IndexSlice[len(df) - 1, :], **{"font-weight": "bold",
                                                                       "border-top": "2px solid #888"}))
    notes = ["† = the file name is the only evidence for this field. Top-1 and mean per-class accuracy (the "
             "challenge metric) in %, 95% bootstrap intervals over test videos. Table: `released_files.csv`."]
    readings = [(s, cat[s]["reading"]) for s in order if cat.get(s, {}).get("reading")]
    if readings:
        notes.append("**Readings** where the name had to be interpreted:\n" +
                     "\n".join(f"- `{s}`: {txt}" for s, txt in readings))
    unc = r["uncatalogued"]
    if unc:
        notes.append(f"**Not in the catalogue** (scored, but what they hold is unknown): {', '.join(unc)}.")
    if r["absent"]:
        notes.append(f"**Catalogued but not in this folder:** {', '.join(f'`{s}`' for s in r['absent'])}.")
    if r["problems"]:
        notes.append("**Left out** (the file could not be read as logits; the rest of the report goes on without it):\n"
                     + "\n".join(f"- `{p['file']}`" + (f", line {p['line']}" if p.get("line") else "")
                                 + f": {p['problem']}" for p in r["problems"]))
    if r["skipped"]:
        names = ", ".join(f"`{Path(s['file']).name}`" for s in r["skipped"][:8])
        notes.append(f"Other `.txt` files in the folder, not logits (skipped): {names}"
                     + (f" and {len(r['skipped']) - 8} more" if len(r["skipped"]) > 8 else "") + ".")
    md("\n\n".join(notes))
    ev = "".join(f"<li><code>{html.escape(s)}</code><ul>"
                 + "".join(f"<li>{html.escape(x)}</li>" for x in cat[s]["evidence"]) + "</ul></li>"
                 for s in order if s in cat)
    _html(f"<details><summary>Evidence for each file (<code>file:line</code> in {R.RELEASE_REPO} at "
          f"<code>{R.RELEASE_COMMIT[:7]}</code>; “name” = the file name)</summary><ul style='font-size:90%'>{ev}"
          "</ul></details>")
    show_figure(_files_figure(page, order),
                _cap(f"Top-1 of each released file with its 95% interval (circles: SlowFast, square: TSM; blue: RGB, "
                     f"green: Diff) beside the paper's Table-3 number for the row it stands for (orange diamonds); "
                     f"red line: the plain sum of all {len(order)} files. Chance is "
                     f"{100 / r['source']['classes']:.1f}%, far left of the axis"),
                "released_files.png", folder=page.figures)
    return df


def _files_figure(page: ReleasedPage, order: list[str]):
    plt = F._plt()
    r = page.report
    paper = {p["id"]: p["acc"] for p in paper_rows("table3")}
    rows = sorted(order, key=lambda s: r["files"][s]["top1"])
    fig, ax = plt.subplots(figsize=(9, 0.33 * len(rows) + 1.6))
    y = np.arange(len(rows))
    for i, s in enumerate(rows):
        f = r["files"][s]
        c = DIFF_COLOR if f.get("input") == "diff" else RGB_COLOR
        err = [[_pct(f["top1"] - f["top1_ci_low"])], [_pct(f["top1_ci_high"] - f["top1"])]]
        ax.errorbar(_pct(f["top1"]), i, xerr=err, fmt="s" if f.get("model") == "tsm" else "o", color=c, capsize=2, ms=5)
        if f.get("table3") in paper:
            ax.scatter(paper[f["table3"]], i, marker="D", color=F.PAPER_COLOR, zorder=3, s=22)
    sa = _pct(r["sum_all"]["top1"])
    ax.axvline(sa, color=SUM_COLOR, lw=1.2)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], marker="o", ls="", color=RGB_COLOR, label="RGB input (95% CI)"),
               Line2D([], [], marker="o", ls="", color=DIFF_COLOR, label="Diff input (95% CI)"),
               Line2D([], [], marker="s", ls="", color="0.4", label="TSM (others SlowFast)"),
               Line2D([], [], marker="D", ls="", color=F.PAPER_COLOR, label="paper, Table-3 row"),
               Line2D([], [], color=SUM_COLOR, label=f"sum of all files ({sa:.1f}%)")]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_yticks(y, rows, fontsize=8)
    lo = min(min(_pct(r["files"][s]["top1_ci_low"]) for s in rows), min(paper.values()))
    ax.set(xlabel="top-1 accuracy (%)", xlim=(np.floor(lo - 2), min(100, np.ceil(sa + 3))),
           title="Each released file on the real UCF101 test set\n(authors' released logits)")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ Table 3
def table3(page: ReleasedPage) -> pd.DataFrame | None:
    """Each view against the centre view of the same model and interval (paired), beside the paper's deltas."""
    if not page.found:
        return None
    r = page.report
    pos = {f: i for i, f in enumerate(_order(page))}
    rows = sorted((x for x in r["table3"] if x.get("file")), key=lambda x: pos.get(x["file"], len(pos)))
    missing = [x for x in r["table3"] if x.get("missing")]
    p3 = paper_rows("table3")
    best_paper = max(p["acc"] for p in p3)
    above = [s for s, f in r["files"].items() if _pct(f["top1"]) > best_paper]
    tl = page.extra.get("training_list")
    if tl:
        tl_text = (f"the release's training list (`{tl['file']}`) holds {tl['videos']:,} distinct videos: "
                   f"{tl['train']:,} of the challenge's train split and {tl['validation']:,} of its validation split "
                   f"({tl['lines']:,} lines with repeats)")
    else:
        tl_text = ("the release's training list (`lists/train22.txt` in the repository; not found in this folder) "
                   "holds the challenge's train and validation videos")
    md("## Table 3 on real data: test-time views\n\n"
       "Each released view is compared with the **centre view of the same model, input and interval** on the same "
       "3,783 test videos (paired bootstrap over videos), beside the paper's Table-3 difference between the same two "
       "rows.\n\n"
       f"> **These are not the paper's Table-3 models.** The paper's Table-3 models were trained on the challenge's "
       f"train split and tuned on its validation split; {tl_text}: the released models were trained on "
       f"train **and** validation. Accordingly {len(above)} of the {len(r['files'])} released files score above "
       f"every row of the paper's Table 3 (best: {best_paper:.1f}%). Compare **differences between views**, not "
       f"accuracies.")
    out, num = [], []
    for x in rows:
        e = r["catalogue"].get(x["file"], {})
        has = x.get("reference") is not None
        lo, hi = x.get("diff_top1_ci_low"), x.get("diff_top1_ci_high")
        f = r["files"][x["file"]]
        d_acc = _d(f["top1_ci_low"], f["top1_ci_high"])
        d_eff = _d(lo, hi, effect=True) if has else 1
        if has:
            res = lo > 0 or hi < 0
            pd_ = x.get("paper_diff")
            if res:
                agree = "" if pd_ is None else (", as the paper" if np.sign(x["diff_top1"]) == np.sign(pd_)
                                                 else ", against the paper")
                verdict = f"yes ({'+' if x['diff_top1'] > 0 else '−'}{agree})"
            else:
                verdict = "not resolved"
        else:
            verdict = "reference" if x["view"] == "center" else "no centre file released"
        out.append({"file": x["file"], "model": _model(e), "input": _inp(e),
                    "interval": _mark(x["interval"], "interval", e),
                    "view": _mark(VIEW_NAMES.get(x["view"], x["view"]), "view", e),
                    "top-1 (%)": _f(_pct(x["top1"]), d_acc),
                    "vs": x.get("reference") or "",
                    "Δ top-1 (points)": _f(_pct(x.get("diff_top1")), d_eff, True) if has else "",
                    "Δ 95% CI": _ci(lo, hi, d_eff, True) if has else "",
                    "resolved?": verdict,
                    "paper row": "" if x.get("paper_id") is None else str(x["paper_id"]),
                    "paper: top-1 (%)": _f(x.get("paper_acc"), 1) if x.get("paper_acc") is not None else "",
                    "paper: Δ": _f(x.get("paper_diff"), 1, True) if x.get("paper_diff") is not None else ""})
        num.append({"file": x["file"], "model": x["model"], "input": x["input"], "interval": x["interval"],
                    "view": x["view"], "top1": _pct(x["top1"]), "mean_class": _pct(x["mean_class"]),
                    "reference": x.get("reference"), "diff_top1": _pct(x.get("diff_top1")),
                    "diff_top1_ci_low": _pct(lo), "diff_top1_ci_high": _pct(hi),
                    "diff_mean_class": _pct(x.get("diff_mean_class")),
                    "diff_mean_class_ci_low": _pct(x.get("diff_mean_class_ci_low")),
                    "diff_mean_class_ci_high": _pct(x.get("diff_mean_class_ci_high")),
                    "paper_row": x.get("paper_id"), "paper_acc": x.get("paper_acc"), "paper_diff": x.get("paper_diff")})
    df = pd.DataFrame(out)
    save_csv(pd.DataFrame(num), page.out / "released_table3.csv")
    _display(_style(df, _cap("Table 3 on real data: each view minus the centre view of the same model and "
                             "interval (top-1, paired 95% CI); the paper's Table-3 difference for reference"),
                    text_cols=("file", "model", "input", "view", "vs", "resolved?")))
    miss = "; ".join(f"{m['paper_id']} ({'SlowFast' if m['model'] == 'slowfast' else 'TSM'} "
                     f"{'RGB' if m['input'] == 'rgb' else 'Diff'} interval {m['interval']}, "
                     f"{VIEW_NAMES.get(m['view'], m['view'])}"
                     + (f"; under another reading: {', '.join(m['alternative_files'])}" if m.get("alternative_files")
                        else "") + ")" for m in missing)
    md("Δ = this file's top-1 minus its centre view's, in points, on the same videos; *resolved* = the paired 95% "
       "interval excludes 0, and then whether it goes the paper's way. † = read from the file name only. "
       "One-clip files (`95rgb`, `95diff`) and `fanzhuan_tsm` have no released centre view to compare with. "
       + (f"**Paper rows with no released file:** {miss}." if missing else "")
       + " Table: `released_table3.csv` (also the mean per-class differences).")
    show_figure(_table3_figure(rows), _cap("Each test-time view minus the centre view of the same model and interval, "
                                           "in top-1 points (circles, paired 95% CI) beside the paper's Table-3 "
                                           "difference between the same rows (diamonds); 0 = no effect"),
                "released_table3.png", folder=page.figures)
    return df


def _table3_figure(rows: list[dict]):
    plt = F._plt()
    d = [x for x in rows if x.get("reference")]
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * max(1, len(d)) + 1.6))
    y = np.arange(len(d))[::-1]
    for yi, x in zip(y, d):
        c = DIFF_COLOR if x["input"] == "diff" else RGB_COLOR
        ax.errorbar(_pct(x["diff_top1"]), yi, xerr=[[_pct(x["diff_top1"] - x["diff_top1_ci_low"])],
                                                    [_pct(x["diff_top1_ci_high"] - x["diff_top1"])]],
                    fmt="o", color=c, capsize=3)
        if x.get("paper_diff") is not None:
            ax.scatter(x["paper_diff"], yi, marker="D", color=F.PAPER_COLOR, zorder=3)
    ax.axvline(0, color="0.3", lw=1)
    labels = [f"{x['input'].upper() if x['input'] == 'rgb' else 'Diff'} i{x['interval']} "
              f"{VIEW_NAMES.get(x['view'], x['view'])}" for x in d]
    ax.set_yticks(y, labels, fontsize=8)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], marker="o", ls="", color=RGB_COLOR, label="RGB, released logits (95% CI)"),
               Line2D([], [], marker="o", ls="", color=DIFF_COLOR, label="Diff, released logits (95% CI)"),
               Line2D([], [], marker="D", ls="", color=F.PAPER_COLOR, label="paper (Table 3)")]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set(xlabel="view minus centre view, top-1 (points)",
           title="Table 3 on real data: views against the centre view\n(authors' released logits)")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------- RGB vs Diff
def _pair_name(x: dict) -> str:
    if str(x["rgb"]).startswith("all "):
        # files pair up by model, interval, view, clips and weights: an RGB view without a Diff twin is left out
        return f"the {len(x['members_rgb'])} RGB files with a Diff twin + those {len(x['members_diff'])} Diff files"
    return f"interval {x['interval']}, {VIEW_NAMES.get(x['view'], x['view'])}" + (
        f", {x['clips']} clip" if x.get("clips") == 1 else "")


def _pairs(page: ReleasedPage) -> list[dict]:
    """RGB/Diff pairs in catalogue order of their RGB file, the all-files rows last."""
    pos = {f: i for i, f in enumerate(_order(page))}
    return sorted(page.report["rgb_vs_diff"], key=lambda x: (str(x["rgb"]).startswith("all "),
                                                             pos.get(x["rgb"], len(pos))))


def rgb_diff(page: ReleasedPage) -> pd.DataFrame | None:
    """RGB against residual input: each alone, their sum, and the videos each gets right."""
    if not page.found:
        return None
    rows = _pairs(page)
    paired = {f for x in rows for f in (x["rgb"], x["diff"])}
    all_weights = {x["weights"] for x in rows if str(x["rgb"]).startswith("all ")}
    cat = page.report["catalogue"]
    unpaired = sorted(f for f in page.report["files"] if f in cat and cat[f]["weights"] in all_weights
                      and cat[f]["input"] in ("rgb", "diff") and f not in paired)
    left_out = (f" ({', '.join(f'`{f}`' for f in unpaired)}: no twin of the other input, left out)"
                if unpaired else "")
    md("## RGB and residual frames: the paper's central claim\n\n"
       "The paper's conclusion: residual frames (*Diff*, frame differences fed to the same SlowFast network) are a "
       "good supplement to RGB input. Each released RGB file is paired with the Diff file of the same interval, "
       "view and clip count; the last row sums every paired RGB file and every paired Diff file of the 10-clip "
       "models" + left_out + ". "
       "*Gain* = the sum minus the better single input, paired over videos.")
    if not rows:
        md("No RGB/Diff pair among the files found.")
        return None
    out, num = [], []
    for x in rows:
        n = x["both"] + x["only_rgb"] + x["only_diff"] + x["neither"]
        dg = _d(x["gain_top1_ci_low"], x["gain_top1_ci_high"], effect=True)
        out.append({"pair": _pair_name(x), "RGB file": "" if x["rgb"].startswith("all ") else x["rgb"],
                    "Diff file": "" if x["diff"].startswith("all ") else x["diff"],
                    "RGB top-1 (%)": _f(_pct(x["rgb_top1"])), "Diff top-1 (%)": _f(_pct(x["diff_top1"])),
                    "RGB+Diff top-1 (%)": _f(_pct(x["sum_top1"])),
                    "gain over better (points)": _f(_pct(x["gain_top1"]), dg, True),
                    "gain 95% CI": _ci(x["gain_top1_ci_low"], x["gain_top1_ci_high"], dg, True),
                    "both right": x["both"], "only RGB right": x["only_rgb"], "only Diff right": x["only_diff"],
                    "neither": x["neither"], "videos": n})
        num.append({"pair": _pair_name(x), "rgb": x["rgb"], "diff": x["diff"],
                    **{k: _pct(x[k]) for k in ("rgb_top1", "diff_top1", "sum_top1", "rgb_mean_class",
                                               "diff_mean_class", "sum_mean_class", "gain_top1", "gain_top1_ci_low",
                                               "gain_top1_ci_high", "gain_mean_class", "gain_mean_class_ci_low",
                                               "gain_mean_class_ci_high")},
                    **{k: x[k] for k in ("both", "only_rgb", "only_diff", "neither")}})
    df = pd.DataFrame(out)
    save_csv(pd.DataFrame(num), page.out / "released_rgb_diff.csv")
    sty = _style(df, _cap("RGB against residual-frame (Diff) input, alone and summed, and the test videos each "
                          "gets right (counts)"), text_cols=("pair", "RGB file", "Diff file"))
    alls = [i for i, x in enumerate(rows) if str(x["rgb"]).startswith("all ")]
    if alls:
        sty = sty.set_properties(subset=pd.IndexSlice[alls, :],
                                 **{"font-weight": "bold", "border-top": "2px solid #888"})
    _display(sty)
    big = next((x for x in rows if str(x["rgb"]).startswith("all ")), rows[-1])
    n = big["both"] + big["only_rgb"] + big["only_diff"] + big["neither"]
    ct = pd.DataFrame({"": ["RGB right", "RGB wrong", "total"],
                       "Diff right": [big["both"], big["only_diff"], big["both"] + big["only_diff"]],
                       "Diff wrong": [big["only_rgb"], big["neither"], big["only_rgb"] + big["neither"]],
                       "total": [big["both"] + big["only_rgb"], big["only_diff"] + big["neither"], n]})
    _display(_style(ct, _cap(f"Test videos right and wrong: {_pair_name(big)}"), text_cols=("",))
             .set_table_attributes('style="min-width: 44em"'))
    md(f"Of the {n:,} test videos, {big['only_diff']} are right only with Diff input and {big['only_rgb']} only with "
       f"RGB input: the two inputs err on different videos, which is why their sum beats either "
       f"({_f(_pct(big['sum_top1']))}% against {_f(_pct(big['rgb_top1']))}% and {_f(_pct(big['diff_top1']))}%). "
       "Mean per-class versions of every number: `released_rgb_diff.csv`.")
    show_figure(_rgb_diff_figure(rows),
                _cap("Left: top-1 of RGB alone (blue), Diff alone (green) and their sum (red star) for each matching "
                     "pair of released files; grey: the gain of the sum over the better input. Right: share of test "
                     "videos both inputs get right, only RGB, only Diff, and neither"),
                "released_rgb_diff.png", folder=page.figures)
    return df


def _rgb_diff_figure(rows: list[dict]):
    plt = F._plt()
    fig, ax = plt.subplots(1, 2, figsize=(12.5, 0.45 * len(rows) + 1.8), gridspec_kw={"width_ratios": [3, 2]})
    y = np.arange(len(rows))[::-1]
    names = [_pair_name(x) for x in rows]
    for yi, x in zip(y, rows):
        ax[0].scatter(_pct(x["rgb_top1"]), yi, color=RGB_COLOR, zorder=3)
        ax[0].scatter(_pct(x["diff_top1"]), yi, color=DIFF_COLOR, zorder=3)
        better = max(x["rgb_top1"], x["diff_top1"])
        ax[0].plot(_pct(x["sum_top1"]), yi, marker="*", ls="", ms=11, color=SUM_COLOR, zorder=4)
        ax[0].plot([_pct(better), _pct(x["sum_top1"])], [yi, yi], color="0.6", lw=1, zorder=1)
    ax[0].set_yticks(y, names, fontsize=8)
    ax[0].set(xlabel="top-1 accuracy (%)", title="each input alone and summed")
    from matplotlib.lines import Line2D
    ax[0].legend(handles=[Line2D([], [], marker="o", ls="", color=RGB_COLOR, label="RGB"),
                          Line2D([], [], marker="o", ls="", color=DIFF_COLOR, label="Diff"),
                          Line2D([], [], marker="*", ms=11, ls="", color=SUM_COLOR, label="RGB + Diff")],
                 fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, borderaxespad=0)
    parts = (("both", "both right", "#9ecae1"), ("only_rgb", "only RGB right", RGB_COLOR),
             ("only_diff", "only Diff right", DIFF_COLOR), ("neither", "neither", "0.75"))
    left = np.zeros(len(rows))
    for k, lab, c in parts:
        v = np.array([100 * x[k] / (x["both"] + x["only_rgb"] + x["only_diff"] + x["neither"]) for x in rows])
        ax[1].barh(y, v, left=left, color=c, label=lab, height=0.7)
        for yi, lv, vv in zip(y, left, v):
            if k in ("only_rgb", "only_diff") and vv >= 2.5:
                ax[1].text(lv + vv / 2, yi, f"{vv:.0f}", ha="center", va="center", fontsize=7, color="white")
        left += v
    ax[1].set_yticks(y, [""] * len(rows))
    ax[1].set(xlabel="share of test videos (%)", xlim=(0, 100), title="who gets a video right")
    ax[1].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, borderaxespad=0)
    fig.suptitle("RGB and residual frames on the real UCF101 test set (authors' released logits)")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ Table 4
def _member_text(members: dict) -> str:
    return ", ".join(f"{s}×{w:g}" if w != 1 else s for s, w in members.items())


def _missing_text(missing: list[dict]) -> str:
    return "; ".join(f"row {m['table3']}: {'SlowFast' if m['network'] == 'slowfast' else 'TSM'} "
                     f"{'RGB' if m['input'] == 'rgb' else 'Diff'} i{m['interval']} "
                     f"{VIEW_NAMES.get(m['view'], m['view'])}" + (f" ×{m['weight']:g}" if m["weight"] != 1 else "")
                     for m in missing)


def table4(page: ReleasedPage) -> pd.DataFrame | None:
    """The paper's Table-4 recipes rebuilt from the released files that exist, beside the paper's numbers."""
    if not page.found:
        return None
    r = page.report
    rows = r["table4"]
    tsm = [s for s, f in r["files"].items() if f.get("model") == "tsm"]
    md("## Table 4 on real data: the paper's ensembles rebuilt\n\n"
       "Each recipe of the paper's Table 4 sums the pre-softmax logits of the Table-3 rows it names (weights as "
       "the recipe says, e.g. *Center crop ×2*). Here each such row is served by the released file that stands "
       "for it; rows without a released file are **missing** and named. The release's own TSM files "
       "(`tsm_85_10*`, read by its `fusion.py`) are not in its public snapshot"
       + (f"; the only TSM file is {', '.join(f'`{s}`' for s in tsm)}" if tsm else "; no TSM file was found")
       + ". *With extra* adds the released files of the recipe's views that stand for no Table-3 row.")
    out, num = [], []
    for x in rows:
        has = bool(x.get("members"))
        dm = _d(x.get("ci_low"), x.get("ci_high")) if has else 1
        we = x.get("with_extra")
        out.append({"recipe": x["id"], "paper's recipe": x["method"],
                    "released files used (weight)": _member_text(x["members"]) or "none",
                    "missing Table-3 rows": _missing_text(x["missing"]) or "none",
                    "top-1 (%)": _f(_pct(x.get("top1")), dm) if has else "–",
                    "mean per-class (%)": _f(_pct(x.get("mean_class")), dm) if has else "–",
                    "95% CI": _ci(x.get("ci_low"), x.get("ci_high"), dm) if has else "",
                    "with extra: mean per-class (%)": (f"{_f(_pct(we['mean_class']), dm)} (+{_member_text(x['extra'])})"
                                                       if we else ""),
                    "paper: Acc (%)": _f(x["paper_acc"], 1)})
        num.append({"id": x["id"], "members": _member_text(x["members"]), "missing": _missing_text(x["missing"]),
                    "complete": x["complete"],
                    **{k: _pct(x.get(k)) for k in ("top1", "top5", "mean_class", "ci_low", "ci_high", "top1_ci_low",
                                                   "top1_ci_high")},
                    "with_extra_mean_class": _pct(we["mean_class"]) if we else np.nan, "paper_acc": x["paper_acc"]})
    df = pd.DataFrame(out)
    save_csv(pd.DataFrame(num), page.out / "released_table4.csv")
    _display(_style(df, _cap("Table 4 on real data: the paper's recipes rebuilt from the released files that exist"),
                    text_cols=("recipe", "paper's recipe", "released files used (weight)", "missing Table-3 rows",
                               "with extra: mean per-class (%)"),
                    wide_cols=("paper's recipe", "released files used (weight)", "missing Table-3 rows")))
    sa = r["sum_all"]
    dm = _d(sa["ci_low"], sa["ci_high"])
    md(f"No rebuilt recipe is complete, so none is the paper's ensemble; the paper's *Acc* is shown for reference. "
       f"For scale: the plain sum of all {len(r['files'])} released files scores {_f(_pct(sa['mean_class']), dm)}% "
       f"mean per-class {_ci(sa['ci_low'], sa['ci_high'], dm)}. Table: `released_table4.csv`.")
    show_figure(_table4_figure(rows, sa), _cap("Mean per-class accuracy of each rebuilt Table-4 recipe (circles, 95% "
                                               "CI; hollow: with the extra files) beside the paper's number "
                                               "(diamonds), and the plain sum of all files (red line)"),
                "released_table4.png", folder=page.figures)
    return df


def _table4_figure(rows: list[dict], sa: dict):
    plt = F._plt()
    d = [x for x in rows if x.get("members")]
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * max(1, len(d)) + 1.6))
    y = np.arange(len(d))[::-1]
    for yi, x in zip(y, d):
        ax.errorbar(_pct(x["mean_class"]), yi, xerr=[[_pct(x["mean_class"] - x["ci_low"])],
                                                     [_pct(x["ci_high"] - x["mean_class"])]],
                    fmt="o", color=RGB_COLOR, capsize=3)
        if x.get("with_extra"):
            ax.scatter(_pct(x["with_extra"]["mean_class"]), yi + 0.18, facecolors="none", edgecolors=RGB_COLOR)
        ax.scatter(x["paper_acc"], yi, marker="D", color=F.PAPER_COLOR, zorder=3)
    ax.axvline(_pct(sa["mean_class"]), color=SUM_COLOR, lw=1.2)
    ax.set_yticks(y, [f"{x['id']} ({len(x['missing'])} row{'s' if len(x['missing']) != 1 else ''} missing)"
                      for x in d], fontsize=9)
    from matplotlib.lines import Line2D
    ax.legend(handles=[Line2D([], [], marker="o", ls="", color=RGB_COLOR, label="rebuilt, released logits (95% CI)"),
                       Line2D([], [], marker="o", ls="", mfc="none", color=RGB_COLOR, label="rebuilt + extra files"),
                       Line2D([], [], marker="D", ls="", color=F.PAPER_COLOR, label="paper (Table 4)"),
                       Line2D([], [], color=SUM_COLOR, label="sum of all released files")],
              fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set(xlabel="mean per-class accuracy (%)",
           title="Table 4 on real data: recipes rebuilt from the files that exist\n(authors' released logits)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- selection
def selection(page: ReleasedPage) -> pd.DataFrame | None:
    """Greedy selection on the test labels against the same selection cross-fitted over random halves."""
    if not page.found:
        return None
    r = page.report
    sel = r["selection"]
    tc, cf, op, hv = sel["test_chosen"], sel["crossfit"], sel["optimism"], sel["halves"]
    ev = "\n".join(f"- {x}" for x in sel["release_procedure"])
    md("## How the ensemble was chosen\n\n"
       "The release's ensemble script scores candidate subsets of its logits files **against the labels of the "
       f"test set** and keeps the best:\n\n{ev}\n\n"
       f"Here the choice is made the way vipar chooses ensembles elsewhere: {sel['procedure']}. Chosen on all test "
       "labels and reported on the same labels, it is flattered by the choice. The honest estimate chooses on one "
       "random half of the test videos (stratified by class) and reports on the other half, both ways, so every "
       f"video is predicted by an ensemble that never saw its label; this is repeated over {cf['repeats']} random "
       "halvings. Their difference is the **optimism of choosing on test**.")
    do = _d(op["ci_low"], op["ci_high"], effect=True)
    sa = r["sum_all"]
    rows = [
        {"ensemble": f"plain sum of all {len(r['files'])} files", "chosen on": "nothing (no choice)",
         "reported on": "all test videos", "top-1 (%)": _f(_pct(sa["top1"]), do),
         "mean per-class (%)": _f(_pct(sa["mean_class"]), do), "95% CI": _ci(sa["ci_low"], sa["ci_high"], do),
         "members (times chosen)": "all, once each"},
        {"ensemble": "greedy, as fusion.py does", "chosen on": "all test labels", "reported on": "the same videos",
         "top-1 (%)": _f(_pct(tc["top1"]), do), "mean per-class (%)": _f(_pct(tc["mean_class"]), do), "95% CI": "",
         "members (times chosen)": _member_text(tc["members"])},
        {"ensemble": "greedy, cross-fitted", "chosen on": "one half of the test labels",
         "reported on": f"the other half (mean of {cf['repeats']} halvings)", "top-1 (%)": _f(_pct(cf["top1"]), do),
         "mean per-class (%)": _f(_pct(cf["mean_class"]), do), "95% CI": "",
         "members (times chosen)": "differs per half (see the CSV)"},
        {"ensemble": "optimism = test-chosen − cross-fitted", "chosen on": "", "reported on": "paired over videos",
         "top-1 (%)": _f(_pct(op["top1"]), do, True), "mean per-class (%)": _f(_pct(op["mean_class"]), do, True),
         "95% CI": _ci(op["ci_low"], op["ci_high"], do, True), "members (times chosen)": ""},
    ]
    df = pd.DataFrame(rows)
    folds = pd.DataFrame([{"repeat": f["repeat"], "members": _member_text(f["members"]),
                           "in_sample_mean_class": _pct(f["in_sample_mean_class"]),
                           "out_of_sample_mean_class": _pct(f["out_of_sample_mean_class"])} for f in cf["folds"]])
    save_csv(pd.DataFrame([
        {"ensemble": "sum_all", "top1": _pct(sa["top1"]), "mean_class": _pct(sa["mean_class"]),
         "ci_low": _pct(sa["ci_low"]), "ci_high": _pct(sa["ci_high"]), "members": "all"},
        {"ensemble": "test_chosen", "top1": _pct(tc["top1"]), "mean_class": _pct(tc["mean_class"]),
         "members": _member_text(tc["members"])},
        {"ensemble": "crossfit", "top1": _pct(cf["top1"]), "mean_class": _pct(cf["mean_class"])},
        {"ensemble": "optimism", "top1": _pct(op["top1"]), "mean_class": _pct(op["mean_class"]),
         "ci_low": _pct(op["ci_low"]), "ci_high": _pct(op["ci_high"])}]), page.out / "released_selection.csv")
    save_csv(folds, page.out / "released_selection_folds.csv")
    sty = _style(df, _cap("How the ensemble was chosen: on the test labels, or on the other half of them"),
                 text_cols=("ensemble", "chosen on", "reported on", "members (times chosen)"),
                 wide_cols=("members (times chosen)",))
    _display(sty.set_properties(subset=pd.IndexSlice[3, :], **{"font-weight": "bold", "border-top": "2px solid #888"}))
    md(f"Averaged over the {hv['folds']} half-chosen ensembles: {_f(_pct(hv['in_sample_mean_class']), do)}% mean "
       f"per-class on the half they were chosen on, {_f(_pct(hv['out_of_sample_mean_class']), do)}% on the other. "
       "The optimism's interval is paired over videos with the selections held fixed (it does not include the "
       "variation of the choice itself: the spread over halvings is in the figure). Tables: "
       "`released_selection.csv`, `released_selection_folds.csv` (each half's members).")
    show_figure(_selection_figure(r), _cap("Mean per-class accuracy of the plain sum of all files (95% CI), of the "
                                           "greedy ensemble chosen and scored on the test labels, and of the same "
                                           "choice cross-fitted over random halves (grey dots: each halving; black: "
                                           "their mean), beside the paper's best Table-4 number"),
                "released_selection.png", folder=page.figures)
    return df


def _selection_figure(r: dict):
    plt = F._plt()
    sel, sa = r["selection"], r["sum_all"]
    cf = sel["crossfit"]
    best_paper = max(p["acc"] for p in paper_rows("table4"))
    fig, ax = plt.subplots(figsize=(8.5, 2.9))
    labels = ["plain sum of all files", "greedy, chosen on test\n(fusion.py's way)", "greedy, cross-fitted\n(chosen on "
              "the other half)"]
    y = np.array([2, 1, 0])
    ax.errorbar(_pct(sa["mean_class"]), y[0], xerr=[[_pct(sa["mean_class"] - sa["ci_low"])],
                                                    [_pct(sa["ci_high"] - sa["mean_class"])]],
                fmt="o", color=SUM_COLOR, capsize=3)
    ax.scatter(_pct(sel["test_chosen"]["mean_class"]), y[1], color=RGB_COLOR, s=40, zorder=3)
    reps = [_pct(p["mean_class"]) for p in cf["per_repeat"]]
    ax.scatter(reps, np.full(len(reps), y[2]) + np.linspace(-0.12, 0.12, len(reps)), color="0.6", s=14)
    ax.scatter(_pct(cf["mean_class"]), y[2], color="black", s=40, zorder=3)
    ax.annotate("", xy=(_pct(cf["mean_class"]), 0.5), xytext=(_pct(sel["test_chosen"]["mean_class"]), 0.5),
                arrowprops={"arrowstyle": "<->", "color": "0.3"})
    ax.text((_pct(cf["mean_class"]) + _pct(sel["test_chosen"]["mean_class"])) / 2, 0.56,
            f"optimism {_pct(sel['optimism']['mean_class']):+.2f}", ha="center", va="bottom", fontsize=8)
    ax.axvline(best_paper, color=F.PAPER_COLOR, ls="-", lw=1.5, label=f"paper's best (Table 4, {best_paper:.1f}%)")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set(xlabel="mean per-class accuracy (%)", ylim=(-0.5, 2.5),
           title="How the ensemble was chosen (authors' released logits)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- per class
def per_class(page: ReleasedPage) -> pd.DataFrame | None:
    """Per-class accuracy (sorted) and the most frequent confusions of the best ensemble, on the 101 class names."""
    if not page.found:
        return None
    r = page.report
    pc = r["per_class"]
    ens = pc["ensemble"]
    name = f"the plain sum of all {len(r['files'])} files" if ens == "sum_all" else f"rebuilt recipe {ens}"
    n_cand = 1 + sum(1 for x in r["table4"] if x.get("members"))
    md(f"## Per class: {name}\n\nThe ensemble shown is {name}: {pc['note']}, among {n_cand} candidates (the "
       "rebuilt Table-4 recipes and the plain sum).")
    cls = pd.DataFrame(pc["classes"])
    cls["accuracy"] = 100 * cls["accuracy"].astype(float)
    save_csv(cls.rename(columns={"accuracy": "accuracy_pct"}), page.out / "released_per_class.csv")
    show_figure(_per_class_figure(cls, 100 / len(cls)),
                _cap(f"Per-class accuracy of {name} on the {len(cls)} UCF101 classes, sorted from the least accurate; "
                     f"dashed: the mean per-class accuracy; chance is {100 / len(cls):.1f}%"),
                "released_per_class.png", folder=page.figures)
    conf = pd.DataFrame(pc["confusions"])
    if conf.empty:
        md("No confusions: every test video is right.")
        return cls
    conf["share"] = 100 * conf["share"]
    save_csv(conf.rename(columns={"share": "share_of_true_class_pct", "count": "videos"}),
             page.out / "released_confusions.csv")
    show_figure(_confusion_figure(conf, name),
                _cap(f"The {len(conf)} most frequent confusions of {name}: test videos of the true class predicted as "
                     "the other class (label: share of the true class's test videos)"),
                "released_confusions.png", folder=page.figures)
    worst = pd.DataFrame([{"class": w["class"], "challenge id": w["class_id"], "test videos": w["videos"],
                           "right": w["correct"], "accuracy (%)": _f(_pct(w["accuracy"]), 0)} for w in pc["worst"]])
    _display(_style(worst, _cap(f"The {len(worst)} least accurate classes of {name}"), text_cols=("class",)))
    n = cls["videos"].to_numpy(float)
    p = float(np.nanmean(cls["accuracy"])) / 100
    half = 100 * 1.96 * np.sqrt(p * (1 - p) / np.median(n))
    md(f"Each class has {int(n.min())}–{int(n.max())} test videos (median {np.median(n):.0f}), so a class's accuracy "
       f"near the mean ({100 * p:.0f}%) is uncertain by about ±{half:.0f} points (binomial 95%). "
       "Tables: `released_per_class.csv`, `released_confusions.csv`.")
    return cls


def _per_class_figure(cls: pd.DataFrame, chance: float):
    plt = F._plt()
    d = cls.sort_values(["accuracy", "class"]).reset_index(drop=True)
    half = (len(d) + 1) // 2
    parts = [d.iloc[:half], d.iloc[half:]]
    fig, ax = plt.subplots(1, 2, figsize=(12, 0.2 * half + 1.5), sharex=True)
    mean = float(d["accuracy"].mean())
    for a, part in zip(ax, parts):
        y = np.arange(len(part))[::-1]
        a.barh(y, part["accuracy"], color=DIFF_COLOR, height=0.75)
        a.set_yticks(y, part["class"], fontsize=7)
        a.axvline(mean, color="0.2", ls="--", lw=1)
        a.axvline(chance, color="0.5", ls=":", lw=1)
        a.set(xlim=(0, 100), ylim=(-0.6, half - 0.4), xlabel="accuracy (%)")
    ax[0].set_title("least accurate half")
    ax[1].set_title("most accurate half")
    from matplotlib.lines import Line2D
    ax[1].legend(handles=[Line2D([], [], color="0.2", ls="--", label=f"mean per-class ({mean:.1f}%)"),
                          Line2D([], [], color="0.5", ls=":", label=f"chance ({chance:.1f}%)")],
                 fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.suptitle("Per-class accuracy on the real UCF101 test set (authors' released logits)")
    fig.tight_layout()
    return fig


def _confusion_figure(conf: pd.DataFrame, name: str):
    plt = F._plt()
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * len(conf) + 1.5))
    y = np.arange(len(conf))[::-1]
    ax.barh(y, conf["count"], color=SUM_COLOR, height=0.7)
    for yi, c, s in zip(y, conf["count"], conf["share"]):
        ax.text(c + 0.2, yi, f"{s:.0f}%", va="center", fontsize=7)
    ax.set_yticks(y, [f"{t} → {p}" for t, p in zip(conf["true"], conf["predicted"])], fontsize=8)
    ax.set(xlabel="test videos (true class → predicted class)", xlim=(0, conf["count"].max() * 1.18),
           title=f"Most frequent confusions of {name}\n(authors' released logits, real UCF101 test set)")
    fig.tight_layout()
    return fig


def power(page: ReleasedPage):
    """Power analysis of the paper's findings on this test set (:mod:`vipar_lib.report.power`)."""
    if page.report is None:
        return None
    from ..study.plan import plan_study
    from .power import show_power
    return show_power(plan_study(page.study))
