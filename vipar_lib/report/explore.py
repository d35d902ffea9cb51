"""The data notebook's views: the split, actor-group leakage, video statistics, RGB against residual frames.

They read the split and the videos the executor prepared (``prepare_data``): a ``Split`` and the
folder its paths are relative to.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.splits import Split, group_leakage
from ..data.video import VideoError, probe, read_frames
from . import figures as F
from .pages import md, show_figure

__all__ = ["split_summary", "leakage_table", "video_stats", "stats_table", "rgb_residual", "synthetic_classes"]


def _has_groups(entries) -> bool:
    return all(e.group >= 0 for e in entries)


def split_summary(split: Split) -> pd.DataFrame:
    rows = []
    for s, entries in split.entries.items():
        rows.append({"split": s, "videos": len(entries), "classes": len({e.label for e in entries}),
                     "actor groups (class, group)": len({(e.label, e.group) for e in entries})
                     if _has_groups(entries) else "n/a"})
    return pd.DataFrame(rows)


def leakage_table(split: Split, show: int = 25) -> pd.DataFrame:
    if not _has_groups(split["train"]):
        md("Group ids are not in the file names of this layout; leakage cannot be measured.")
        return pd.DataFrame()
    leak = group_leakage(split)
    md(f"**{leak['classes_leaking']} of {leak['num_classes']} classes** share actor groups between train and "
       f"validation; {leak['videos_in_shared_groups']} of {len(split['validation'])} validation videos belong to a "
       "group also seen in training.")
    rows = [{"class": c, "shared groups": ", ".join(f"g{g:02d}" for g in gs)}
            for c, gs in leak["shared_groups"].items()]
    if len(rows) > show:
        md(f"The first {show} of {len(rows)} classes:")
    return pd.DataFrame(rows).head(show)


def video_stats(split: Split, video_root: Path, sample: int = 60, folder: Path | None = None) -> pd.DataFrame:
    entries = split["train"]
    idx = np.linspace(0, len(entries) - 1, min(sample, len(entries))).astype(int)
    rows = []
    for i in idx:
        try:
            info = probe(Path(video_root) / entries[i].path)
            rows.append({"frames": info.frames, "fps": info.fps, "width": info.width, "height": info.height})
        except VideoError as e:
            rows.append({"frames": 0, "fps": 0.0, "width": 0, "height": 0, "error": str(e)})
    df = pd.DataFrame(rows)
    ok = df[df["frames"] > 0] if "error" not in df else df[df["error"].isna()]
    show_figure(F.frame_counts(ok["frames"]), f"Histogram of frames per video over {len(ok)} training videos.",
                "data_frames.png", folder=folder)
    if len(ok) < len(df):
        md(f"{len(df) - len(ok)} of the {len(df)} sampled videos could not be read: "
           + "; ".join(sorted(set(df["error"].dropna())))[:500])
    return stats_table(ok)


def _whole(x: float, d: int = 1) -> str:
    """A measured value: no decimals when it is whole (160, 25), else ``d`` (29.97 fps with ``d=2``)."""
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.{d}f}"


def stats_table(df: pd.DataFrame) -> pd.DataFrame:
    """Frames, frame rate and size of the sampled videos: count, min, median, mean, max, written as a reader
    expects them (counts and pixels as integers; a mean with 1 decimal; a frame rate as the file gives it)."""
    out = {}
    for col, name, d in (("frames", "frames per video", 1), ("fps", "frame rate (fps)", 2),
                         ("width", "width (px)", 1), ("height", "height (px)", 1)):
        v = df[col].astype(float)
        if v.empty:
            continue
        out[name] = {"videos": str(len(v)), "min": _whole(v.min(), d), "median": _whole(v.median(), d),
                     "mean": _whole(round(v.mean(), d), d), "max": _whole(v.max(), d)}
    return pd.DataFrame.from_dict(out, orient="index")


def rgb_residual(split: Split, video_root: Path, n_clips: int = 3, folder: Path | None = None):
    sp = split
    seen, clips = set(), []
    for e in sp["train"]:
        if e.label in seen:
            continue
        seen.add(e.label)
        path = Path(video_root) / e.path
        n = probe(path).frames
        clips.append((sp.classes[e.label], read_frames(path, list(range(0, min(n, 32))), short_side=120)))
        if len(clips) == n_clips:
            break
    names = ", ".join(c for c, _ in clips)
    return show_figure(F.rgb_vs_residual(clips), f"RGB frames (rows 1, 3, 5) above their residual frames "
                       f"|x[t+1] − x[t]| for one clip each of {names}.", "data_rgb_residual.png", folder=folder)


def synthetic_classes(split: Split) -> pd.DataFrame:
    from ..data.synth import MIRROR_OF, REVERSE_OF
    md("The synthetic classes are motions. Playing a clip backwards or mirroring it changes the label of some "
       "classes: those views are **not label-preserving** for them (see Table 3's notebook).")
    return pd.DataFrame([{"class": c, "played backwards it is": REVERSE_OF.get(c, c),
                          "mirrored it is": MIRROR_OF.get(c, c)} for c in split.classes])

