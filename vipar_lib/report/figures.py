"""Figures for the reports (matplotlib + seaborn). Each function returns the figure it drew."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["training_curves", "accuracy_bars", "confusion_and_per_class", "ensemble_steps", "cost_accuracy",
           "rgb_vs_residual", "save"]


def _plt():
    import matplotlib.pyplot as plt
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    return plt


def save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def training_curves(histories: dict[str, list[dict]], title: str = "Training curves"):
    """Training loss and validation mean per-class accuracy per epoch, one line per run."""
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    for name, h in histories.items():
        ep = [r["epoch"] for r in h]
        ax[0].plot(ep, [r["train_loss"] for r in h], label=name)
        v = [(r["epoch"], 100 * r["val_mean_class"]) for r in h if "val_mean_class" in r]
        if v:
            ax[1].plot(*zip(*v), marker="o", ms=3, label=name)
    ax[0].set(xlabel="epoch", ylabel="training loss", title="training loss")
    ax[1].set(xlabel="epoch", ylabel="validation mean per-class acc (%)", title="validation")
    ax[1].legend(fontsize=8, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_bars(df, title: str = "", label_col: str = "method"):
    """This run's top-1 with its 95% interval beside the paper's number, per row."""
    plt = _plt()
    n = len(df)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * n + 2), 4.2))
    x = np.arange(n)
    run = df["run"].to_numpy(float)
    err = np.vstack([run - df["ci_low"].to_numpy(float), df["ci_high"].to_numpy(float) - run])
    ax.bar(x - 0.2, run, 0.4, yerr=err, capsize=3, label="this run (95% CI)", color="#4C72B0")
    paper = np.array([np.nan if p is None else p for p in df["paper"]], float)
    ax.bar(x + 0.2, paper, 0.4, label="paper (UCF101)", color="#DD8452", alpha=0.8)
    ax.set_xticks(x, [str(i) for i in df["id"]], rotation=0)
    ax.set(ylabel="top-1 accuracy (%)", title=title, ylim=(0, 100))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def confusion_and_per_class(cm: np.ndarray, classes: list[str], title: str = ""):
    """Row-normalised confusion matrix and per-class accuracy."""
    plt = _plt()
    import seaborn as sns
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    k = len(classes)
    fig, ax = plt.subplots(1, 2, figsize=(min(22, 6 + 0.45 * k * 2), min(10, 3 + 0.35 * k)),
                           gridspec_kw={"width_ratios": [3, 2]})
    sns.heatmap(norm, ax=ax[0], cmap="Blues", vmin=0, vmax=1, xticklabels=classes if k <= 30 else False,
                yticklabels=classes if k <= 30 else False, cbar_kws={"label": "fraction of true class"})
    ax[0].set(xlabel="predicted", ylabel="true", title="confusion matrix")
    acc = 100 * np.diag(norm)
    order = np.argsort(acc)
    ax[1].barh(np.arange(k), acc[order], color="#55A868")
    ax[1].set_yticks(np.arange(k), [classes[i] for i in order] if k <= 30 else [""] * k, fontsize=8)
    ax[1].set(xlabel="accuracy (%)", title="per-class accuracy", xlim=(0, 100))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ensemble_steps(steps: list[dict], title: str = "Greedy ensemble: gain of each step"):
    """Validation (chosen on) and test (reported on) mean per-class accuracy after each added member."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(steps) + 3), 4))
    x = np.arange(1, len(steps) + 1)
    ax.plot(x, [100 * s["val_mean_class"] for s in steps], marker="o", label="validation (selection)")
    ax.plot(x, [100 * s["test_mean_class"] for s in steps], marker="s", label="test (reported)")
    ax.set_xticks(x, [f"+{s['added']}" for s in steps], rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="mean per-class acc (%)", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def cost_accuracy(df, title: str = "Cost against accuracy"):
    """Top-1 against GFLOPs and against parameters, one point per model."""
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.2))
    for a, col, lab in ((ax[0], "gflops", "GFLOPs per clip"), (ax[1], "params", "parameters (M)")):
        xs = df[col].to_numpy(float) / (1e6 if col == "params" else 1)
        a.scatter(xs, df["run"], s=40)
        for x, y, t in zip(xs, df["run"], df["id"]):
            a.annotate(str(t), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
        a.set(xlabel=lab, ylabel="top-1 (%)")
    fig.suptitle(title)
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
