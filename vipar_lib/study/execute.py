"""The executor: makes the run store hold what a plan asks for. Idempotent and resumable.

::

    plan ──► prepare_data: synthetic videos (vipar synth) + the VIPriors split   (skipped when present)
         ──► train every needed run, bases first                                 (finished runs skipped,
                                                                                   a killed run resumes;
                                                                                   N workers: workers.py)
         ──► cost.json per run: parameters and GFLOPs per clip length             (written once)
         ──► evaluate: one logits file per (run, view, interval, split)           (existing files kept)

Reports never call this: a notebook runs :func:`execute` for its tables, then reads the files.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..data import splits as S
from ..data.identity import SPLIT_LISTS, folder_lock
from ..engine.runs import write_text_atomic
from ..paper import TABLES
from ..paths import portable, resolve
from .config import StudyConfig
from .plan import (
    COST_FILE,
    EvalRequest,
    Plan,
    PlannedRun,
    dataset_id,
    lists_dir,
    release_list,
    source_lists,
    split_dir,
    video_root,
)

__all__ = ["Prepared", "prepare_data", "split_identity", "execute", "write_cost", "release_list", "HOOKS"]

log = logging.getLogger("vipar.study")


@dataclass
class Prepared:
    split: S.Split
    split_dir: Path
    video_root: Path


def prepare_data(study: StudyConfig, progress: bool = True) -> Prepared:
    """Generate the synthetic dataset when needed and write the VIPriors split. Idempotent; safe when several
    processes call it at once (the data folder and the split folder are locked while written)."""
    ds = study.dataset
    root = resolve(ds.root)
    if ds.kind == "synthetic":
        from ..data.synth import prepare
        prepare(root, progress, classes=ds.classes, groups=ds.groups, clips=ds.clips, seed=ds.seed,
                size=tuple(ds.size))
    if ds.kind == "challenge":
        split = S.read_challenge_layout(root)
    else:
        split = S.vipriors_split(lists_dir(study), group_disjoint=ds.group_disjoint)
    split = _train_list(study, split)
    out = split_dir(study)
    with folder_lock(out):
        marker = out / "dataset.json"
        want = split_identity(study)
        if not all((out / n).is_file() for n in SPLIT_LISTS) or _read_json(marker) != want:
            S.write_split(split, out)
            write_text_atomic(marker, json.dumps(want, indent=1))
    return Prepared(split, out, video_root(study))


def split_identity(study: StudyConfig) -> dict:
    """What the written split was made from (``<runs_dir>/split/dataset.json``): the dataset's identity, kind,
    root and lists, the split options, and the sha1 of every source list; another value rewrites the split."""
    ds = study.dataset
    sha = {}
    for f in source_lists(study):
        try:
            sha[f.name] = hashlib.sha1(f.read_bytes()).hexdigest()
        except OSError:
            sha[f.name] = "missing"
    return {"dataset_id": dataset_id(study, progress=False), "kind": ds.kind, "root": portable(resolve(ds.root)),
            "lists": portable(lists_dir(study)), "group_disjoint": ds.group_disjoint, "train_list": ds.train_list,
            "sources": sha}


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _train_list(study: StudyConfig, split: S.Split) -> S.Split:
    """The split the study trains on: the challenge's, train + validation, or the release's train22.txt."""
    kind = study.dataset.train_list
    if kind == "challenge":
        return split
    if kind == "train+validation":
        return S.Split(split.classes, {"train": split["train"] + split["validation"], "validation": [],
                                       "test": split["test"]}, split.class_ids)
    path = release_list(resolve(study.release.dir))
    by_name = {e.video_id: e for e in split["train"] + split["validation"]}
    label_of = {cid: i for i, cid in enumerate(split.class_ids)}
    train = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[0] not in by_name or not parts[1].isdigit():
            raise S.SplitError(f"{path}:{n}: expected '<challenge video name> <class id>' of the VIPriors train or "
                               f"validation split, got {line!r}")
        e = by_name[parts[0]]
        if label_of.get(int(parts[1])) != e.label:
            raise S.SplitError(f"{path}:{n}: class id {parts[1]} for {parts[0]}, the split says "
                               f"{split.class_ids[e.label]}")
        train.append(e)
    return S.Split(split.classes, {"train": train, "validation": [], "test": split["test"]}, split.class_ids)


def write_cost(run: PlannedRun, num_classes: int, frames: Iterable[int]) -> dict:
    """``cost.json``: parameters and forward GFLOPs per clip (2 per multiply-add) at each clip length."""
    path = run.dir / COST_FILE
    cost = json.loads(path.read_text()) if path.is_file() else {}
    missing = sorted({int(f) for f in frames} - {int(k) for k in cost.get("gflops", {})})
    if not missing and "params" in cost:
        return cost
    from ..models.info import model_info
    cfg = run.config
    gflops = dict(cost.get("gflops", {}))
    params = cost.get("params")
    for t in missing:
        info = model_info(cfg.model.name, num_classes, t, cfg.data.crop_size, **cfg.model.options)
        params, gflops[str(t)] = info["params"], info["gflops"]
    cost = {"params": params, "gflops": gflops, "crop_size": cfg.data.crop_size, "model": cfg.model.name}
    write_text_atomic(path, json.dumps(cost, indent=1))
    return cost


def _view_frames(req: EvalRequest, run: PlannedRun) -> int:
    t = run.config.data.clip_len
    return 2 * t if req.view == "concat_reverse" and run.config.eval.concat_mode == "double" else t


def execute(plan: Plan, tables: Iterable[str] = TABLES, progress: bool = True,
            say: Callable[[str], None] | None = None, workers: int | None = None) -> dict:
    """Train and evaluate what ``tables`` need; return ``{"trained": [...], "evaluated": [...], "reused": n}``.

    ``workers`` (default: the study's ``executor.workers``; 0 = one per visible GPU, 1 without
    CUDA) processes fill the store side by side (:mod:`.workers`); with one, this process does
    the work. Either way a run or evaluation another process holds is left to it, and a run whose
    holder died is resumed from ``last.pt``.
    """
    from .workers import resolve_workers, run_workers, work
    say = say or log.info
    tables = list(tables)
    bad = sorted(set(tables) - set(TABLES))
    if bad:
        raise ValueError(f"unknown table(s) {bad}; allowed: {list(TABLES)}")
    n = resolve_workers(plan.study.executor.workers if workers is None else workers)
    if n > 1:
        return run_workers(plan, tables, n, say=say, progress=progress, prepare=_prepare)
    return work(plan, tables, progress=progress, say=say, **HOOKS)


def _prepare(study: StudyConfig, progress: bool) -> int:
    """The workers' ``prepare``: data and split in place; the number of classes."""
    return prepare_data(study, progress).split.num_classes


def _write_cost(run: PlannedRun, num_classes: int, reqs: Iterable[EvalRequest]) -> dict:
    """The workers' ``write_cost``: cost.json at the clip lengths of the run's training and requested views."""
    return write_cost(run, num_classes, {_view_frames(q, run) for q in reqs if q.run == run.name}
                      | {run.config.data.clip_len})


#: what the workers' loop (:func:`~vipar_lib.study.workers.work`) takes from the executor
HOOKS = {"prepare": _prepare, "write_cost": _write_cost}
