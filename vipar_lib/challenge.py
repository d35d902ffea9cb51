"""The VIPriors 2020 challenge's file formats and metric (numpy only).

* :func:`write_submission` writes ``video.avi c1 c2 c3 c4 c5`` (challenge class ids, best first).
* Ground truth is ``video.avi <class id>`` per line (:func:`read_ground_truth`,
  :func:`write_ground_truth`, :func:`write_split_ground_truth`). :func:`read_ground_truth` also
  reads a split list written by ``vipar split`` (``train.txt``/``validation.txt``/``test.txt``:
  ``<Class>/<file>.avi <class id>``): the n-th line is the video the challenge names
  ``video_<split>_<n:07d>.avi`` (the split is the file's stem), so ``score_submission(sub,
  "splits/test.txt")`` scores a challenge submission without writing a ground-truth file first.
* :func:`score_submission` computes top-1/3/5 **mean per-class** accuracy (the challenge metric)
  and never stops on a bad submission line. Its rules:

  - a *well-formed* line is ``<video> c1 c2 c3 c4 c5``: integer class ids, five of them (or as many
    as the ground truth has classes, when that is fewer: a 4-class problem ranks 4). Blank lines are
    ignored; a UTF-8 BOM and CRLF line ends are accepted. Fewer or more fields, a non-integer field or
    a line without a video name make the line *malformed* (e.g. two lines interleaved by concurrent
    writes, or a line cut short);
  - a malformed line counts its video **wrong** (all ranks) and is listed with its line number;
  - an integer id outside ``1..num_classes`` is a wrong prediction at its rank (``out_of_range``),
    not a malformed line;
  - a video on several lines (``duplicates``): the **first well-formed line counts**; if none of
    its lines is well-formed the video counts wrong;
  - a ground-truth video without any line is ``missing`` (counts wrong); a submitted name that is
    not in the ground truth is ``unknown``; when most submitted names are unknown (the files name
    videos differently, e.g. ``v_Class_g01_c01.avi`` against ``video_test_0000001.avi``) scoring
    fails with a :class:`ChallengeError` instead of reporting a 0% score.

Ground truth is read strictly: a malformed line, a class id below 1, a video listed twice or an
empty file is refused with a one-line :class:`ChallengeError` naming the file (and line).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .logits import LogitsFile
from .metrics import topk_mean_class_accuracy

__all__ = ["ChallengeError", "write_submission", "read_ground_truth", "write_ground_truth",
           "write_split_ground_truth", "score_submission", "TOP_K"]

TOP_K = 5            # predictions per video in a submission
_SPLIT_NAMES = ("train", "validation", "test")
_SHOW = 20           # how many examples a result lists (counts are always complete)


class ChallengeError(ValueError):
    """A ground-truth or submission file that cannot be scored; the message names the file."""


def _lines(path) -> tuple[list[str], bool]:
    """Text lines of ``path`` (UTF-8, BOM stripped, undecodable bytes replaced); and whether a BOM was there."""
    path = Path(path)
    if not path.is_file():
        raise ChallengeError(f"{path}: file not found")
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), bom


def write_submission(lf: LogitsFile, out, class_ids: Sequence[int] | None = None, k: int = TOP_K) -> Path:
    """``video.avi c1 ... ck`` per video with challenge class ids (1-based), best first."""
    ids = list(class_ids or lf.meta.get("class_ids") or range(1, lf.logits.shape[1] + 1))
    scores = np.nan_to_num(lf.logits.astype(np.float64), nan=-np.inf)
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{v} {' '.join(str(ids[c]) for c in row)}\n" for v, row in zip(lf.video, ranked)))
    return out


def read_ground_truth(path) -> dict[str, int]:
    """``{video: class id}`` from a challenge ground truth or a ``vipar split`` list (see the module doc)."""
    path = Path(path)
    lines, _ = _lines(path)
    gt: dict[str, int] = {}
    first_line: dict[str, int] = {}
    split_list = None          # decided by the first entry: '<Class>/<file>.avi' -> split list
    n_entry = 0
    for n, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ChallengeError(f"{path}:{n}: expected '<video.avi> <class id>', got {line.strip()!r}")
        name, cid = parts
        if not cid.lstrip("-").isdigit():
            raise ChallengeError(f"{path}:{n}: class id {cid!r} is not an integer (ids are 1-based)")
        if int(cid) < 1:
            raise ChallengeError(f"{path}:{n}: class id {cid} not allowed; class ids are 1-based (1..C)")
        is_list = "/" in name
        if split_list is None:
            split_list = is_list
            if is_list and path.stem not in _SPLIT_NAMES:
                raise ChallengeError(f"{path}: a split list ('<Class>/<file>.avi <id>') must be named "
                                     f"{'/'.join(s + '.txt' for s in _SPLIT_NAMES)} (its stem names the split)")
        elif is_list != split_list:
            raise ChallengeError(f"{path}:{n}: mixes '<Class>/<file>.avi' split-list lines with challenge "
                                 f"'video.avi' lines")
        n_entry += 1
        video = f"video_{path.stem}_{n_entry:07d}.avi" if split_list else name
        if video in gt:
            raise ChallengeError(f"{path}:{n}: video {name!r} listed twice (first on line {first_line[video]})")
        gt[video] = int(cid)
        first_line[video] = n
    if not gt:
        raise ChallengeError(f"{path}: empty ground truth (no '<video.avi> <class id>' lines)")
    return gt


def write_ground_truth(lf: LogitsFile, out, class_ids: Sequence[int] | None = None) -> Path:
    """The challenge's ground-truth format for the labelled videos of a logits file."""
    ids = list(class_ids or lf.meta.get("class_ids") or range(1, lf.logits.shape[1] + 1))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{v} {ids[y]}\n" for v, y in zip(lf.video, lf.label) if y >= 0))
    return out


def write_split_ground_truth(split, split_name: str, out) -> Path:
    """Ground truth (``video_<split>_NNNNNNN.avi <class id>``) of one split of the VIPriors split.

    ``split`` is a :class:`~vipar_lib.data.splits.Split`, a folder written by ``vipar split``
    (``classInd.txt`` + ``<split>.txt``) or an official ``ucfTrainTestlist/`` folder (the VIPriors
    split is built from it). Videos without a label (the challenge layout's test split) are refused.
    """
    from .data.splits import Split, load_split_dir, vipriors_split
    if not isinstance(split, Split):
        d = Path(split)
        if (d / "testlist01.txt").is_file():
            split = vipriors_split(d)
        elif (d / f"{split_name}.txt").is_file():
            split = load_split_dir(d, [split_name])
        else:
            raise ChallengeError(f"{d}: neither a 'vipar split' folder ({split_name}.txt + classInd.txt) "
                                 f"nor an official ucfTrainTestlist/ folder (testlist01.txt)")
    entries = split[split_name]
    unlabelled = [e.video_id for e in entries if e.label < 0]
    if unlabelled:
        raise ChallengeError(f"split {split_name!r} has {len(unlabelled)} videos without a label "
                             f"(e.g. {unlabelled[0]}); no ground truth can be written")
    ids = split.class_ids or list(range(1, split.num_classes + 1))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{e.video_id or e.path} {ids[e.label]}\n" for e in entries))
    return out


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _parse_submission(lines: list[str], n_cls: int, k_min: int):
    """-> (first well-formed ranks per video, malformed [(line, text, problem, video|None)],
    occurrences {video: [line numbers]}, out-of-range count)."""
    good: dict[str, list[int]] = {}
    malformed: list[tuple[int, str, str, str | None]] = []
    seen: dict[str, list[int]] = {}
    out_of_range = 0
    for n, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        name, preds = parts[0], parts[1:]
        if _is_number(name):                           # e.g. the tail of an interleaved line
            malformed.append((n, line.strip()[:120], "no video name", None))
            continue
        seen.setdefault(name, []).append(n)
        problem = None
        if not preds:
            problem = "no predictions"
        elif not k_min <= len(preds) <= TOP_K:
            problem = f"{len(preds)} predictions, expected {k_min if k_min == TOP_K else f'{k_min} to {TOP_K}'}"
        else:
            bad = [t for t in preds if not t.lstrip("-").isdigit()]
            if bad:
                problem = f"non-integer class id {bad[0]!r}"
        if problem:
            malformed.append((n, line.strip()[:120], problem, name))
            continue
        if name in good:
            continue                                   # duplicate: the first well-formed line counts
        ranks = []
        for t in preds:
            c = int(t)
            if not 1 <= c <= n_cls:
                out_of_range += 1
                c = -1
            ranks.append(c)
        good[name] = ranks
    return good, malformed, seen, out_of_range


def score_submission(sub_path, gt_path, num_classes: int | None = None) -> dict:
    """Top-1/3/5 mean per-class accuracy of a submission file against a ground truth.

    ``gt_path`` is a challenge ground truth or a ``vipar split`` list (see the module doc). Returns
    ``top1``/``top3``/``top5`` (mean per-class, fractions in [0, 1]), ``top1_overall``, ``videos``,
    ``scored`` (videos with a well-formed line), ``missing`` (count) and ``missing_videos`` (the
    first few), ``malformed_lines`` (count) and ``malformed`` (``[{line, text, problem}]``, the first
    few), ``garbled_videos`` (count) and ``garbled`` (videos counted wrong because all their lines are
    malformed),
    ``duplicates`` (``{video: [line numbers]}``, the first few), ``duplicate_videos`` and
    ``duplicate_rule``, ``unknown`` (count) and ``unknown_videos``, ``out_of_range`` (ids outside
    1..C), ``bom``, ``num_classes``.
    """
    gt = read_ground_truth(gt_path)
    n_cls = num_classes or max(gt.values())
    lines, bom = _lines(sub_path)
    k_min = min(TOP_K, len(set(gt.values())))
    good, malformed, seen, out_of_range = _parse_submission(lines, n_cls, k_min)
    unknown = [v for v in seen if v not in gt]
    if seen and len(unknown) > len(seen) / 2:
        raise ChallengeError(f"{sub_path}: {len(unknown)} of {len(seen)} submitted video names are not in the "
                             f"ground truth {gt_path} (e.g. {unknown[0]!r}; the ground truth names videos like "
                             f"{next(iter(gt))!r}): the files use different naming schemes")
    videos = list(gt)
    ranked = np.full((len(videos), TOP_K), -1)
    for i, v in enumerate(videos):
        r = good.get(v)
        if r:
            ranked[i, :len(r)] = r
    labels = np.array([gt[v] for v in videos])
    res = {f"top{k}": topk_mean_class_accuracy(ranked, labels, k) for k in (1, 3, 5)}
    missing = [v for v in videos if v not in seen]
    garbled = sorted({m[3] for m in malformed if m[3] in gt and m[3] not in good})
    dups = {v: ns for v, ns in seen.items() if len(ns) > 1}
    res.update(
        top1_overall=float(np.mean(ranked[:, 0] == labels)),
        videos=len(videos), scored=int(sum(v in good for v in videos)),
        missing=len(missing), missing_videos=missing[:_SHOW],
        malformed_lines=len(malformed),
        malformed=[{"line": n, "text": t, "problem": p} for n, t, p, _ in malformed[:_SHOW]],
        garbled_videos=len(garbled), garbled=garbled[:_SHOW],
        duplicates={v: ns for v, ns in list(dups.items())[:_SHOW]}, duplicate_videos=len(dups),
        duplicate_rule="the first well-formed line of a video counts; later lines are ignored",
        unknown=len(unknown), unknown_videos=unknown[:_SHOW],
        out_of_range=out_of_range, bom=bom, num_classes=n_cls,
    )
    return res
