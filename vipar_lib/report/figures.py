"""Figures for the reports (matplotlib + seaborn). Each function returns the figure it drew.

Accuracy axes carry the chance level as a dashed line when it is known. The notebooks show a
figure through :func:`vipar_lib.report.pages.show_figure`, which saves the PNG and gives it alt text.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["training_curves", "effects", "accuracy_bars", "per_class_inputs", "confusion_and_per_class",
           "ensemble_steps", "cost_accuracy", "rgb_vs_residual", "frame_counts", "tta_bars", "save", "PAPER_COLOR",
           "RUN_COLOR"]

RUN_COLOR, PAPER_COLOR = "#4C72B0", "#DD8452"


CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "WenQuanYi Zen Hei", "Droid Sans Fallback")
CJK_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",         # Debian fonts-noto-cjk
             "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    _cjk_fallback(matplotlib)
    return plt


def _cjk_fallback(matplotlib) -> None:
    """Add an installed CJK font to ``font.family`` after the default one, so Chinese text (the release's
    names) draws as glyphs, not boxes: matplotlib falls back glyph by glyph along ``font.family``.

    Only a font that is installed is added (CI installs Debian's ``fonts-noto-cjk``), so a machine
    without one logs no font warnings; one installed after matplotlib built its font cache is added
    from its file.
    """
    from matplotlib import font_manager
    fm = font_manager.fontManager
    if not any(f.name in CJK_FONTS for f in fm.ttflist):
        for path in CJK_FILES:
            if Path(path).is_file():
                try:
                    fm.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
    have = {f.name for f in fm.ttflist}
    first = next((f for f in CJK_FONTS if f in have), None)
    family = matplotlib.rcParams["font.family"]
    family = [family] if isinstance(family, str) else list(family)
    if first and first not in family:
        matplotlib.rcParams["font.family"] = family + [first]


def _integer_axis(axis) -> None:
    """Ticks at whole numbers only (epochs, frames, counts)."""
    from matplotlib.ticker import MaxNLocator
    axis.set_major_locator(MaxNLocator(integer=True))


def save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _chance(ax, chance, horizontal=True):
    if chance is None:
        return
    (ax.axhline if horizontal else ax.axvline)(chance, ls="--", lw=1, color="0.4", label=f"chance ({chance:.0f}%)")


def training_curves(histories: dict[str, list[dict]], title: str = "Training curves", chance: float | None = None):
    """Training loss and validation mean per-class accuracy per epoch, one line per run."""
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    for name, h in histories.items():
        ep = [r["epoch"] for r in h]
        ax[0].plot(ep, [r["train_loss"] for r in h], marker="o", ms=3, label=name)   # one-epoch runs show a dot
        v = [(r["epoch"], 100 * r["val_mean_class"]) for r in h if "val_mean_class" in r]
        if v:
            ax[1].plot(*zip(*v), marker="o", ms=3, label=name)
    _chance(ax[1], chance)
    ax[0].set(xlabel="epoch", ylabel="training loss", title="training loss")
    ax[1].set(xlabel="epoch", ylabel="validation mean per-class acc (%)", title="validation", ylim=(0, 100))
    for a in ax:
        _integer_axis(a.xaxis)
    ax[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _seed_points(ax, values, pos, horizontal: bool, label: str):
    """Each seed's value as a small dot beside its row's mean (nothing for single runs)."""
    first = True
    for p, vals in zip(pos, values):
        if not isinstance(vals, (list, tuple)) or len(vals) < 2:
            continue
        jitter = np.linspace(-0.12, 0.12, len(vals))
        xy = (vals, p + jitter) if horizontal else (p + jitter, vals)
        ax.scatter(*xy, s=14, color="0.25", alpha=0.7, zorder=4, label=label if first else None)
        first = False


def effects(df, title: str = ""):
    """Each row's effect against its reference (mean over seeds with its 95% CI, each seed's dot) beside the
    paper's effect."""
    plt = _plt()
    d = df[df["effect"].notna()] if "effect" in df else df.iloc[:0]
    n = max(1, len(d))
    fig, ax = plt.subplots(figsize=(8, 0.45 * n + 1.6))
    y = np.arange(len(d))[::-1]
    labels = [f"{i} vs {r}" for i, r in zip(d["id"], d["reference"])]
    err = np.vstack([d["effect"] - d["effect_low"], d["effect_high"] - d["effect"]]) if len(d) else None
    multi = "effect_seeds" in d and any(isinstance(v, list) and len(v) > 1 for v in d["effect_seeds"])
    what = "this run: mean of seeds, 95% CI over seeds + videos" if multi else "this run (paired 95% CI, videos)"
    ax.errorbar(d["effect"], y, xerr=err, fmt="o", color=RUN_COLOR, capsize=3, label=what)
    if multi:
        _seed_points(ax, d["effect_seeds"], y, True, "each seed")
    ax.scatter(d["paper_effect"], y, marker="D", color=PAPER_COLOR, zorder=3, label="paper (UCF101)")
    ax.axvline(0, color="0.3", lw=1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set(xlabel="difference in top-1 accuracy (points)", title=title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    return fig


def accuracy_bars(df, title: str = "", chance: float | None = None, paper: bool = True):
    """This run's top-1 with its 95% interval, per row (beside the paper's number when ``paper``)."""
    plt = _plt()
    n = len(df)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * n + 2), 4.2))
    x = np.arange(n)
    run = df["run"].to_numpy(float)
    err = np.vstack([run - df["ci_low"].to_numpy(float), df["ci_high"].to_numpy(float) - run])
    w = 0.4 if paper else 0.6
    multi = "run_seeds" in df and any(isinstance(v, list) and len(v) > 1 for v in df["run_seeds"])
    ax.bar(x - (0.2 if paper else 0), run, w, yerr=err, capsize=3, color=RUN_COLOR,
           label="this run: mean of seeds (95% CI, seeds + videos)" if multi else "this run (95% CI)")
    if multi:
        _seed_points(ax, df["run_seeds"], x - (0.2 if paper else 0), False, "each seed")
    if paper:
        p = np.array([np.nan if v is None else v for v in df["paper"]], float)
        ax.bar(x + 0.2, p, w, label="paper (UCF101)", color=PAPER_COLOR, alpha=0.8)
    _chance(ax, chance)
    ax.set_xticks(x, [str(i) for i in df["id"]], rotation=0)
    ax.set(ylabel="top-1 accuracy (%)", title=title, ylim=(0, 100))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    fig.tight_layout()
    return fig


def confusion_and_per_class(cm: np.ndarray, classes: list[str], title: str = "", chance: float | None = None):
    """Row-normalised confusion matrix and per-class accuracy (sorted)."""
    plt = _plt()
    import seaborn as sns
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    k = len(classes)
    big = k > 30
    fig, ax = plt.subplots(1, 2, figsize=(14 if big else min(22, 6 + 0.9 * k), 14 if big else min(10, 3 + 0.35 * k)),
                           gridspec_kw={"width_ratios": [3, 2]})
    sns.heatmap(norm, ax=ax[0], cmap="Blues", vmin=0, vmax=1, xticklabels=classes if not big else False,
                yticklabels=classes if not big else False, cbar_kws={"label": "fraction of true class"})
    ax[0].set(xlabel="predicted", ylabel="true", title="confusion matrix")
    if not big:      # class names read horizontally on the y axis, slanted on the x axis: no overlap
        ax[0].tick_params(axis="y", labelrotation=0, labelsize=8)
        ax[0].tick_params(axis="x", labelrotation=40, labelsize=8)
        for t in ax[0].get_xticklabels():
            t.set_ha("right")
            t.set_rotation_mode("anchor")
    acc = 100 * np.diag(norm)
    order = np.argsort(acc)
    ax[1].barh(np.arange(k), acc[order], color="#55A868")
    ax[1].set_yticks(np.arange(k), [classes[i] for i in order], fontsize=8 if k <= 30 else 4.5)
    if chance is not None:
        ax[1].axvline(chance, ls="--", lw=1, color="0.4", label=f"chance ({chance:.0f}%)")
        ax[1].legend(fontsize=7, loc="lower right")
    ax[1].set(xlabel="accuracy (%)", title="per-class accuracy", xlim=(0, 100), ylim=(-0.5, k - 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ensemble_steps(steps: list[dict], singles: dict[str, tuple[float, float]] | None = None,
                   title: str = "Greedy ensemble, chosen on validation", chance: float | None = None):
    """Each candidate alone (validation, test) and the greedy path: accuracy after each added member."""
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    if singles:
        names = list(singles)
        x = np.arange(len(names))
        ax[0].bar(x - 0.2, [100 * singles[n][0] for n in names], 0.4, label="validation", color="#8172B3")
        ax[0].bar(x + 0.2, [100 * singles[n][1] for n in names], 0.4, label="test", color=RUN_COLOR)
        ax[0].set_xticks(x, names, fontsize=8)
    _chance(ax[0], chance)
    ax[0].set(ylabel="mean per-class acc (%)", title="each Table-3 row alone", ylim=(0, 100))
    ax[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    x = np.arange(1, len(steps) + 1)
    ax[1].plot(x, [100 * s["val_mean_class"] for s in steps], marker="o", label="validation (selection)")
    ax[1].plot(x, [100 * s["test_mean_class"] for s in steps], marker="s", label="test (reported)")
    ax[1].set_xticks(x, [f"+{s['added']}" for s in steps], rotation=30, ha="right", fontsize=8)
    if len(steps) == 1:
        ax[1].set_xlim(0.5, 1.5)
        ax[1].annotate("selection stopped after one member:\nno addition improved validation",
                       (1, 100 * steps[0]["val_mean_class"]), textcoords="offset points", xytext=(0, 12),
                       ha="center", fontsize=8)
    _chance(ax[1], chance)
    ax[1].set(ylabel="mean per-class acc (%)", title="greedy path", ylim=(0, 100))
    ax[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def cost_accuracy(df, title: str = "Cost against accuracy", chance: float | None = None):
    """Top-1 against GFLOPs and against parameters, one point per model."""
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.2))
    for a, col, lab in ((ax[0], "gflops", "GFLOPs per clip"), (ax[1], "params", "parameters (M)")):
        xs = df[col].to_numpy(float) / (1e6 if col == "params" else 1)
        err = np.vstack([df["run"] - df["ci_low"], df["ci_high"] - df["run"]])
        a.errorbar(xs, df["run"], yerr=err, fmt="o", capsize=3, color=RUN_COLOR)
        for (x, y), ids in _same_point(xs, df["run"], df["id"]).items():
            a.annotate(", ".join(ids), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
        _chance(a, chance)
        a.set(xlabel=lab, ylabel="top-1 (%)", ylim=(0, 100))
    ax[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def tta_bars(df, chance: float | None = None, title: str = "Test-time views"):
    """Top-1 per view (mean over seeds; dots: each seed), one panel per interval, one colour per model."""
    plt = _plt()
    import seaborn as sns
    d = df.copy()
    d["model"] = d["network"] + " " + d["input"]
    intervals = sorted(d["interval"].unique())
    fig, ax = plt.subplots(1, len(intervals), figsize=(6.5 * len(intervals), 4.2), sharey=True, squeeze=False)
    hue_order = sorted(d["model"].unique())
    view_order = [v for v in ("center", "flip", "random_crop", "reverse", "concat_reverse") if v in set(d["view"])]
    for a, interval in zip(ax[0], intervals):
        part = d[d["interval"] == interval]
        sns.barplot(data=part, x="view", y="run", hue="model", hue_order=hue_order, order=view_order, ax=a,
                    errorbar=None)
        if "run_seeds" in part and any(isinstance(v, list) and len(v) > 1 for v in part["run_seeds"]):
            seeds = part.explode("run_seeds").astype({"run_seeds": float})
            sns.stripplot(data=seeds, x="view", y="run_seeds", hue="model", hue_order=hue_order, order=view_order,
                          dodge=True, ax=a, color="0.25", size=3, legend=False)
        _chance(a, chance)
        a.set(title=f"interval {interval}", ylabel="top-1 (%)", ylim=(0, 100), xlabel="")
        a.tick_params(axis="x", labelsize=8)
        a.legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _same_point(xs, ys, labels) -> dict:
    """Labels grouped by the point they mark, so models at the same place get one label, not a pile."""
    out: dict = {}
    for x, y, t in zip(xs, ys, labels):
        out.setdefault((float(x), float(y)), []).append(str(t))
    return out


def frame_counts(frames, title: str = "Frame counts (training sample)"):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    frames = np.asarray(frames, int)
    lo, hi = (int(frames.min()), int(frames.max())) if len(frames) else (0, 1)
    step = max(1, int(np.ceil((hi - lo + 1) / 20)))           # bins of whole frames
    ax.hist(frames, bins=np.arange(lo, hi + step + 1, step) - 0.5, color=RUN_COLOR)
    ax.set(xlabel="frames per video", ylabel="videos", title=title)
    _integer_axis(ax.xaxis)
    _integer_axis(ax.yaxis)
    fig.tight_layout()
    return fig


def rgb_vs_residual(clips: list[tuple[str, np.ndarray]], n_frames: int = 4):
    """RGB frames above their residual frames (|x[t+1]-x[t]|) for a few clips."""
    plt = _plt()
    fig, ax = plt.subplots(2 * len(clips), n_frames, figsize=(2.2 * n_frames, 2.0 * 2 * len(clips)))
    ax = np.atleast_2d(ax)
    for i, (name, frames) in enumerate(clips):
        idx = np.linspace(0, len(frames) - 2, n_frames).astype(int)
        for j, t in enumerate(idx):
            ax[2 * i, j].imshow(frames[t])
            diff = np.abs(frames[t + 1].astype(int) - frames[t].astype(int)).sum(-1)
            ax[2 * i + 1, j].imshow(diff, cmap="magma", vmin=0, vmax=max(30, np.percentile(diff, 99.5)))
            for r in (2 * i, 2 * i + 1):
                ax[r, j].set_xticks([])
                ax[r, j].set_yticks([])
        ax[2 * i, 0].set_ylabel(f"{name}\nRGB", fontsize=8)
        ax[2 * i + 1, 0].set_ylabel("residual", fontsize=8)
    fig.tight_layout()
    return fig


def per_class_inputs(classes: list[str], per_class: dict, chance: float | None = None,
                     title: str = "Per class: RGB, residual frames and their sum"):
    """Grouped bars per class for the RGB, Diff and sum accuracies, sorted by RGB minus Diff."""
    plt = _plt()
    rgb, diff, both = (100 * np.nan_to_num(np.asarray(per_class[k], float)) for k in ("rgb", "diff", "sum"))
    order = np.argsort(rgb - diff)
    k = len(classes)
    fig, ax = plt.subplots(figsize=(max(7, 0.55 * k + 2) if k <= 30 else 16, 4.4))
    x = np.arange(k)
    for off, vals, lab, col in ((-0.27, rgb, "RGB", RUN_COLOR), (0.0, diff, "residual (Diff)", "#55A868"),
                                (0.27, both, "RGB + Diff", "#8172B3")):
        ax.bar(x + off, vals[order], 0.27, label=lab, color=col)
    _chance(ax, chance)
    ax.set_xticks(x, [classes[i] for i in order], rotation=40 if k <= 30 else 90, ha="right",
                  fontsize=8 if k <= 30 else 5)
    ax.set(ylabel="top-1 (%)", ylim=(0, 105), title=title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    return fig
