"""What the reports read: logits files, run costs and training histories, located through a :class:`Plan`.

Reports never train or evaluate. A file the plan names but the run store lacks raises
:class:`MissingResult`, which says what to run (the notebook's ``execute`` cell, or
``vipar reproduce``). Table-4 ensembles are sums of Table-3 logits, computed here from the files,
seed by seed: seed *i* of an ensemble sums seed *i* of its members.

Every row has one logits file per seed (:func:`row_seed_logits`); :func:`paired_seed_logits` pairs two
rows' files by seed, for the statistics over seeds and videos of :mod:`vipar_lib.metrics`.
"""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from ..engine.runs import read_metrics
from ..ensemble import combine
from ..logits import LogitsFile, load_logits
from ..study.plan import EvalRequest, Plan, PlannedRow, read_cost

__all__ = ["MissingResult", "row_logits", "row_seed_logits", "paired_seed_logits", "table_logits", "ensemble_logits",
           "row_cost", "histories", "chance", "classes", "resolve_ref", "warm_starts"]


class MissingResult(FileNotFoundError):
    """A logits file the plan names is not in the run store yet."""


@lru_cache(maxsize=512)
def _load(path: str, mtime: float) -> LogitsFile:
    return load_logits(path)


def request_logits(plan: Plan, req: EvalRequest) -> LogitsFile:
    path = plan.logits_path(req)
    if not path.is_file():
        raise MissingResult(f"{path}: not in the run store yet (run {req.run}, {req.view}, interval {req.interval}, "
                            f"{req.split}); execute the plan first (the notebook's execute cell, or vipar reproduce)")
    return _load(str(path), path.stat().st_mtime)


def _on_split(req: EvalRequest, split: str) -> EvalRequest:
    return req if split == req.split else EvalRequest(req.run, req.view, req.interval, split, req.clips)


def row_seed_logits(plan: Plan, row: PlannedRow, split: str = "test") -> list[LogitsFile]:
    """The logits of every seed of a row (on ``split``), in ``row.seeds`` order; Table 4: ensembles, seed by seed."""
    if row.table == "table4":
        return [ensemble_logits(plan, row, split, i) for i in range(len(row.seeds))]
    return [request_logits(plan, _on_split(q, split)) for q in row.evals]


def row_logits(plan: Plan, row: PlannedRow, split: str = "test", seed_index: int = 0) -> LogitsFile:
    """The logits of one seed of a row (the first by default), or of a Table-4 ensemble of that seed."""
    if row.table == "table4":
        return ensemble_logits(plan, row, split, seed_index)
    return request_logits(plan, _on_split(row.evals[seed_index], split))


def table_logits(plan: Plan, table: str, split: str = "test", seed_index: int = 0) -> dict:
    return {r.id: row_logits(plan, r, split, seed_index) for r in plan.rows[table]}


def ensemble_logits(plan: Plan, row: PlannedRow, split: str = "test", seed_index: int = 0) -> LogitsFile:
    """A Table-4 recipe of one seed: the weighted sum of its Table-3 members' pre-softmax logits of that seed."""
    members = [(plan.row("table3", rid), w) for rid, w in row.members]
    return combine([row_logits(plan, m, split, seed_index) for m, _ in members], [w for _, w in members],
                   [str(m.id) for m, _ in members])


def _paired_seeds(a: PlannedRow, b: PlannedRow) -> list[tuple[int, int]]:
    """Seed indices of ``a`` and of ``b`` with the same ``train.seed``, in ``a``'s order."""
    pairs = [(i, b.seeds.index(sd)) for i, sd in enumerate(a.seeds) if sd in b.seeds]
    if not pairs:
        raise ValueError(f"{a.table} {a.id} (seeds {list(a.seeds)}) and {b.table} {b.id} (seeds {list(b.seeds)}) "
                         "share no seed to pair")
    return pairs


def paired_seed_logits(plan: Plan, a: PlannedRow, b: PlannedRow, split: str = "test"):
    """The logits of rows ``a`` and ``b`` for the seeds both trained, paired by seed: ``(files_a, files_b, seeds)``."""
    pairs = _paired_seeds(a, b)
    la, lb = row_seed_logits(plan, a, split), row_seed_logits(plan, b, split)
    return [la[i] for i, _ in pairs], [lb[j] for _, j in pairs], tuple(a.seeds[i] for i, _ in pairs)


def resolve_ref(plan: Plan, table: str, rid, split: str = "test") -> PlannedRow:
    """A row by id, or ``"best"``: the table's row with the highest top-1 on ``split``, averaged over its seeds."""
    if rid != "best":
        return plan.row(table, rid)
    return max(plan.rows[table], key=lambda r: float(np.mean([x.top1 for x in row_seed_logits(plan, r, split)])))


def classes(plan: Plan) -> list[str]:
    """Class names, from the first logits file of the plan that exists."""
    for t in ("table1", "table2", "table3"):
        for r in plan.rows[t]:
            p = plan.logits_path(r.eval)
            if p.is_file():
                return list(_load(str(p), p.stat().st_mtime).meta.get("classes") or [])
    raise MissingResult("no logits file of this plan exists yet; execute the plan first")


def chance(plan: Plan) -> float:
    """Top-1 of guessing, in percent: 100 / number of classes."""
    return 100.0 / len(classes(plan))


def row_cost(plan: Plan, row: PlannedRow) -> tuple[int | None, float | None]:
    """(parameters, forward GFLOPs per clip) of a row; a Table-4 row sums its distinct member models' costs."""
    if row.table == "table4":
        runs = {}
        gflops = 0.0
        for rid, _ in row.members:
            m = plan.row("table3", rid)
            p, g = row_cost(plan, m)
            if p is None or g is None:
                return None, None
            runs[m.run] = p
            gflops += g
        return sum(runs.values()), gflops
    run = plan.runs[row.run]
    cost = read_cost(run.dir)
    t = run.config.data.clip_len
    if row.eval.view == "concat_reverse" and run.config.eval.concat_mode == "double":
        t *= 2
    g = cost.get("gflops", {}).get(str(t))
    return cost.get("params"), g


def histories(plan: Plan, table: str) -> dict[str, list[dict]]:
    """Per-epoch metrics of each row's first-seed run (and the base it fine-tuned from, once)."""
    out = {}
    for r in plan.rows[table]:
        if not r.run:
            continue
        run = plan.runs[r.run]
        for n in run.needs:
            out.setdefault(n, read_metrics(plan.runs[n].dir))
        out.setdefault(str(r.id), read_metrics(run.dir))
    return {k: v for k, v in out.items() if v}


def warm_starts(plan: Plan, table: str) -> list[dict]:
    """What each row's run took from the run it fine-tuned (its ``warm_start.json``), in row order.

    One dict per warm-started run: ``row``, ``run``, ``base`` (the run it started from), ``loaded`` (tensors
    taken from it), ``fresh`` (tensors that start from their initialisation: modules the base lacks),
    ``unused`` (base tensors the row has no place for) and ``mismatch`` (same name, other shape).
    """
    out, seen = [], set()
    for r in plan.rows[table]:
        if not r.run or r.run in seen:
            continue
        seen.add(r.run)
        run = plan.runs[r.run]
        p = run.dir / "warm_start.json"
        if not run.needs or not p.is_file():
            continue
        w = json.loads(p.read_text())
        out.append({"row": str(r.id), "run": r.run, "base": run.needs[0], "loaded": w["loaded"],
                    "fresh": len(w["missing"]), "unused": len(w["unexpected"]), "mismatch": len(w["shape_mismatch"])})
    return out
