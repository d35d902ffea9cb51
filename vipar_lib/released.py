"""The authors' released test logits, re-scored on the real UCF101 test set (numpy only).

The DeepBlue team published per-model **pre-softmax test logits** (GitHub ``xdw1995/123``, commit
``40c31aa5d0383cb7521acac41dac32c191642988``; README.md:1 "The all TXT file is the feature out of
all models"): one ``.txt`` per model and test-time view, 3,783 lines (the challenge's test videos
``video_test_0000001.avi`` ... in order) of 101 space-separated floats, column *j* = challenge class
id *j + 1* (``fusion.py:7-16`` reads them as such arrays; ``test_multmodel_new.py:255,273-274``
writes one line per video of the sequential test loader over ``mod-ucf101-test.txt``, and
``:280-281`` ranks columns as class ids ``column + 1``). The labels follow from the official
``testlist01.txt`` (:func:`vipar_lib.data.splits.vipriors_split`): these are real UCF101 numbers,
not synthetic ones.

* :func:`load_release` finds the logits files in a folder (a clone of the repository, or any folder
  holding its ``*.txt`` logits; lists such as ``train22.txt`` or submissions are recognised and
  skipped), parses them strictly (a wrong line or column count, a non-numeric field or a NaN is a
  problem record naming the file and line; the file is left out, the run goes on), caches the
  arrays by content hash, and returns :class:`~vipar_lib.logits.LogitsFile` objects with the
  challenge's video ids, the labels and the classes in the split's order.
* :func:`catalogue` says what each file is (model, input, interval, view, clips) with ``file:line``
  evidence from the release's code and the fields whose only evidence is the file name
  (``released_files.yaml``).
* :func:`score_files`, :func:`table3_real`, :func:`rgb_vs_diff`, :func:`table4_real`,
  :func:`selection_optimism` and :func:`per_class` compute what the report shows; :func:`report`
  runs them all and returns one JSON-ready dict.

Intervals are 95% percentile bootstraps over test videos (1,000 resamples by default), the same
resamples for every file; ``ci_low``/``ci_high`` are those of the **mean per-class accuracy** (the
challenge metric), ``top1_ci_low``/``top1_ci_high`` those of top-1. All accuracies are fractions in [0, 1].
"""
from __future__ import annotations

import errno
import hashlib
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import yaml

from .logits import LogitsFile
from .metrics import (
    VideoBootstrap,
    class_mean,
    correct,
    discordance_halfwidth,
    predictions,
    top1,
    topk_accuracy,
)

__all__ = ["ReleasedError", "Release", "catalogue", "find_logits_files", "parse_logits", "test_labels",
           "load_release", "Bootstrap", "score_files", "table3_real", "rgb_vs_diff", "table4_real",
           "selection_optimism", "greedy_select", "per_class", "report", "RELEASE_REPO", "RELEASE_COMMIT"]

RELEASE_REPO = "xdw1995/123"
RELEASE_COMMIT = "40c31aa5d0383cb7521acac41dac32c191642988"
PARSER_VERSION = 1                 # part of the cache key: bump when parsing changes
_SNIFF_BYTES = 65536
_MIN_COLUMNS = 10                  # a logits line holds many numbers; lists and submissions hold 2-6 fields
# a released file is 3,783 lines x 101 numbers, about 4 MB of text; a file 16x that is not one: refused by its size,
# before it is read (a 2 GB file read whole costs its size in memory, and more to parse)
MAX_FILE_BYTES = 64 * 2**20


class ReleasedError(ValueError):
    """A release folder or logits file that cannot be used; the message names the folder or file (and line)."""


# ---------------------------------------------------------------------------------------------- catalogue
def _flatten(xs):
    out = []
    for x in xs or []:
        out.extend(_flatten(x) if isinstance(x, list) else [x])
    return out


@lru_cache(maxsize=1)
def _catalogue() -> dict:
    text = resources.files("vipar_lib").joinpath("released_files.yaml").read_text(encoding="utf-8")
    d = yaml.safe_load(text)
    files = {}
    for stem, e in d["files"].items():
        e = dict(e)
        e["evidence"] = _flatten(e.get("evidence"))
        e["name_only"] = list(e.get("name_only") or [])
        e.setdefault("table3_alternatives", [])
        e.setdefault("reading", None)
        files[str(stem)] = e
    comparables = {k: v for k, v in (d.get("comparables") or {}).items() if not str(k).startswith("_")}
    return {"repo": d["repo"], "commit": d["commit"], "files": files, "selection": list(d.get("selection", [])),
            "comparables": comparables}


def catalogue() -> dict:
    """What each released file is: ``{"repo", "commit", "files": {stem: entry}, "selection": [evidence]}``.

    An entry holds ``model``, ``input``, ``interval``, ``view``, ``clips``, ``weights``, ``table3``
    (the paper's Table-3 row id, or None), ``table3_alternatives``, ``name_only`` (fields whose only
    evidence is the file name), ``evidence`` (``file:line`` strings) and ``reading``. Copies.
    """
    import copy
    return copy.deepcopy(_catalogue())


# ------------------------------------------------------------------------------------------ finding files
def _sniff(path: Path) -> str | None:
    """None if ``path`` looks like a logits file, else why not (read from its first lines only)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError as e:
        return f"unreadable ({e.strerror})"
    if not head.strip():
        return "empty"
    lines = [ln for ln in head.decode("utf-8-sig", errors="replace").splitlines() if ln.strip()]
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]                                  # the last one may be cut by the read
    lines = lines[:5]
    ntok = sorted(len(ln.split()) for ln in lines)
    if ntok[len(ntok) // 2] < _MIN_COLUMNS:
        return f"{ntok[len(ntok) // 2]} fields per line (a list or a submission, not logits)"
    toks = [t for ln in lines for t in ln.split()]
    numeric = sum(_is_float(t) for t in toks)
    if numeric < 0.9 * len(toks):
        return "mostly non-numeric fields"
    return None


def _is_float(t: str) -> bool:
    try:
        float(t)
    except ValueError:
        return False
    return True


def find_logits_files(release_dir) -> tuple[list[Path], list[dict]]:
    """``*.txt`` logits files in ``release_dir`` and up to two levels of sub-folders (hidden ones skipped).

    Returns ``(logits paths, skipped)`` where ``skipped`` is ``[{"file", "reason"}]`` for the other
    ``.txt`` files. A file named like a catalogued release file is always a logits candidate (so a
    damaged one is reported, not skipped); other files are recognised by their first lines (at least
    10 fields per line, nearly all numbers). A ``*.txt`` entry that is not a regular file (a symbolic
    link that loops or dangles, a folder) is a candidate too, so :func:`load_release` names it and why
    it was left out. Raises :class:`ReleasedError` when the folder holds no logits file.
    """
    root = Path(release_dir)
    if not root.is_dir():
        raise ReleasedError(f"{root}: release folder not found (a clone of {RELEASE_REPO} or a folder of its "
                            f"*.txt logits)")
    known = set(_catalogue()["files"])
    paths = []
    for p in sorted(root.rglob("*.txt")):
        rel = p.relative_to(root)
        if len(rel.parts) > 3 or any(part.startswith(".") for part in rel.parts[:-1]):
            continue
        paths.append(p)
    found, skipped = [], []
    for p in paths:
        if not p.is_file():             # a loop, a dangling link, a folder: kept, so that loading names it
            found.append(p)
            continue
        why = None if p.stem in known else _sniff(p)
        if why is None:
            found.append(p)
        else:
            skipped.append({"file": str(p), "reason": why})
    if not found:
        raise ReleasedError(f"{root}: no logits files (*.txt of >= {_MIN_COLUMNS} numbers per line) in the folder or "
                            f"its sub-folders; expected a clone of {RELEASE_REPO} or its *.txt logits")
    return found, skipped


# ------------------------------------------------------------------------------------------------ parsing
def parse_logits(raw: bytes, name: str, n_rows: int | None = None, n_cols: int | None = None) -> np.ndarray:
    """Parse one released logits file's bytes into float32 ``[rows, cols]``, strictly.

    Fast path: numpy's C reader (``numpy.loadtxt``), then shape and finite checks. Whatever that path
    refuses is read again line by line, which either names the first bad line, raising
    :class:`ReleasedError` ``"<name>:<line>: ..."`` (wrong number of values, a non-number, NaN or
    infinity, a blank line inside the data, too few or too many lines), or returns the array.
    Trailing blank lines and a UTF-8 BOM are allowed; rows map to videos by order, so blank lines
    inside the data are not.
    """
    import io
    import re
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise ReleasedError(f"{name}: empty file, expected {n_rows or 'N'} lines of {n_cols or 'C'} numbers")
    body = raw.rstrip(b" \t\r\n")
    blank_inside = re.search(rb"\n[ \t\r]*\n", body) is not None or body.lstrip(b" \t\r").startswith(b"\n")
    if not blank_inside:
        try:
            arr = np.loadtxt(io.BytesIO(body), dtype=np.float64, comments=None, ndmin=2, encoding="latin-1")
        except ValueError:
            arr = None
        if arr is not None and (n_rows is None or arr.shape[0] == n_rows) \
                and (n_cols is None or arr.shape[1] == n_cols) and np.isfinite(arr).all():
            return arr.astype(np.float32)
    return _parse_slowly(body, name, n_rows, n_cols)


def _parse_slowly(body: bytes, name: str, n_rows: int | None, n_cols: int | None) -> np.ndarray:
    """Line by line: the first problem raised with its line number, else the array."""
    lines = body.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    want = n_cols
    rows = []
    for n, line in enumerate(lines, 1):
        toks = line.split()
        if not toks:
            raise ReleasedError(f"{name}:{n}: blank line inside the data (each line must hold one video's "
                                f"{want or 'C'} numbers)")
        if want is None:
            want = len(toks)
        if len(toks) != want:
            raise ReleasedError(f"{name}:{n}: {len(toks)} values, expected {want} (one per class)")
        row = []
        for j, t in enumerate(toks, 1):
            try:
                v = float(t)
            except ValueError:
                raise ReleasedError(f"{name}:{n}: field {j} {t[:20]!r} is not a number") from None
            if not np.isfinite(v):
                raise ReleasedError(f"{name}:{n}: field {j} is {t[:20]!r}; only finite numbers are allowed")
            row.append(v)
        rows.append(row)
    if n_rows is not None and len(lines) < n_rows:
        raise ReleasedError(f"{name}:{len(lines)}: the file ends early after line {len(lines)}; expected {n_rows} "
                            f"lines (one per test video)")
    if n_rows is not None and len(lines) > n_rows:
        raise ReleasedError(f"{name}:{n_rows + 1}: {len(lines) - n_rows} line(s) more than the {n_rows} test videos")
    return np.array(rows, dtype=np.float64).astype(np.float32)


# ------------------------------------------------------------------------------------------------- labels
def test_labels(lists_dir):
    """The VIPriors test split from ``lists_dir``: an official ``ucfTrainTestlist/`` folder (the split is
    built as :func:`~vipar_lib.data.splits.vipriors_split` does) or a folder written by ``vipar split``.

    Returns ``(video ids, labels, classes, class_ids)``: challenge names ``video_test_NNNNNNN.avi`` in
    challenge order, 0-based labels in ``classes`` order, and each class's challenge id.
    """
    from .data.splits import SplitError, load_split_dir, vipriors_split
    d = Path(lists_dir)
    try:
        if (d / "testlist01.txt").is_file():
            sp = vipriors_split(d)
        elif (d / "test.txt").is_file() and (d / "classInd.txt").is_file():
            sp = load_split_dir(d, ["test"])
        else:
            raise ReleasedError(f"{d}: not an official ucfTrainTestlist/ folder (testlist01.txt, classInd.txt) "
                                f"nor a 'vipar split' folder (test.txt, classInd.txt)")
    except SplitError as e:
        raise ReleasedError(str(e)) from None
    entries = sp["test"]
    ids = list(sp.class_ids or range(1, sp.num_classes + 1))
    return (np.array([e.video_id for e in entries]), np.array([e.label for e in entries], dtype=np.int64),
            list(sp.classes), ids)


# ------------------------------------------------------------------------------------------------ loading
@dataclass
class Release:
    """The parsed release: logits files, problems, and the test labels they are scored against."""

    root: Path
    lists_dir: Path
    video: np.ndarray
    label: np.ndarray
    classes: list[str]
    class_ids: list[int]
    files: dict[str, LogitsFile] = field(default_factory=dict)   # stem -> logits (columns in `classes` order)
    problems: list[dict] = field(default_factory=list)           # {"file", "line", "problem"}: left out
    skipped: list[dict] = field(default_factory=list)            # {"file", "reason"}: not logits
    parsed: list[str] = field(default_factory=list)              # stems parsed from text this time
    cached: list[str] = field(default_factory=list)              # stems read from the cache
    load_s: float = 0.0

    @property
    def names(self) -> list[str]:
        return list(self.files)

    def logits(self, stem: str) -> np.ndarray:
        return self.files[stem].logits


def _problem(path: Path, msg: str) -> dict:
    # "<name>:<line>: text" -> line; the name is replaced by the full path
    rest = msg.split(": ", 1)
    head = rest[0]
    line = None
    if ":" in head:
        tail = head.rsplit(":", 1)[1]
        if tail.isdigit():
            line = int(tail)
    return {"file": str(path), "line": line, "problem": rest[1] if len(rest) > 1 else msg}


def _cache_load(cache_dir: Path | None, key: str, shape):
    if cache_dir is None:
        return None
    p = cache_dir / f"{key}.npy"
    if not p.is_file():
        return None
    try:
        arr = np.load(p, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return arr if arr.shape == shape and arr.dtype == np.float32 else None


def _cache_save(cache_dir: Path | None, key: str, arr: np.ndarray) -> None:
    if cache_dir is None:
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{key}.{os.getpid()}.tmp.npy"
    try:
        np.save(tmp, arr)
        tmp.replace(cache_dir / f"{key}.npy")
    finally:
        if tmp.exists():
            tmp.unlink()


def _unreadable(p: Path) -> str | None:
    """Why ``p`` is left out before reading (not a regular file, or far too large to be logits); None if it is not."""
    try:
        os.stat(p)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link that loops (it leads back to itself); left out"
        if p.is_symlink():
            return f"a dangling symbolic link (to {os.readlink(p)}, which does not exist); left out"
        return f"unreadable ({e.strerror}); left out"
    if p.is_dir():
        return "a folder, not a file; left out"
    if not p.is_file():
        return "not a regular file; left out"
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        return (f"{size / 2**20:,.0f} MB, more than the {MAX_FILE_BYTES // 2**20} MB allowed (a released logits file "
                "is about 4 MB); not read")
    return None


def load_release(release_dir, lists_dir, cache_dir=None) -> Release:
    """Find, parse (or read from ``cache_dir``) and label every logits file of a release folder.

    A file that cannot be parsed becomes a ``problems`` record (``{"file", "line", "problem"}``) and is
    left out, as does a ``*.txt`` entry that is not a regular file, and a file over
    :data:`MAX_FILE_BYTES`, refused from its size before it is read; a folder without any logits file
    raises :class:`ReleasedError`. The cache holds one
    ``.npy`` per file, keyed by the SHA-1 of the file's bytes (and the parser version and shape), so
    a changed file is parsed again and an unchanged one is not.
    """
    t0 = time.perf_counter()
    video, label, classes, class_ids = test_labels(lists_dir)
    n, c = len(video), len(classes)
    if sorted(class_ids) != list(range(1, c + 1)):
        raise ReleasedError(f"{lists_dir}: class ids {sorted(class_ids)[:5]}... are not 1..{c}; the released "
                            f"columns are challenge class ids 1..{c}")
    cols = np.asarray(class_ids) - 1                  # label i (class classes[i]) <- released column id-1
    paths, skipped = find_logits_files(release_dir)
    cache = Path(cache_dir) if cache_dir is not None else None
    cat = _catalogue()["files"]
    rel = Release(Path(release_dir), Path(lists_dir), video, label, classes, list(class_ids), skipped=skipped)
    for p in paths:
        stem = p.stem
        if stem in rel.files:
            rel.problems.append({"file": str(p), "line": None,
                                 "problem": f"a second file named {p.name}; the first "
                                            f"({rel.files[stem].meta['file']}) is used"})
            continue
        why = _unreadable(p)
        if why is not None:
            rel.problems.append({"file": str(p), "line": None, "problem": why})
            continue
        try:
            raw = p.read_bytes()
        except OSError as e:
            rel.problems.append({"file": str(p), "line": None, "problem": f"unreadable ({e.strerror})"})
            continue
        sha = hashlib.sha1(raw).hexdigest()
        key = f"{sha}-v{PARSER_VERSION}-{n}x{c}"
        arr = _cache_load(cache, key, (n, c))
        if arr is None:
            try:
                arr = parse_logits(raw, p.name, n, c)
            except ReleasedError as e:
                rel.problems.append(_problem(p, str(e)))
                continue
            _cache_save(cache, key, arr)
            rel.parsed.append(stem)
        else:
            rel.cached.append(stem)
        entry = cat.get(stem)
        meta = {"run": stem, "source": f"{RELEASE_REPO} (authors' released test logits)", "file": str(p),
                "sha1": sha, "split": "test", "classes": classes, "class_ids": list(class_ids),
                "catalogued": entry is not None}
        if entry is not None:
            meta.update(model=entry["model"], input_type=entry["input"], interval=entry["interval"],
                        view=entry["view"], clips=entry["clips"], weights=entry["weights"])
        rel.files[stem] = LogitsFile(video, label, np.ascontiguousarray(arr[:, cols]), meta)
    rel.load_s = time.perf_counter() - t0
    return rel


# ---------------------------------------------------------------------------------------------- bootstrap
class Bootstrap(VideoBootstrap):
    """:class:`vipar_lib.metrics.VideoBootstrap` over the released test videos, grouped by their labels.

    The project's one bootstrap (same resamples for every metric and file, so differences are paired by
    construction); this subclass only turns bad arguments into :class:`ReleasedError`.
    """

    def __init__(self, labels, num_classes: int, n: int = 1000, seed: int = 0, alpha: float = 0.05):
        labels = np.asarray(labels)
        if (labels < 0).any():
            raise ReleasedError("bootstrap needs every video labelled")
        if int(n) < 1:
            raise ReleasedError(f"bootstrap resamples must be >= 1, got {n}")
        super().__init__(len(labels), n, seed, alpha, labels)
        self.num_classes = num_classes


def _correct(logits, labels) -> np.ndarray:
    """1 where the label's score beats every other class's (:func:`vipar_lib.metrics.correct`: ties never hit)."""
    return correct(logits, labels)


def _top5(logits, labels) -> float:
    """Top-5 accuracy (:func:`vipar_lib.metrics.topk_accuracy`: ties count wrong)."""
    return topk_accuracy(logits, labels, 5)


def _mean_class(hits, labels, num_classes) -> float:
    """Mean per-class accuracy of per-video 0/1 ``hits`` (:func:`vipar_lib.metrics.class_mean`)."""
    return class_mean(hits, labels, num_classes)


def _score(logits, labels, boot: Bootstrap | None, num_classes: int) -> dict:
    c = _correct(logits, labels)
    out = {"top1": float(c.mean()), "top5": _top5(logits, labels),
           "mean_class": _mean_class(c, labels, num_classes)}
    if boot is not None:
        out["ci_low"], out["ci_high"] = boot.interval(boot.mean_class(c))
        out["top1_ci_low"], out["top1_ci_high"] = boot.interval(boot.top1(c))
    return out


def _weighted_sum(rel: Release, weights: Mapping[str, float]) -> np.ndarray:
    total = None
    for stem, w in weights.items():
        x = rel.files[stem].logits.astype(np.float64) * float(w)
        total = x if total is None else total + x
    return total


def _entry(stem: str) -> dict | None:
    return _catalogue()["files"].get(stem)


# ------------------------------------------------------------------------------------------------ scoring
def score_files(rel: Release, n_boot: int = 1000, seed: int = 0, boot: Bootstrap | None = None) -> dict:
    """Per-file top-1, top-5, mean per-class accuracy and 95% intervals; and the plain sum of all files.

    Returns ``{"files": {stem: {top1, top5, mean_class, ci_low, ci_high, top1_ci_low, top1_ci_high,
    model, input, interval, view, clips, table3, name_only}}, "sum_all": {... , "members": [stems]},
    "ci": {what the intervals are}}``.
    """
    boot = boot or Bootstrap(rel.label, len(rel.classes), n_boot, seed)
    files = {}
    for stem, lf in rel.files.items():
        s = _score(lf.logits, rel.label, boot, len(rel.classes))
        e = _entry(stem)
        s.update({k: (e or {}).get(k2) for k, k2 in (("model", "model"), ("input", "input"), ("interval", "interval"),
                                                      ("view", "view"), ("clips", "clips"), ("table3", "table3"))})
        s["name_only"] = (e or {}).get("name_only", [])
        s["catalogued"] = e is not None
        files[stem] = s
    total = _weighted_sum(rel, {s: 1.0 for s in rel.files})
    sum_all = _score(total, rel.label, boot, len(rel.classes))
    sum_all["members"] = list(rel.files)
    return {"files": files, "sum_all": sum_all, "ci": _ci_doc(boot)}


def _ci_doc(boot: Bootstrap) -> dict:
    return {"level": 1 - boot.alpha, "resamples": boot.n, "method": "percentile bootstrap over test videos",
            "ci_low/ci_high": "mean per-class accuracy (the challenge metric)",
            "top1_ci_low/top1_ci_high": "top-1 accuracy"}


def _paired(rel: Release, a: np.ndarray, b: np.ndarray, boot: Bootstrap, n_boot: int, seed: int) -> dict:
    """Paired differences a - b, top-1 and mean per-class, on the resamples of ``boot`` (the draws
    :func:`vipar_lib.metrics.paired_difference` makes with the same ``n_boot`` and ``seed``, made once)."""
    ca, cb = _correct(a, rel.label), _correct(b, rel.label)
    if boot.n != n_boot:
        raise ValueError(f"bootstrap has {boot.n} resamples, asked for {n_boot}")
    d = ca - cb
    d1 = float(d.mean())
    lo1, hi1 = boot.interval(boot.mean(d))
    c = len(rel.classes)
    dm = boot.mean_class(ca) - boot.mean_class(cb)
    lo, hi = boot.interval(dm)
    return {"diff_top1": d1, "diff_top1_ci_low": lo1, "diff_top1_ci_high": hi1,
            "diff_mean_class": _mean_class(ca, rel.label, c) - _mean_class(cb, rel.label, c),
            "diff_mean_class_ci_low": lo, "diff_mean_class_ci_high": hi}


def _paper_rows(table: str) -> list[dict]:
    try:
        from .paper import paper_rows
    except ImportError:                                                       # pragma: no cover
        from .report.paper import paper_rows  # older layout
    return paper_rows(table)


def table3_real(rel: Release, n_boot: int = 1000, seed: int = 0, boot: Bootstrap | None = None) -> list[dict]:
    """Each released view against the centre view of the same model, input, interval and weights.

    One row per catalogued file: its accuracy, the reference file (``None`` for centre views or when
    no centre file exists), paired differences (top-1 with
    :func:`~vipar_lib.metrics.paired_difference`, mean per-class on the shared resamples), and the
    paper's Table-3 row it stands for (``paper_id``, ``paper_acc`` in percent, ``paper_diff`` = the
    paper's row minus the paper's centre row, in percent) with ``name_only`` flags.
    """
    boot = boot or Bootstrap(rel.label, len(rel.classes), n_boot, seed)
    paper = {r["id"]: r for r in _paper_rows("table3")}
    c = len(rel.classes)
    rows = []
    key = lambda e: (e["model"], e["input"], e["interval"], e["weights"], e["clips"])  # noqa: E731
    centres = {key(e): s for s in rel.files if (e := _entry(s)) and e["view"] == "center"}
    for stem in rel.files:
        e = _entry(stem)
        if e is None:
            continue
        x = rel.files[stem].logits
        cc = _correct(x, rel.label)
        row = {"file": stem, "model": e["model"], "input": e["input"], "interval": e["interval"],
               "view": e["view"], "clips": e["clips"], "weights": e["weights"],
               "top1": float(cc.mean()), "mean_class": _mean_class(cc, rel.label, c),
               "reference": None, "paper_id": e["table3"], "paper_alternatives": e["table3_alternatives"],
               "name_only": e["name_only"], "reading": e["reading"]}
        ref = centres.get(key(e))
        if ref is not None and ref != stem:
            row["reference"] = ref
            row.update(_paired(rel, x, rel.files[ref].logits, boot, n_boot, seed))
        pr = paper.get(e["table3"])
        if pr is not None:
            row["paper_acc"] = pr["acc"]
            pc = next((r for r in paper.values() if r["network"] == pr["network"] and r["input"] == pr["input"]
                       and r["interval"] == pr["interval"] and r["view"] == "center"), None)
            row["paper_diff"] = round(pr["acc"] - pc["acc"], 3) if pc is not None and pc is not pr else None
        rows.append(row)
    # the paper's rows that no released file stands for
    covered = {r["paper_id"] for r in rows}
    for pid, pr in paper.items():
        if pid not in covered:
            alt = [s for s in rel.files if (e := _entry(s)) and pid in e["table3_alternatives"]]
            rows.append({"file": None, "model": pr["network"], "input": pr["input"], "interval": pr["interval"],
                         "view": pr["view"], "paper_id": pid, "paper_acc": pr["acc"], "missing": True,
                         "alternative_files": alt})
    return rows


def rgb_vs_diff(rel: Release, n_boot: int = 1000, seed: int = 0, boot: Bootstrap | None = None) -> list[dict]:
    """RGB against residual ("Diff") input: each matching RGB/Diff pair, then all RGB against all Diff files.

    A pair shares model, interval, view, clips and weights. Per row: ``rgb``/``diff`` (file stems or
    ``"all ..."``), the top-1 and mean per-class accuracy of each and of their sum, the gain of the sum
    over the better single input (paired interval), and the 2x2 table of videos ``both`` right,
    ``only_rgb``, ``only_diff``, ``neither`` (counts; they add up to the number of videos).
    """
    boot = boot or Bootstrap(rel.label, len(rel.classes), n_boot, seed)
    groups: dict[tuple, dict[str, str]] = {}
    for stem in rel.files:
        e = _entry(stem)
        if e is None:
            continue
        k = (e["model"], e["interval"], e["view"], e["clips"], e["weights"])
        groups.setdefault(k, {})[e["input"]] = stem
    pairs = [(g["rgb"], g["diff"], k) for k, g in groups.items() if "rgb" in g and "diff" in g]
    rows = []
    for r, d, k in pairs:
        rows.append(_pair_row(rel, {r: 1.0}, {d: 1.0}, r, d, boot, n_boot, seed,
                              {"model": k[0], "interval": k[1], "view": k[2], "clips": k[3], "weights": k[4]}))
    for w in sorted({k[4] for _, _, k in pairs}):
        rs = [r for r, _, k in pairs if k[4] == w]
        ds = [d for _, d, k in pairs if k[4] == w]
        if len(rs) > 1:
            rows.append(_pair_row(rel, dict.fromkeys(rs, 1.0), dict.fromkeys(ds, 1.0), f"all rgb ({w})",
                                  f"all diff ({w})", boot, n_boot, seed, {"weights": w, "members_rgb": rs,
                                                                          "members_diff": ds}))
    return rows


def _pair_row(rel, wr, wd, rname, dname, boot, n_boot, seed, extra) -> dict:
    c = len(rel.classes)
    xr, xd = _weighted_sum(rel, wr), _weighted_sum(rel, wd)
    xs = xr + xd
    cr, cd, cs = (_correct(x, rel.label) for x in (xr, xd, xs))
    better = xr if _mean_class(cr, rel.label, c) >= _mean_class(cd, rel.label, c) else xd
    gain = _paired(rel, xs, better, boot, n_boot, seed)
    row = {"rgb": rname, "diff": dname, **extra,
           "rgb_top1": float(cr.mean()), "diff_top1": float(cd.mean()), "sum_top1": float(cs.mean()),
           "rgb_mean_class": _mean_class(cr, rel.label, c), "diff_mean_class": _mean_class(cd, rel.label, c),
           "sum_mean_class": _mean_class(cs, rel.label, c),
           "better_single": rname if better is xr else dname,
           **{f"gain_{k[5:]}" if k.startswith("diff_") else k: v for k, v in gain.items()},
           "both": int(((cr == 1) & (cd == 1)).sum()), "only_rgb": int(((cr == 1) & (cd == 0)).sum()),
           "only_diff": int(((cr == 0) & (cd == 1)).sum()), "neither": int(((cr == 0) & (cd == 0)).sum())}
    return row


def table4_real(rel: Release, n_boot: int = 1000, seed: int = 0, boot: Bootstrap | None = None) -> list[dict]:
    """The paper's Table-4 recipes rebuilt from the released files that exist.

    A recipe's members are the Table-3 rows of its networks, intervals and views, RGB and Diff
    (:func:`vipar_lib.paper.recipe_members`), weighted as the recipe says; a row is served by the file
    whose catalogue ``table3`` is that row. Per recipe: ``members`` ({stem: weight}), ``missing``
    (rows without a file, described), ``extra`` (released files matching the recipe's networks,
    intervals and views but standing for no Table-3 row; scored separately as ``with_extra``),
    ``alternative`` (files that stand for a member row only under another reading), the scores with
    intervals and the paper's accuracy (percent).
    """
    boot = boot or Bootstrap(rel.label, len(rel.classes), n_boot, seed)
    try:
        from .paper import recipe_members
    except ImportError:                                                       # pragma: no cover
        from .report.paper import recipe_members
    t3 = {r["id"]: r for r in _paper_rows("table3")}
    by_row = {}
    for stem in rel.files:
        e = _entry(stem)
        if e is not None and e["table3"] is not None:
            by_row[e["table3"]] = stem
    out = []
    for recipe in _paper_rows("table4"):
        members, missing = {}, []
        want = recipe_members(recipe)
        for rid, w in want:
            if rid in by_row:
                members[by_row[rid]] = members.get(by_row[rid], 0.0) + w
            else:
                r = t3[rid]
                missing.append({"table3": rid, "network": r["network"], "input": r["input"],
                                "interval": r["interval"], "view": r["view"], "weight": w})
        rows_wanted = {rid for rid, _ in want}
        extra, alternative = {}, []
        for stem in rel.files:
            e = _entry(stem)
            if e is None or stem in members:
                continue
            if set(e["table3_alternatives"]) & rows_wanted:
                alternative.append(stem)
            if e["table3"] is None and e["model"] in recipe["networks"] and e["interval"] in recipe["intervals"] \
                    and e["view"] in recipe["views"]:
                extra[stem] = float(recipe["views"][e["view"]])
        row = {"id": recipe["id"], "method": recipe["method"], "paper_acc": recipe["acc"],
               "members": members, "missing": missing, "extra": extra, "alternative": alternative,
               "complete": not missing}
        if members:
            row.update(_score(_weighted_sum(rel, members), rel.label, boot, len(rel.classes)))
            if extra:
                row["with_extra"] = _score(_weighted_sum(rel, {**members, **extra}), rel.label, boot, len(rel.classes))
        out.append(row)
    return out


# -------------------------------------------------------------------------------------- ensemble selection
def greedy_select(logits: Sequence[np.ndarray], labels, num_classes: int, max_members: int = 20) -> list[int]:
    """Forward selection with replacement on arrays: the rule of :func:`vipar_lib.ensemble.greedy_search`.

    Each step adds the member whose addition gives the highest mean per-class accuracy (ties: higher
    top-1, then the earlier member); it stops when that no longer improves by more than 1e-12.
    Returns the chosen member indices in order (repeats = weights). Works on plain arrays so the
    repeated random-half selections of :func:`selection_optimism` stay fast.
    """
    labels = np.asarray(labels)
    cnt = np.bincount(labels, minlength=num_classes).astype(np.float64)
    has = cnt > 0
    xs = [np.asarray(x, np.float64) for x in logits]
    total, chosen, best = None, [], -1.0
    for _ in range(max_members):
        cand = None
        for k, x in enumerate(xs):
            t = x if total is None else total + x
            hit = _correct(t, labels)
            mc = float(np.mean(np.bincount(labels, weights=hit, minlength=num_classes)[has] / cnt[has]))
            key = (mc, float(hit.mean()))
            if cand is None or key > cand[0]:
                cand = (key, k)
        (score, _), pick = cand
        if score <= best + 1e-12:
            break
        best = score
        chosen.append(pick)
        total = xs[pick].copy() if total is None else total + xs[pick]
    return chosen


def _stratified_halves(labels, rng) -> np.ndarray:
    """Boolean mask of half A: within each class, a random half of the videos (the odd one at random)."""
    labels = np.asarray(labels)
    a = np.zeros(len(labels), bool)
    for cl in np.unique(labels):
        idx = rng.permutation(np.nonzero(labels == cl)[0])
        k = len(idx) // 2 + (rng.random() < 0.5 if len(idx) % 2 else 0)
        a[idx[:k]] = True
    return a


def selection_optimism(logits: Mapping[str, np.ndarray], labels, num_classes: int | None = None, repeats: int = 10,
                       seed: int = 0, n_boot: int = 1000, max_members: int = 20,
                       boot: Bootstrap | None = None) -> dict:
    """How much choosing an ensemble on the test labels flatters it (the release's ``fusion.py`` procedure).

    ``fusion.py:52-90`` sums subsets of logits files and keeps the subset scoring best against the
    3,783 test labels (``weitest.txt``). Here the choice is greedy forward selection with replacement
    (:func:`greedy_select`, the rule of :func:`vipar_lib.ensemble.greedy_search`):

    * ``test_chosen``: chosen on all test labels and reported on the same labels (what fusion.py does);
    * ``crossfit``: for each of ``repeats`` random class-stratified halves, the members are chosen on
      one half and applied to the other, both ways, so every video gets a prediction from an ensemble
      that never saw its label; scores are those of the per-video correctness averaged over repeats;
    * ``optimism`` = test_chosen - crossfit, with a paired 95% bootstrap interval over videos (the
      selections held fixed; top-1 and mean per-class);
    * ``halves``: the mean score of the half-chosen ensembles on the half they were chosen on
      (``in_sample``) and on the other half (``out_of_sample``);
    * ``sum_all``: the plain sum of every file (no selection).

    ``logits`` maps names to ``[N, C]`` arrays on the same videos (rows) and classes (columns).
    """
    names = sorted(logits)                     # greedy_search's order: ties go to the first name
    if not names:
        raise ReleasedError("no logits to select from")
    labels = np.asarray(labels)
    xs = [np.asarray(logits[n], np.float64) for n in names]
    c = num_classes or xs[0].shape[1]
    boot = boot or Bootstrap(labels, c, n_boot, seed)

    def weights_of(chosen):
        w: dict[str, int] = {}
        for k in chosen:
            w[names[k]] = w.get(names[k], 0) + 1
        return w

    def ens(chosen, rows=slice(None)):
        return sum(xs[k][rows] for k in chosen)

    full = greedy_select(xs, labels, c, max_members)
    ct = _correct(ens(full), labels)
    rng = np.random.default_rng(seed)
    cf = np.zeros(len(labels), np.float64)
    per_repeat, folds = [], []
    in_s, out_s = [], []
    for r in range(repeats):
        a = _stratified_halves(labels, rng)
        pred_ok = np.zeros(len(labels), np.float64)
        for choose, apply in ((a, ~a), (~a, a)):
            ch = greedy_select([x[choose] for x in xs], labels[choose], c, max_members)
            ok_apply = _correct(ens(ch, apply), labels[apply])
            ok_choose = _correct(ens(ch, choose), labels[choose])
            pred_ok[apply] = ok_apply
            in_s.append(_mean_class(ok_choose, labels[choose], c))
            out_s.append(_mean_class(ok_apply, labels[apply], c))
            folds.append({"repeat": r, "members": weights_of(ch), "in_sample_mean_class": in_s[-1],
                          "out_of_sample_mean_class": out_s[-1]})
        cf += pred_ok
        per_repeat.append({"top1": float(pred_ok.mean()), "mean_class": _mean_class(pred_ok, labels, c)})
    cf /= max(repeats, 1)
    d_top1 = boot.top1(ct) - boot.top1(cf)
    d_mc = boot.mean_class(ct) - boot.mean_class(cf)
    test_chosen = {"members": weights_of(full), "order": [names[k] for k in full],
                   "top1": float(ct.mean()), "mean_class": _mean_class(ct, labels, c)}
    crossfit = {"top1": float(cf.mean()), "mean_class": _mean_class(cf, labels, c), "repeats": repeats,
                "per_repeat": per_repeat, "folds": folds}
    opt = {"top1": test_chosen["top1"] - crossfit["top1"],
           "mean_class": test_chosen["mean_class"] - crossfit["mean_class"]}
    opt["top1_ci_low"], opt["top1_ci_high"] = boot.interval(d_top1)
    opt["ci_low"], opt["ci_high"] = boot.interval(d_mc)
    sa = _correct(sum(xs), labels)
    return {"procedure": "greedy forward selection with replacement (mean per-class accuracy, ties by top-1), "
                         f"at most {max_members} steps",
            "release_procedure": _catalogue()["selection"],
            "test_chosen": test_chosen, "crossfit": crossfit, "optimism": opt,
            "halves": {"in_sample_mean_class": float(np.mean(in_s)) if in_s else None,
                       "out_of_sample_mean_class": float(np.mean(out_s)) if out_s else None,
                       "folds": len(in_s)},
            "sum_all": {"top1": float(sa.mean()), "mean_class": _mean_class(sa, labels, c), "members": names},
            "ci": _ci_doc(boot) | {"optimism": "paired over videos, the selections held fixed"}}


# ---------------------------------------------------------------------------------------------- per class
def per_class(logits, labels, classes: Sequence[str], class_ids: Sequence[int] | None = None,
              top_confusions: int = 15) -> dict:
    """Accuracy of each class and the most frequent confusions of one set of logits.

    Returns ``{"classes": [{class, class_id, videos, correct, accuracy}] (label order),
    "worst": the 10 least accurate (ascending), "confusions": [{true, predicted, count, share}]
    (most frequent first; ``share`` = count / videos of the true class)}``.
    """
    labels = np.asarray(labels)
    c = len(classes)
    ids = list(class_ids or range(1, c + 1))
    pred = np.argmax(np.asarray(logits), axis=1)
    n = np.bincount(labels, minlength=c)
    k = np.bincount(labels, weights=_correct(logits, labels), minlength=c)
    rows = [{"class": classes[i], "class_id": int(ids[i]), "videos": int(n[i]), "correct": int(k[i]),
             "accuracy": float(k[i] / n[i]) if n[i] else None} for i in range(c)]
    cm = np.bincount(labels * c + pred, minlength=c * c).reshape(c, c)
    np.fill_diagonal(cm, 0)
    flat = np.argsort(-cm, axis=None, kind="stable")[:top_confusions]
    conf = [{"true": classes[i // c], "predicted": classes[i % c], "count": int(cm.flat[i]),
             "share": float(cm.flat[i] / n[i // c])} for i in flat if cm.flat[i] > 0]
    worst = sorted((r for r in rows if r["accuracy"] is not None), key=lambda r: (r["accuracy"], r["class"]))[:10]
    return {"classes": rows, "worst": worst, "confusions": conf}


# ------------------------------------------------------------------------------------------------- report
def report(release_dir, lists_dir, cache_dir=None, n_boot: int = 1000, seed: int = 0, repeats: int = 10,
           max_members: int = 20) -> dict:
    """Everything the report shows, as one JSON-ready dict (see the keys below; fractions in [0, 1]).

    ``source`` (what was scored), ``problems`` / ``skipped`` (files left out, not logits),
    ``catalogue`` (:func:`catalogue` entries of the files found), ``files`` and ``sum_all``
    (:func:`score_files`), ``ci``, ``table3`` (:func:`table3_real`), ``rgb_vs_diff``, ``table4``
    (:func:`table4_real`), ``selection`` (:func:`selection_optimism`), ``per_class`` (of the best
    rebuilt Table-4 recipe or the plain sum, whichever has the higher mean per-class accuracy;
    ``per_class["ensemble"]`` names it), ``cache`` and ``timing`` (seconds).
    """
    t0 = time.perf_counter()
    rel = load_release(release_dir, lists_dir, cache_dir)
    t_load = time.perf_counter() - t0
    if not rel.files:
        raise ReleasedError(f"{release_dir}: no logits file could be parsed: "
                            + "; ".join(f"{p['file']}:{p['line']}: {p['problem']}" for p in rel.problems[:3]))
    boot = Bootstrap(rel.label, len(rel.classes), n_boot, seed)
    scores = score_files(rel, boot=boot)
    t3 = table3_real(rel, n_boot, seed, boot)
    rd = rgb_vs_diff(rel, n_boot, seed, boot)
    t4 = table4_real(rel, n_boot, seed, boot)
    sel = selection_optimism({s: lf.logits for s, lf in rel.files.items()}, rel.label, len(rel.classes),
                             repeats=repeats, seed=seed, boot=boot, max_members=max_members)
    cands = [(r["mean_class"], r["id"], r["members"]) for r in t4 if r.get("members")]
    cands.append((scores["sum_all"]["mean_class"], "sum_all", {s: 1.0 for s in rel.files}))
    best = max(cands, key=lambda t: t[0])
    pc = per_class(_weighted_sum(rel, best[2]), rel.label, rel.classes, rel.class_ids)
    pc["ensemble"] = best[1]
    pc["members"] = best[2]
    pc["note"] = ("the rebuilt Table-4 recipe or plain sum with the highest mean per-class accuracy on the test "
                  "labels (chosen on test)")
    cat = catalogue()["files"]
    return {
        "source": {"release_dir": str(rel.root), "repo": RELEASE_REPO, "commit": RELEASE_COMMIT,
                   "lists_dir": str(rel.lists_dir), "videos": len(rel.video), "classes": len(rel.classes),
                   "note": "the authors' released pre-softmax logits on the real UCF101 test set (VIPriors 2020 "
                           "split, 3,783 videos), labels from the official testlist01.txt"},
        "problems": rel.problems, "skipped": rel.skipped,
        "catalogue": {s: cat[s] for s in rel.files if s in cat},
        "uncatalogued": [s for s in rel.files if s not in cat],
        "absent": sorted(set(cat) - set(rel.files)),
        "files": scores["files"], "sum_all": scores["sum_all"], "ci": scores["ci"],
        "table3": t3, "rgb_vs_diff": rd, "table4": t4, "selection": sel, "per_class": pc,
        "cache": {"dir": str(cache_dir) if cache_dir is not None else None, "parsed": rel.parsed, "cached": rel.cached},
        "timing": {"load_s": round(t_load, 3), "total_s": round(time.perf_counter() - t0, 3)},
    }


# -------------------------------------------------------------------------------- power: test-set limits
def _side(rel: Release, spec: str, recipes: dict) -> np.ndarray | None:
    """The logits a comparable's side names: a file stem, ``recipe:<id>``, ``recipe:best`` or ``file:best``."""
    if spec == "file:best":
        return rel.files[max(rel.files, key=lambda s: rel.files[s].top1)].logits
    if spec.startswith("recipe:"):
        rid = spec.split(":", 1)[1]
        if rid == "best":
            rid = max(recipes, key=lambda r: top1(recipes[r], rel.label)) if recipes else None
        return recipes.get(rid)
    return rel.files[spec].logits if spec in rel.files else None


def comparison_halfwidths(rel: Release, alpha: float = 0.05) -> dict:
    """Per finding, the released pairs that stand for it (``released_files.yaml: comparables``), how often each
    pair disagrees in correctness, and the 1-alpha half-width (points) of one paired top-1 difference of such
    a pair on this test set (:func:`vipar_lib.metrics.discordance_halfwidth`); the finding's half-width is the
    median over its pairs. Pairs whose files are missing are listed with ``missing``.
    """
    recipes = {r["id"]: _weighted_sum(rel, r["members"]) for r in table4_real(rel, n_boot=10) if r["members"]}
    out = {}
    for fid, spec in _catalogue()["comparables"].items():
        pairs = []
        for a, b in spec["pairs"]:
            la, lb = _side(rel, a, recipes), _side(rel, b, recipes)
            if la is None or lb is None:
                pairs.append({"a": a, "b": b, "missing": True})
                continue
            disc, hw = discordance_halfwidth(predictions(la) == rel.label, predictions(lb) == rel.label, alpha)
            pairs.append({"a": a, "b": b, "discordance": 100 * disc, "halfwidth": 100 * hw})
        widths = [p["halfwidth"] for p in pairs if "halfwidth" in p]
        out[fid] = {"kind": spec["kind"], "pairs": pairs, "videos": int(len(rel.label)),
                    "halfwidth": float(np.median(widths)) if widths else float("nan")}
    return out
