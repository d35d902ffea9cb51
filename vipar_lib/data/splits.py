"""Dataset splits: UCF101's official lists and the VIPriors 2020 challenge split.

The VIPriors 2020 action-recognition challenge (the setting of the DeepBlue report, see
``shared/paper``) trains from scratch on a *modified* UCF101 split 1:

* for each class, in the order of the challenge's ``mod-ucf101-classInd.txt`` (UCF101's
  alphabetical class order), the first ``ceil(n/2)`` clips of ``trainlist01.txt`` in list order
  become **train** and the remaining ones **validation**;
* ``testlist01.txt``, grouped by class in the same order, becomes **test**;
* class indices are the challenge's own (shipped here as ``resources/vipriors2020_classInd.txt``);
  lists that do not hold UCF101's 101 classes keep their own ``classInd.txt`` indices.

The challenge renamed videos ``video_{split}_{NNNNNNN}.avi`` (numbered from 1 in that order);
:func:`challenge_name` gives that name for every entry so submissions can be written in the
challenge's format.

The challenge's validation half shares actor groups (``gNN``) with train in most classes, so
validation accuracy is optimistic; :func:`group_leakage` measures it and
``group_disjoint=True`` builds a validation split that holds whole groups instead
(for each class, whole groups taken from the end of the train list while that brings the
validation share closer to half).
"""
from __future__ import annotations

import math
import os
import re
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

from ..paths import write_atomic

__all__ = [
    "SplitError", "VideoEntry", "Split", "read_class_index", "read_ucf_list",
    "vipriors_split", "load_split_dir", "write_split", "group_leakage", "parse_ucf_name",
    "challenge_class_index", "read_challenge_layout", "validate_split",
]

SPLITS = ("train", "validation", "test")
_UCF_NAME = re.compile(r"^v_(?P<cls>[A-Za-z0-9]+)_g(?P<group>\d+)_c(?P<clip>\d+)\.avi$")


class SplitError(ValueError):
    """A split or class list is malformed or inconsistent; the message names the file."""


@dataclass(frozen=True)
class VideoEntry:
    """One video of a split: ``path`` relative to the video root, 0-based ``label`` (-1 unknown)."""

    path: str
    label: int
    group: int = -1
    video_id: str = ""   # the id used in logits files and submissions (challenge name or path)

    @property
    def class_dir(self) -> str:
        return self.path.split("/", 1)[0]


@dataclass
class Split:
    """Train/validation/test entries plus the class list (index i -> ``classes[i]``, 0-based)."""

    classes: list[str]
    entries: dict[str, list[VideoEntry]] = field(default_factory=dict)
    class_ids: list[int] | None = None   # 1-based ids written to classInd.txt (challenge ids)

    def __getitem__(self, split: str) -> list[VideoEntry]:
        if split not in self.entries:
            raise KeyError(f"unknown split {split!r}; available: {sorted(self.entries)}")
        return self.entries[split]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.entries.items()}


def _read_lines(path: Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"{path}: file not found")
    text = path.read_bytes().decode("utf-8-sig", errors="strict")
    return [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln.strip()]


SHOW = 10      # entries named in one error message


def _shown(items: list[str]) -> str:
    """Up to :data:`SHOW` items, '; '-joined, with a count of the rest (one line)."""
    more = f"; ... and {len(items) - SHOW} more" if len(items) > SHOW else ""
    return "; ".join(items[:SHOW]) + more


def _check_no_duplicates(path, rows: list[tuple[str, int]]) -> None:
    """``rows``: (entry, line number) of one file. Raise naming each entry listed more than once."""
    lines: dict[str, list[int]] = {}
    for key, n in rows:
        lines.setdefault(key, []).append(n)
    dup = [f"{k} (lines {', '.join(map(str, ns))})" for k, ns in lines.items() if len(ns) > 1]
    if dup:
        raise SplitError(f"{path}: {len(dup)} entries listed more than once: {_shown(dup)}")


def _check_disjoint(files: dict[str, tuple[object, list[tuple[str, int]]]]) -> None:
    """``files``: {split: (file, [(entry, line)])}. Raise naming every entry found in two splits."""
    seen: dict[str, tuple[str, object, int]] = {}
    clashes: dict[tuple[str, str], list[str]] = {}
    for split, (path, rows) in files.items():
        for key, n in rows:
            if key in seen and seen[key][0] != split:
                s0, p0, n0 = seen[key]
                clashes.setdefault((s0, split), []).append(f"{key} ({Path(p0).name}:{n0}, {Path(path).name}:{n})")
            else:
                seen.setdefault(key, (split, path, n))
    if clashes:
        (a, b), items = next(iter(clashes.items()))
        total = sum(len(v) for v in clashes.values())
        where = ", ".join(f"{x}/{y}" for x, y in clashes)
        raise SplitError(f"{files[a][0]} and {files[b][0]}: {total} videos in more than one split ({where}): "
                         f"{_shown([i for v in clashes.values() for i in v])}")


def read_class_index(path: Path) -> dict[str, int]:
    """Read a ``classInd.txt`` (``<id> <ClassName>`` per line, CRLF tolerated) -> {name: id}."""
    out: dict[str, int] = {}
    for n, line in enumerate(_read_lines(path), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise SplitError(f"{path}:{n}: expected '<id> <ClassName>', got {line!r}")
        if parts[1] in out:
            raise SplitError(f"{path}:{n}: class {parts[1]!r} listed twice")
        out[parts[1]] = int(parts[0])
    if sorted(out.values()) != list(range(1, len(out) + 1)):
        raise SplitError(f"{path}: class ids must be 1..{len(out)} without gaps")
    return out


def challenge_class_index() -> dict[str, int]:
    """The VIPriors 2020 challenge's own class ids (``mod-ucf101-classInd.txt``)."""
    ref = resources.files("vipar_lib.data").joinpath("resources/vipriors2020_classInd.txt")
    with resources.as_file(ref) as p:
        return read_class_index(p)


def parse_ucf_name(path: str) -> tuple[str, int, int]:
    """``Class/v_Class_gGG_cCC.avi`` -> (class-in-file-name, group, clip). Raises on other names."""
    name = path.rsplit("/", 1)[-1]
    m = _UCF_NAME.match(name)
    if not m:
        raise SplitError(f"{path!r} is not a UCF101-style name 'v_<Class>_gGG_cCC.avi'")
    return m["cls"], int(m["group"]), int(m["clip"])


def read_ucf_list(path: Path, classes: dict[str, int], allow_duplicates: bool = False,
                  with_lines: bool = False) -> list[tuple]:
    """Read ``trainlist0N.txt`` / ``testlist0N.txt`` -> [(path, class_dir, group)].

    Labels (train lists) must match the class folder's id, and no video may be listed twice
    (``allow_duplicates=True`` for lists that repeat videos on purpose); every offending line is
    named. The class is taken from the folder, not the file name (UCF101's ``HandstandPushups``
    folder holds ``v_HandStandPushups_*``). ``with_lines``: rows get a 4th field, the line number.
    """
    rows, unknown, bad_label = [], [], []
    for n, line in enumerate(_read_lines(path), 1):
        parts = line.split()
        rel = parts[0].replace("\\", "/")
        if "/" not in rel or len(parts) > 2:
            raise SplitError(f"{path}:{n}: expected '<Class>/<file>.avi [label]', got {line!r}")
        cdir = rel.split("/", 1)[0]
        if cdir not in classes:
            unknown.append(f"{n}: {rel}")
            continue
        if len(parts) > 1:
            if not parts[1].lstrip("-").isdigit() or int(parts[1]) != classes[cdir]:
                bad_label.append(f"line {n}: label {parts[1]!r} does not match class {cdir!r} (id {classes[cdir]})")
        try:
            group = parse_ucf_name(rel)[1]
        except SplitError:
            group = -1
        rows.append((rel, cdir, group, n))
    if unknown:
        raise SplitError(f"{path}: {len(unknown)} entries name classes not in classInd.txt: {_shown(unknown)}")
    if bad_label:
        raise SplitError(f"{path}: {len(bad_label)} labels disagree with the class folder: {_shown(bad_label)}")
    if not allow_duplicates:
        _check_no_duplicates(path, [(r[0], r[3]) for r in rows])
    return rows if with_lines else [r[:3] for r in rows]


def _ordered_classes(lists_dir: Path) -> tuple[list[str], list[int]]:
    own = read_class_index(lists_dir / "classInd.txt")
    names = sorted(own, key=own.get)
    challenge = challenge_class_index()
    if set(names) == set(challenge):
        # UCF101 itself: the challenge's class ids, classes in the challenge file's order
        return names, [challenge[c] for c in names]
    return names, [own[c] for c in names]


def vipriors_split(lists_dir: Path, group_disjoint: bool = False, split_id: int = 1) -> Split:
    """Build the VIPriors 2020 split from UCF101-format lists in ``lists_dir``.

    Returns a :class:`Split` whose label ``i`` is the position of the class in challenge order and
    whose ``class_ids`` are the challenge ids (or the list's own ids for non-UCF101 lists).
    Refused (:class:`SplitError` naming the file, the lines and the entries): a video listed twice
    (it would land in train *and* validation), a video in both the train and the test list, and
    a label that disagrees with the class folder.
    """
    lists_dir = Path(lists_dir)
    names, ids = _ordered_classes(lists_dir)
    own = read_class_index(lists_dir / "classInd.txt")
    train_file, test_file = lists_dir / f"trainlist0{split_id}.txt", lists_dir / f"testlist0{split_id}.txt"
    train_rows = read_ucf_list(train_file, own, with_lines=True)
    test_rows = read_ucf_list(test_file, own, with_lines=True)
    _check_disjoint({"train": (train_file, [(r[0], r[3]) for r in train_rows]),
                     "test": (test_file, [(r[0], r[3]) for r in test_rows])})
    train_rows, test_rows = [r[:3] for r in train_rows], [r[:3] for r in test_rows]
    label_of = {c: i for i, c in enumerate(names)}
    by_class: dict[str, list[tuple[str, str, int]]] = {c: [] for c in names}
    for r in train_rows:
        by_class[r[1]].append(r)
    test_by: dict[str, list[tuple[str, str, int]]] = {c: [] for c in names}
    for r in test_rows:
        test_by[r[1]].append(r)

    out = {s: [] for s in SPLITS}
    for c in names:
        rows = by_class[c]
        if group_disjoint:
            tr, va = _group_disjoint_halves(rows)
        else:
            k = math.ceil(len(rows) / 2)
            tr, va = rows[:k], rows[k:]
        out["train"] += tr
        out["validation"] += va
        out["test"] += test_by[c]
    entries = {}
    for s in SPLITS:
        entries[s] = [VideoEntry(p, label_of[c], g, challenge_name(s, i))
                      for i, (p, c, g) in enumerate(out[s], 1)]
    return Split(names, entries, ids)


def _group_disjoint_halves(rows):
    groups: list[int] = []
    for r in rows:
        if r[2] not in groups:
            groups.append(r[2])
    need = len(rows) - math.ceil(len(rows) / 2)
    val_groups: set[int] = set()
    n_val = 0
    for g in reversed(groups):   # take whole groups from the end while that gets closer to half
        size = sum(1 for r in rows if r[2] == g)
        if len(val_groups) == len(groups) - 1 or abs(n_val + size - need) > abs(n_val - need):
            break
        val_groups.add(g)
        n_val += size
    return [r for r in rows if r[2] not in val_groups], [r for r in rows if r[2] in val_groups]


def challenge_name(split: str, index: int) -> str:
    """The challenge's file name for the ``index``-th (1-based) video of ``split``."""
    return f"video_{split}_{index:07d}.avi"


def group_leakage(split: Split, a: str = "train", b: str = "validation") -> dict:
    """Classes whose ``a`` and ``b`` splits share actor groups.

    Returns ``{"classes_leaking": n, "num_classes": C, "shared_groups": {class: [groups]},
    "videos_in_shared_groups": m}`` where ``m`` counts ``b`` videos whose group is also in ``a``.
    """
    shared: dict[str, list[int]] = {}
    n_videos = 0
    for ci, cname in enumerate(split.classes):
        ga = {e.group for e in split[a] if e.label == ci}
        gb = [e.group for e in split[b] if e.label == ci]
        both = sorted(ga & set(gb))
        if both:
            shared[cname] = both
            n_videos += sum(1 for g in gb if g in ga)
    return {"classes_leaking": len(shared), "num_classes": split.num_classes,
            "shared_groups": shared, "videos_in_shared_groups": n_videos}


def write_split(split: Split, out_dir: Path) -> list[Path]:
    """Write ``train.txt``, ``validation.txt``, ``test.txt`` and ``classInd.txt``.

    Split files hold ``<Class>/<file>.avi <label>`` with the 1-based class id of ``classInd.txt``;
    a video without a label (-1: the challenge layout's test split) is written with id ``0``. Each
    file is replaced atomically.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = split.class_ids or list(range(1, split.num_classes + 1))
    written = [write_atomic(out_dir / "classInd.txt", "".join(f"{ids[i]} {c}\n" for i, c in enumerate(split.classes)))]
    for s, rows in split.entries.items():
        written.append(write_atomic(out_dir / f"{s}.txt",
                                     "".join(f"{e.path} {ids[e.label] if e.label >= 0 else 0}\n" for e in rows)))
    return written


def load_split_dir(split_dir: Path, names: Sequence[str] = SPLITS, allow_duplicates: bool = False) -> Split:
    """Read a folder written by :func:`write_split` (``vipar split``).

    Refused, naming the file, the lines and the entries: a video listed twice in one file or in
    two of the splits read, and a label that disagrees with the class folder (``<Class>/...``
    paths whose folder is a class of ``classInd.txt``). Id ``0`` reads as "no label" (-1).
    ``allow_duplicates=True`` accepts repeats within one file (a protocol that repeats videos on
    purpose); overlaps between splits are refused regardless.
    """
    split_dir = Path(split_dir)
    cind = read_class_index(split_dir / "classInd.txt")
    classes = list(cind)              # file order = label order
    label_of = {cind[c]: i for i, c in enumerate(classes)}
    entries: dict[str, list[VideoEntry]] = {}
    seen: dict[str, tuple[Path, list[tuple[str, int]]]] = {}
    for s in names:
        rows, keys, bad_label = [], [], []
        f = split_dir / f"{s}.txt"
        for n, line in enumerate(_read_lines(f), 1):
            parts = line.split()
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise SplitError(f"{f}:{n}: expected '<path> <class id>', got {line!r}")
            cid = int(parts[1])
            if cid not in label_of and cid != 0:
                raise SplitError(f"{f}:{n}: class id {cid} not in classInd.txt "
                                 f"(allowed 1..{len(classes)}, or 0 for no label)")
            path = parts[0].replace("\\", "/")
            cdir = path.split("/", 1)[0] if "/" in path else ""
            if cdir in cind and cid != cind[cdir]:
                bad_label.append(f"line {n}: {path} has class id {cid}, its folder {cdir!r} is id {cind[cdir]}")
            try:
                g = parse_ucf_name(path)[1]
            except SplitError:
                g = -1
            rows.append(VideoEntry(path, label_of[cid] if cid else -1, g, challenge_name(s, n)))
            keys.append((path, n))
        if bad_label:
            raise SplitError(f"{f}: {len(bad_label)} labels disagree with the class folder: {_shown(bad_label)}")
        if not allow_duplicates:
            _check_no_duplicates(f, keys)
        seen[s] = (f, keys)
        entries[s] = rows
    _check_disjoint(seen)
    return Split(classes, entries, [cind[c] for c in classes])


def read_challenge_layout(root: Path) -> Split:
    """Read the challenge's own layout: ``root/videos/video_*.avi`` + ``root/annotations/``.

    Paths are ``videos/<name>``; the test split's labels are unknown (-1). A video listed twice,
    or in two splits, is refused (naming the files, lines and videos).
    """
    root = Path(root)
    ann = root / "annotations"
    cind = read_class_index(ann / "mod-ucf101-classInd.txt")
    classes = list(cind)
    label_of = {cind[c]: i for i, c in enumerate(classes)}
    entries, seen = {}, {}
    for s in SPLITS:
        rows, keys = [], []
        f = ann / f"mod-ucf101-{s}.txt"
        for n, line in enumerate(_read_lines(f), 1):
            parts = line.split()
            if len(parts) > 2:
                raise SplitError(f"{f}:{n}: expected '<video> [class id]', got {line!r}")
            label = -1
            if len(parts) > 1:
                if not parts[1].isdigit() or int(parts[1]) not in label_of:
                    raise SplitError(f"{f}:{n}: bad class id {parts[1]!r} (allowed 1..{len(classes)})")
                label = label_of[int(parts[1])]
            rows.append(VideoEntry(f"videos/{parts[0]}", label, -1, parts[0]))
            keys.append((parts[0], n))
        _check_no_duplicates(f, keys)
        seen[s] = (f, keys)
        entries[s] = rows
    _check_disjoint(seen)
    return Split(classes, entries, [cind[c] for c in classes])


def validate_split(split: Split, video_root: Path, splits: Iterable[str] | None = None) -> None:
    """Raise :class:`SplitError` listing every entry whose video file is missing under ``video_root``."""
    video_root = Path(video_root)
    missing = [f"{s}: {e.path}" for s in (splits or split.entries) for e in split[s]
               if not (video_root / e.path).is_file()]
    if missing:
        shown = "\n  ".join(missing[:20]) + ("\n  ..." if len(missing) > 20 else "")
        raise SplitError(f"{len(missing)} videos listed in the split are missing under {video_root}:\n  {shown}")
