"""What the reports read: logits files, run costs and training histories, located through a :class:`Plan`.

Reports never train or evaluate. A file the plan names but the run store lacks raises
:class:`MissingResult`, which says what to run (the notebook's ``execute`` cell, or
``vipar reproduce``). Table-4 ensembles are sums of Table-3 logits, computed here from the files.
"""
from __future__ import annotations

import json
from functools import lru_cache

from ..engine.runs import read_metrics
from ..ensemble import combine
from ..logits import LogitsFile, load_logits
from ..study.plan import EvalRequest, Plan, PlannedRow, read_cost

__all__ = ["MissingResult", "row_logits", "table_logits", "ensemble_logits", "row_cost", "histories", "chance",
           "classes", "resolve_ref", "warm_starts"]


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


def row_logits(plan: Plan, row: PlannedRow, split: str = "test") -> LogitsFile:
    """The logits of a Table-1..3 row (on ``split``), or the ensemble of a Table-4 row."""
    if row.table == "table4":
        return ensemble_logits(plan, row, split)
    req = row.eval if split == row.eval.split else EvalRequest(row.eval.run, row.eval.view, row.eval.interval, split,
                                                               row.eval.clips)
    return request_logits(plan, req)


def table_logits(plan: Plan, table: str, split: str = "test") -> dict:
    return {r.id: row_logits(plan, r, split) for r in plan.rows[table]}


def ensemble_logits(plan: Plan, row: PlannedRow, split: str = "test") -> LogitsFile:
    """A Table-4 recipe: the weighted sum of its Table-3 members' pre-softmax logits."""
    members = [(plan.row("table3", rid), w) for rid, w in row.members]
    return combine([row_logits(plan, m, split) for m, _ in members], [w for _, w in members],
                   [str(m.id) for m, _ in members])


def resolve_ref(plan: Plan, table: str, rid, split: str = "test") -> PlannedRow:
    """A row by id, or ``"best"``: the table's row with the highest top-1 on ``split``."""
    if rid != "best":
        return plan.row(table, rid)
    return max(plan.rows[table], key=lambda r: row_logits(plan, r, split).top1)


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
    """Per-epoch metrics of each row's run (and the base it fine-tuned from, once)."""
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
