"""Logits files: the one format every stage writes and reads (numpy only, no torch).

A logits file (``.npz``) holds one row of **pre-softmax** scores per video::

    video   str [N]       ids: the challenge's ``video_<split>_NNNNNNN.avi`` names
    label   int64 [N]     0-based class index, -1 where unknown
    logits  float32 [N, C]  mean over the video's clips; a row of NaN = not decodable (counts wrong)
    meta    JSON          run, model, input type, interval, view, clips, split, classes, class ids,
                          bad videos, ...

Evaluation writes them, ensembles and reports read them, and the authors' released ``.txt``
logits are read into the same :class:`LogitsFile` (:mod:`vipar_lib.released`).

:func:`align` is the only place files are matched with each other: videos by id, classes by
name. Files whose videos, class sets, labels or splits disagree are refused with a
:class:`LogitsError` that names both files and shows what differs; the same classes in another
order are permuted into the first file's order.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .metrics import mean_class_accuracy, top1

__all__ = ["LogitsFile", "LogitsError", "Aligned", "save_logits", "load_logits", "logits_name", "align",
           "CHECKPOINTS"]


class LogitsError(ValueError):
    """A logits file is unreadable, or files cannot be matched; the message names the files."""


@dataclass
class LogitsFile:
    video: np.ndarray      # str ids
    label: np.ndarray      # int, -1 unknown
    logits: np.ndarray     # float32 [N, C]
    meta: dict

    @property
    def top1(self) -> float:
        return top1(self.logits, self.label)

    @property
    def mean_class(self) -> float:
        return mean_class_accuracy(self.logits, self.label)

    @property
    def classes(self) -> list[str] | None:
        return self.meta.get("classes")


CHECKPOINTS = ("best", "last")


def logits_name(split: str, view: str, interval: int, clips: int, checkpoint: str = "best") -> str:
    """File name of one evaluation inside a run's ``logits/`` folder.

    ``best.pt``'s logits keep the plain name (``test-center-i1-k10.npz``); ``last.pt``'s carry the
    checkpoint (``test-center-i1-k10-last.npz``), so the two never share a file.
    """
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint={checkpoint!r}; allowed: {list(CHECKPOINTS)}")
    return f"{split}-{view}-i{interval}-k{clips}" + ("" if checkpoint == "best" else f"-{checkpoint}") + ".npz"


def save_logits(path, lf: LogitsFile) -> Path:
    """Write atomically (a temporary file renamed over ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, video=np.asarray(lf.video, dtype=str), label=np.asarray(lf.label, dtype=np.int64),
                 logits=np.asarray(lf.logits, dtype=np.float32), meta=np.asarray(json.dumps(lf.meta)))
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_logits(path) -> LogitsFile:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: logits file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"video", "label", "logits", "meta"} - set(z.files)
            if missing:
                raise LogitsError(f"{path}: not a vipar logits file (missing {sorted(missing)})")
            lf = LogitsFile(z["video"].astype(str), z["label"].astype(np.int64), z["logits"].astype(np.float32),
                            json.loads(str(z["meta"])))
    except LogitsError:
        raise
    except Exception as e:          # a truncated or garbled zip: BadZipFile, zlib.error, EOFError, ValueError ...
        why = " ".join(str(e).split())[:160] or type(e).__name__
        raise LogitsError(f"{path}: not a readable .npz logits file ({why}); write it again (vipar evaluate "
                          "--force, or the command that made it)") from None
    if lf.logits.ndim != 2 or len(lf.video) != len(lf.logits) or len(lf.label) != len(lf.logits):
        raise LogitsError(f"{path}: inconsistent shapes: {len(lf.video)} videos, {len(lf.label)} labels, "
                          f"logits {lf.logits.shape}")
    return lf


@dataclass
class Aligned:
    """Files matched row by row: videos sorted by id, columns in ``classes`` order."""

    video: np.ndarray
    label: np.ndarray
    logits: list[np.ndarray]
    classes: list[str] | None
    meta: dict


def _short(xs, k=6) -> str:
    xs = list(xs)
    return "[" + ", ".join(map(str, xs[:k])) + (", ..." if len(xs) > k else "") + "]"


def align(files: Sequence[LogitsFile], names: Sequence[str] | None = None) -> Aligned:
    """Match ``files`` by video id and class name (see the module docstring for what is refused)."""
    if not files:
        raise LogitsError("no logits files to align")
    names = list(names or [f"file {i}" for i in range(len(files))])
    ref, rname = files[0], names[0]
    order = np.argsort(ref.video, kind="stable")
    ids, labels = ref.video[order], ref.label[order]
    if len(set(ids.tolist())) != len(ids):
        raise LogitsError(f"{rname}: video ids repeat")
    out = [ref.logits[order]]
    for f, name in zip(files[1:], names[1:]):
        a, b = set(ids.tolist()), set(f.video.tolist())
        if a != b:
            raise LogitsError(f"video sets differ between {rname} and {name}: "
                              f"{len(a - b)} only in the first (e.g. {sorted(a - b)[:10]}), "
                              f"{len(b - a)} only in the second (e.g. {sorted(b - a)[:10]})")
        sr, sf = ref.meta.get("split"), f.meta.get("split")
        if sr and sf and sr != sf:
            raise LogitsError(f"{rname} holds the {sr!r} split, {name} the {sf!r} split")
        logits, label = f.logits, f.label
        if logits.shape[1] != ref.logits.shape[1]:
            raise LogitsError(f"{name} has {logits.shape[1]} classes, {rname} has {ref.logits.shape[1]}")
        cr, cf = ref.classes, f.classes
        if cr and cf and list(cr) != list(cf):
            if sorted(cr) != sorted(cf):
                raise LogitsError(f"class sets differ between {rname} and {name}: only in the first "
                                  f"{_short(sorted(set(cr) - set(cf)))}, only in the second "
                                  f"{_short(sorted(set(cf) - set(cr)))}")
            perm = np.array([list(cf).index(c) for c in cr])     # column j of ref = column perm[j] of f
            logits = logits[:, perm]
            inv = {old: new for new, old in enumerate(perm)}
            label = np.array([inv[y] if y >= 0 else -1 for y in label], dtype=np.int64)
        o = np.argsort(f.video, kind="stable")
        lab = label[o]
        both = (labels >= 0) & (lab >= 0)
        wrong = np.nonzero(both & (labels != lab))[0]
        if len(wrong):
            raise LogitsError(f"labels differ between {rname} and {name} for {len(wrong)} videos "
                              f"(e.g. {ids[wrong[0]]}: {labels[wrong[0]]} vs {lab[wrong[0]]})")
        out.append(logits[o])
    meta = {k: ref.meta.get(k) for k in ("classes", "class_ids", "split")}
    return Aligned(ids, labels, out, ref.classes, meta)
