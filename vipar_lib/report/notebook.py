"""What the notebooks display: each function shows (or returns) one table, figure or finding.

Kept here so the notebooks stay a parameters cell and a few calls, and so tests can run the same
code without a kernel.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import confusion_matrix, predictions
from . import figures as F
from .tables import style_table

__all__ = ["banner", "split_summary", "leakage_table", "video_stats", "rgb_residual_figure", "synthetic_classes",
           "show_table", "bars", "curves", "cost_plot", "tta_plot", "label_preservation", "search_table", "steps_plot",
           "confusion", "challenge_files", "all_tables", "findings", "findings_table1", "findings_table2",
           "conclusions", "write_summary"]


def _display(obj):
    from IPython.display import display
    display(obj)


def _md(text: str):
    from IPython.display import Markdown
    _display(Markdown(text))


def banner(study) -> None:
    """First lines of every report: the profile, and for synthetic data that it is synthetic."""
    from .paper import PAPER_CITATION
    text = f"**Profile: `{study.profile}`.** {study.banner()}\n\nPaper: {PAPER_CITATION}."
    if study.synthetic:
        text = "> ⚠️ **Synthetic data.** " + text
    _md(text)


def _save(fig, figures_dir, name):
    if figures_dir:
        from .. import study as S
        F.save(fig, S.resolve_path(figures_dir) / name)
    return fig


# -- 00 data --------------------------------------------------------------------------------------
def split_summary(study) -> pd.DataFrame:
    sp = study.prepare()["split"]
    rows = []
    for s, entries in sp.entries.items():
        groups = {(e.label, e.group) for e in entries}
        rows.append({"split": s, "videos": len(entries), "classes": len({e.label for e in entries}),
                     "actor groups (class, group)": len(groups) if all(e.group >= 0 for e in entries) else "n/a"})
    return pd.DataFrame(rows).set_index("split")


def leakage_table(study) -> pd.DataFrame:
    from ..data.splits import group_leakage
    sp = study.prepare()["split"]
    if not all(e.group >= 0 for e in sp["train"]):
        _md("Group ids are not in the file names of this layout; leakage cannot be measured.")
        return pd.DataFrame()
    leak = group_leakage(sp)
    _md(f"**{leak['classes_leaking']} of {leak['num_classes']} classes** share actor groups between train and "
        f"validation; {leak['videos_in_shared_groups']} of {len(sp['validation'])} validation videos belong to a group "
        f"also seen in training.")
    rows = [{"class": c, "shared groups": ", ".join(f"g{g:02d}" for g in gs)} for c, gs in leak["shared_groups"].items()]
    return pd.DataFrame(rows).head(25)


def video_stats(study, sample: int = 60) -> pd.DataFrame:
    from ..data.video import VideoError, probe
    p = study.prepare()
    entries = p["split"]["train"]
    idx = np.linspace(0, len(entries) - 1, min(sample, len(entries))).astype(int)
    rows = []
    for i in idx:
        try:
            info = probe(Path(p["video_root"]) / entries[i].path)
            rows.append({"frames": info.frames, "fps": info.fps, "width": info.width, "height": info.height})
        except VideoError as e:
            rows.append({"frames": 0, "fps": 0, "width": 0, "height": 0, "error": str(e)})
    df = pd.DataFrame(rows)
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(df["frames"], bins=20, color="#4C72B0")
    ax.set(xlabel="frames per video", ylabel="videos", title="Frame counts (training sample)")
    fig.tight_layout()
    plt.show()
    return df


def rgb_residual_figure(study, n_clips: int = 3):
    from ..data.video import probe, read_frames
    p = study.prepare()
    sp = p["split"]
    seen, clips = set(), []
    for e in sp["train"]:
        if e.label in seen:
            continue
        seen.add(e.label)
        path = Path(p["video_root"]) / e.path
        n = probe(path).frames
        clips.append((sp.classes[e.label], read_frames(path, list(range(0, min(n, 32))), short_side=120)))
        if len(clips) == n_clips:
            break
    return F.rgb_vs_residual(clips)


def synthetic_classes(study):
    if not study.synthetic:
        return None
    from ..data.synth import MIRROR_OF, REVERSE_OF
    sp = study.prepare()["split"]
    rows = [{"class": c, "played backwards it is": REVERSE_OF[c], "mirrored it is": MIRROR_OF[c]} for c in sp.classes]
    _md("The synthetic classes are motions. Playing a clip backwards or mirroring it changes the label of some "
        "classes: those views are **not label-preserving** for them (see Table 3's notebook).")
    return pd.DataFrame(rows).set_index("class")


# -- tables and figures ---------------------------------------------------------------------------
def show_table(df: pd.DataFrame, caption: str):
    _display(style_table(df, caption))


def bars(df, title, figures_dir="", name="bars.png"):
    return _save(F.accuracy_bars(df, title), figures_dir, name)


def curves(study, runs: dict, title, figures_dir="", name="curves.png"):
    return _save(F.training_curves(study.histories(runs), title), figures_dir, name)


def cost_plot(df, title, figures_dir="", name="cost.png"):
    return _save(F.cost_accuracy(df.dropna(subset=["gflops"]), title), figures_dir, name)


def tta_plot(df, figures_dir="", name="tta.png"):
    import matplotlib.pyplot as plt
    import seaborn as sns
    d = df.copy()
    d["model"] = d["network"] + " " + d["input"]
    fig, ax = plt.subplots(1, 2, figsize=(13, 4), sharey=True)
    hue_order = sorted(d["model"].unique())
    view_order = [v for v in ("center", "flip", "random_crop", "reverse", "concat_reverse") if v in set(d["view"])]
    for a, (interval, part) in zip(ax, d.groupby("interval")):
        sns.barplot(data=part, x="view", y="run", hue="model", hue_order=hue_order, order=view_order, ax=a)
        a.set(title=f"interval {interval}: this run", ylabel="top-1 (%)", ylim=(0, 100))
    fig.tight_layout()
    return _save(fig, figures_dir, name)


def label_preservation(study, logits: dict):
    """Per view: accuracy on classes the view keeps vs changes (synthetic data only)."""
    if not study.synthetic:
        _md("Label preservation per class is known only for the synthetic data.")
        return None
    from ..data.synth import MIRROR_OF, REVERSE_OF
    from .paper import paper_rows
    sp = study.prepare()["split"]
    reverse_changes = {i for i, c in enumerate(sp.classes) if REVERSE_OF[c] != c}
    flip_changes = {i for i, c in enumerate(sp.classes) if MIRROR_OF[c] != c}
    rows = []
    for r in paper_rows("table3"):
        lf = logits[r["id"]]
        changes = {"reverse": reverse_changes, "concat_reverse": reverse_changes, "flip": flip_changes}.get(r["view"], set())
        pred = predictions(lf.logits)
        m_change = np.isin(lf.label, list(changes))
        rows.append({"id": r["id"], "model": f"{r['network']} {r['input']}", "interval": r["interval"], "view": r["view"],
                     "acc on classes the view changes (%)": 100 * np.mean(pred[m_change] == lf.label[m_change]) if m_change.any() else np.nan,
                     "acc on classes it keeps (%)": 100 * np.mean(pred[~m_change] == lf.label[~m_change]) if (~m_change).any() else np.nan})
    df = pd.DataFrame(rows)
    _md("For `reverse` the changed classes are those whose backwards playback is another class (MoveLeft↔MoveRight, "
        "Grow↔Shrink, spins, orbits); for `flip` the left/right and rotation classes. `concat_reverse` shows both "
        "directions, so it is ambiguous for them. A view that is not label-preserving should lose accuracy on the "
        "changed classes only.")
    return df.style.format(precision=1, na_rep="–").hide(axis="index")


def search_table(search: dict):
    df = pd.DataFrame(search["steps"])
    for c in ("val_mean_class", "val_top1", "test_mean_class", "test_top1"):
        df[c] = 100 * df[c]
    _md(f"Greedy forward selection (with replacement) of Table-3 rows on the **validation** split; chosen: "
        f"`{' + '.join(search['chosen'])}`. Test numbers are reported, never used to choose.")
    return df.style.format(precision=1).hide(axis="index")


def steps_plot(search, figures_dir="", name="greedy.png"):
    if not search["steps"]:
        return None
    return _save(F.ensemble_steps(search["steps"]), figures_dir, name)


def confusion(study, ens: dict, df, figures_dir="", name="confusion.png"):
    best = df.sort_values("run", ascending=False).iloc[0]["id"]
    lf = ens[best]
    sp = study.prepare()["split"]
    cm = confusion_matrix(lf.logits, lf.label, sp.num_classes)
    return _save(F.confusion_and_per_class(cm, sp.classes, f"Best ensemble ({best}) on test"), figures_dir, name)


def challenge_files(study, ens: dict, df):
    """Write the best recipe's submission file and score it with the challenge metric."""
    from ..ensemble import score_submission, write_ground_truth, write_submission
    from ..study import resolve_path
    best = df.sort_values("run", ascending=False).iloc[0]["id"]
    out = resolve_path(study.runs_dir) / "submission"
    sub = write_submission(ens[best], out / f"submission_{best}.txt")
    gt = write_ground_truth(ens[best], out / "test_ground_truth.txt")
    res = score_submission(sub, gt)
    _md(f"Submission for **{best}** written to `{sub}` (challenge format `clip.avi c1 … c5`). Challenge metric "
        f"(mean per-class accuracy): top-1 **{100 * res['top1']:.1f}%**, top-3 {100 * res['top3']:.1f}%, "
        f"top-5 {100 * res['top5']:.1f}%.")
    return res


# -- summary ----------------------------------------------------------------------------------------
def all_tables(study) -> dict[str, pd.DataFrame]:
    t1, _, _ = study.table1()
    t2, _, _ = study.table2()
    t3, _ = study.table3()
    t4, _, _, _ = study.table4()
    return {"Table 1": t1, "Table 2": t2, "Table 3": t3, "Table 4": t4}


def _acc(df, rid):
    r = df.loc[df["id"] == rid]
    return float(r["run"].iloc[0]), float(r["paper"].iloc[0])


def _claim(name, run_a, run_b, paper_a, paper_b, resolved=""):
    agree = np.sign(run_a - run_b) == np.sign(paper_a - paper_b)
    return {"finding (paper)": name, "paper Δ": paper_a - paper_b, "this run Δ": run_a - run_b,
            "same direction": "yes" if agree else "no", "resolved": resolved}


def _resolved(df, rid):
    if "resolved" not in df:
        return ""
    return df.loc[df["id"] == rid, "resolved"].iloc[0]


def findings_table1(df):
    rows = []
    for rid in df["id"]:
        if rid == "T1.1":
            continue
        a, pa = _acc(df, rid)
        b, pb = _acc(df, "T1.1")
        rows.append(_claim(f"{rid} vs base", a, b, pa, pb, _resolved(df, rid)))
    return pd.DataFrame(rows).style.format({"paper Δ": "{:+.1f}", "this run Δ": "{:+.1f}"}).hide(axis="index")


def findings_table2(df):
    pairs = [("R50 beats R101 (SlowFast RGB)", "T2.1", "T2.2"), ("R50 beats R101 (SlowFast Diff)", "T2.3", "T2.4"),
             ("RGB beats Diff (SlowFast R50)", "T2.1", "T2.3"), ("shift helps TSM R50", "T2.5", "T2.7"),
             ("SlowFast R50 beats TSM R50", "T2.1", "T2.5")]
    rows = []
    for name, a_id, b_id in pairs:
        a, pa = _acc(df, a_id)
        b, pb = _acc(df, b_id)
        rows.append(_claim(name, a, b, pa, pb, _resolved(df, a_id) if b_id == "T2.1" else ""))
    return pd.DataFrame(rows).style.format({"paper Δ": "{:+.1f}", "this run Δ": "{:+.1f}"}).hide(axis="index")


def findings(tables: dict) -> pd.DataFrame:
    t1, t2, t3, t4 = (tables[k] for k in ("Table 1", "Table 2", "Table 3", "Table 4"))
    rows = []
    a, pa = _acc(t1, "T1.4"); b, pb = _acc(t1, "T1.1")
    rows.append(_claim("ELU+POOL improves SlowFast (T1.4 vs T1.1)", a, b, pa, pb, _resolved(t1, "T1.4")))
    a, pa = _acc(t1, "T1.7"); b, pb = _acc(t1, "T1.4")
    rows.append(_claim("the 3x3+3x1+1x3 kernel adds to ELU+POOL (T1.7 vs T1.4)", a, b, pa, pb))
    a, pa = _acc(t2, "T2.1"); b, pb = _acc(t2, "T2.2")
    rows.append(_claim("3D ResNet-50 beats 101 (T2.1 vs T2.2)", a, b, pa, pb))
    a, pa = _acc(t2, "T2.1"); b, pb = _acc(t2, "T2.3")
    rows.append(_claim("RGB beats residual input (T2.1 vs T2.3)", a, b, pa, pb))
    a, pa = _acc(t2, "T2.5"); b, pb = _acc(t2, "T2.7")
    rows.append(_claim("temporal shift helps TSM-R50 (T2.5 vs T2.7)", a, b, pa, pb))
    a, pa = _acc(t3, 3); b, pb = _acc(t3, 1)
    rows.append(_claim("flip view helps SlowFast RGB (T3 #3 vs #1)", a, b, pa, pb))
    a, pa = _acc(t3, 7); b, pb = _acc(t3, 1)
    rows.append(_claim("reverse view costs little (T3 #7 vs #1)", a, b, pa, pb))
    best_single = float(t3["run"].max())
    best_single_paper = float(t3["paper"].max())
    a, pa = float(t4["run"].max()), float(t4["paper"].max())
    rows.append(_claim("ensembles beat the best single view (Table 4 vs 3)", a, best_single, pa, best_single_paper))
    a, pa = _acc(t4, "E3"); b, pb = _acc(t4, "E1")
    rows.append(_claim("adding TSM and interval 2 helps (E3 vs E1)", a, b, pa, pb))
    return pd.DataFrame(rows)


def write_summary(study, tables: dict, findings_df: pd.DataFrame, out: str):
    if not out:
        return None
    from ..study import resolve_path
    t4 = tables["Table 4"]
    best = t4.sort_values("run", ascending=False).iloc[0]
    headline = {"profile": study.profile, "synthetic": study.synthetic,
                "rows": [{"table": name, "id": str(r["id"]), "method": r["method"], "paper": r["paper"],
                          "run": r["run"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "mean_class": r["mean_class"]}
                         for name, df in tables.items() if name != "Table 3" for _, r in df.iterrows()],
                "best_ensemble": {"id": best["id"], "run": best["run"], "paper": best["paper"]},
                "findings": json.loads(findings_df.to_json(orient="records"))}
    p = resolve_path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(headline, indent=1, default=float))
    return p


def conclusions(study, tables: dict, findings_df: pd.DataFrame) -> str:
    """A paragraph, written from this run's numbers, on what it does and does not reproduce."""
    n_cls = study.prepare()["split"].num_classes
    chance = 100.0 / n_cls
    t2 = tables["Table 2"]
    at_chance = [f"{r['id']} ({r['input']})" for _, r in t2.iterrows() if r["ci_low"] <= chance]
    above = [f"{r['id']} ({r['input']}, {r['run']:.1f}%)" for _, r in t2.iterrows() if r["ci_low"] > chance]
    agree = int((findings_df["same direction"] == "yes").sum())
    resolved = findings_df["resolved"].isin(["yes"]).sum()
    kind = "synthetic demo data" if study.synthetic else "this data"
    lines = [f"**What this run shows** (computed; chance is {chance:.1f}% with {n_cls} classes).",
             f"- Above chance (95% interval excludes it): {', '.join(above) or 'none'}.",
             f"- Not distinguishable from chance: {', '.join(at_chance) or 'none'}.",
             f"- Of {len(findings_df)} findings of the paper checked here, {agree} go the same direction on {kind}; "
             f"{resolved} of the differences checked against a reference row are resolved by this run's test set."]
    if at_chance:
        lines.append("- Where a model stays at chance, the differences built on it (Table 1 rows, RGB views, "
                     "ensembles that include it) carry no information about the paper's claims.")
    text = "\n".join(lines)
    _md(text)
    return text
