"""``vipar status``: one view of a study in flight, read from the run store alone (nothing is changed).

Every run the tables need is in one of five states::

    done      finished (final.json agrees with last.pt)
    held      a live worker holds its lease: who (host, PID, worker), since when, last heartbeat, epoch
    queued    ready (its bases are finished) and free; "resumes from epoch k" when a killed or stopped
              worker left a last.pt (a stale lease is taken over by the next worker that looks)
    blocked   waits for the runs it warm-starts from (named)

Evaluation groups (one run's views of one split, interval and number of clips) are done, held,
queued or blocked (their run is not finished) in the same way.

**ETA.** Work left is priced from the cost plan (:mod:`.cost`: training PFLOP per run and epoch)
and the times measured in this store: ``metrics.json``'s ``time_s`` per epoch (training and
validation), and evaluation seconds from the workers' journals. A run with measured epochs uses
its own mean epoch time; any other run its PFLOP per epoch times the store's measured seconds
per PFLOP; with nothing measured yet, the cost plan's stated throughput (labelled as assumed).
The ETA is the larger of (work left / workers) and the longest chain of runs still to train
(a fine-tune cannot start before its base ends); workers = ``--workers``, else the live
workers in the journals (a remote one counts until its journal says it exited), else the live
lease holders (at least one).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..engine.lease import holder_state, host_identity, pid_alive
from ..engine.runs import LOCK_NAME, eval_lock_path, is_finished, read_metrics
from ..paper import TABLES
from .plan import Plan
from .workers import JOURNAL_DIR, eval_groups

__all__ = ["study_status", "format_status", "read_journals"]


def read_journals(runs_path: Path) -> list[dict]:
    """Every event of every worker journal in the store (``.workers/*.jsonl``), oldest first."""
    events = []
    for p in sorted(Path(runs_path, JOURNAL_DIR).glob("*.jsonl")):
        for line in p.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue                               # a line being written
    return sorted(events, key=lambda e: e.get("t", 0))


def _run_rows(plan: Plan, runs, fin: set[str]) -> list[dict]:
    rows = []
    for run in runs:
        metrics = read_metrics(run.dir)
        row = {"name": run.name, "dir": run.dir.name, "epochs": run.config.train.epochs, "epochs_done": len(metrics),
               "epoch_s": [float(m.get("time_s", 0.0)) for m in metrics], "needs": list(run.needs)}
        if run.name in fin:
            row.update(state="done", epochs_done=run.config.train.epochs)
        else:
            state, h = holder_state(run.dir / LOCK_NAME)
            waits = [n for n in run.needs if n not in fin]
            if state == "held":
                row.update(state="held", holder=h.to_dict())
            elif waits:
                row.update(state="blocked", waits_for=waits)
            else:
                row.update(state="queued")
                if state == "stale":
                    row["stale_holder"] = h.to_dict()
        rows.append(row)
    return rows


def _eval_rows(plan: Plan, groups: dict, fin: set[str]) -> list[dict]:
    rows = []
    for (name, interval, split, clips), reqs in groups.items():
        row = {"run": name, "split": split, "interval": interval, "clips": clips, "views": [q.view for q in reqs]}
        if all(plan.logits_path(q).is_file() for q in reqs):
            row["state"] = "done"
        elif name not in fin:
            row["state"] = "blocked"
        else:
            state, h = holder_state(eval_lock_path(plan.runs[name].dir, split, interval, clips))
            row.update(state="held", holder=h.to_dict()) if state == "held" else row.update(state="queued")
        rows.append(row)
    return rows


def _workers(events: list[dict], now: float) -> list[dict]:
    """The last thing each worker process (host, pid) wrote in its journal."""
    last: dict[tuple, dict] = {}
    for e in events:
        last[(e.get("host"), e.get("pid"))] = e
    out = []
    for (host, pid), e in last.items():
        local = host == host_identity()["host"]
        alive = e.get("event") != "exit" and (pid_alive(int(pid or 0)) if local else True)
        out.append({"worker": e.get("worker", ""), "host": host, "pid": pid, "last": e.get("event"),
                    "run": e.get("run", ""), "ago_s": round(now - e.get("t", now), 1), "alive": alive})
    return out


def _eta(plan: Plan, tables, run_rows, eval_rows, events, workers: int | None, throughput, given: bool) -> dict:
    from .cost import cost_plan
    cp = cost_plan(plan, tables, throughput)
    cost = {r["name"]: r for r in cp["runs"]}
    per_epoch_pflop = {n: r["train_pflop"] / max(1, r["epochs"]) for n, r in cost.items()}
    measured_s = sum(sum(r["epoch_s"]) for r in run_rows)
    measured_pflop = sum(len(r["epoch_s"]) * per_epoch_pflop[r["name"]] for r in run_rows)
    rate = measured_s / measured_pflop if measured_pflop > 0 and measured_s > 0 else None      # s per PFLOP
    total_pflop = cp["total"]["train_pflop"] + cp["total"]["eval_pflop"]
    assumed = cp["estimate_hours"]["all"] * 3600 / total_pflop if total_pflop > 0 else 0.0
    s_per_pflop = rate if rate is not None else assumed
    left_s: dict[str, float] = {}
    for r in run_rows:
        if r["state"] == "done":
            left_s[r["name"]] = 0.0
            continue
        epochs_left = max(0, r["epochs"] - r["epochs_done"])
        own = sum(r["epoch_s"]) / len(r["epoch_s"]) if r["epoch_s"] else None
        left_s[r["name"]] = epochs_left * (own if own is not None else per_epoch_pflop[r["name"]] * s_per_pflop)
    eval_times = [e["seconds"] for e in events if e.get("event") == "evaluated" and "seconds" in e]
    eval_left = [g for g in eval_rows if g["state"] != "done"]
    if eval_times:
        eval_s = len(eval_left) * sum(eval_times) / len(eval_times)
        eval_source = f"{len(eval_times)} evaluation(s) measured in the workers' journals"
    else:
        groups_of = {}
        for g in eval_rows:
            groups_of[g["run"]] = groups_of.get(g["run"], 0) + 1
        eval_s = sum(cost[g["run"]]["eval_pflop"] / groups_of[g["run"]] * s_per_pflop for g in eval_left)
        eval_source = "the cost plan's evaluation PFLOP at the training rate"
    held = {(r["holder"]["host"], r["holder"]["pid"]) for r in run_rows + eval_rows if r["state"] == "held"}
    n = workers or max(1, len(held))
    chain: dict[str, float] = {}
    for r in run_rows:                                # dependency order: a run's needs come before it
        chain[r["name"]] = left_s[r["name"]] + max((chain[x] for x in r["needs"] if x in chain), default=0.0)
    critical = max(chain.values(), default=0.0)
    total = sum(left_s.values()) + eval_s
    source = (f"measured: {measured_s:.0f} s over {sum(len(r['epoch_s']) for r in run_rows)} epoch(s) in this store "
              f"({rate:.3g} s per training PFLOP)" if rate is not None else
              "nothing measured yet: the cost plan's estimate (assumed throughput and decoding rate: "
              f"{cp['throughput_source']})")
    return {"seconds": max(total / n, critical), "work_left_s": total, "training_left_s": sum(left_s.values()),
            "evaluation_left_s": eval_s, "critical_path_s": critical, "workers": n,
            "workers_source": "given" if given else "live workers in the journals" if workers else
            "live lease holders (at least 1)",
            "training_source": source, "evaluation_source": eval_source}


def study_status(plan: Plan, tables=TABLES, workers: int | None = None, throughput: float | None = None) -> dict:
    """The state of every run and evaluation group ``tables`` need, the workers seen, and an ETA."""
    tables = list(tables)
    now = time.time()
    runs = plan.runs_for(tables)
    fin = {r.name for r in runs if is_finished(r.dir)}
    run_rows = _run_rows(plan, runs, fin)
    eval_rows = _eval_rows(plan, eval_groups(plan, plan.requests(tables)), fin)
    events = read_journals(plan.study.runs_path)
    seen = _workers(events, time.time())
    count = lambda rows: {s: sum(r["state"] == s for r in rows) for s in ("done", "held", "queued", "blocked")}
    return {"profile": plan.study.profile, "reading": plan.study.reading, "runs_dir": str(plan.study.runs_path),
            "time": now, "runs": run_rows, "evaluations": eval_rows, "run_counts": count(run_rows),
            "evaluation_counts": count(eval_rows), "workers": seen,
            "eta": _eta(plan, tables, run_rows, eval_rows, events, workers or sum(w["alive"] for w in seen) or None,
                        throughput, given=bool(workers))}


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _holder(h: dict) -> str:
    where = "" if h.get("local") else f" on {h['host']}"
    worker = f" ({h['worker']})" if h.get("worker") else ""
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h["since"])) if h.get("since") else "?"
    return f"process {h['pid']}{where}{worker}, since {since}, heartbeat {h['age_s']:.0f} s ago"


def format_status(s: dict) -> str:
    rc, ec = s["run_counts"], s["evaluation_counts"]
    lines = [f"profile {s['profile']} ({s['reading']} reading), run store {s['runs_dir']}",
             f"runs: {len(s['runs'])} — {rc['done']} done, {rc['held']} held, {rc['queued']} queued, "
             f"{rc['blocked']} blocked",
             f"evaluations: {len(s['evaluations'])} groups — {ec['done']} done, {ec['held']} held, "
             f"{ec['queued']} queued, {ec['blocked']} blocked"]
    held = [r for r in s["runs"] if r["state"] == "held"]
    if held:
        lines.append("held:")
        lines += [f"  {r['name']:28} epoch {r['epochs_done']}/{r['epochs']}  {_holder(r['holder'])}" for r in held]
    held_e = [g for g in s["evaluations"] if g["state"] == "held"]
    lines += [f"  eval {g['run']} {g['split']} i{g['interval']} k{g['clips']}  {_holder(g['holder'])}" for g in held_e]
    queued = [r for r in s["runs"] if r["state"] == "queued"]
    if queued:
        lines.append("queued: " + ", ".join(r["name"] + (f" (resumes from epoch {r['epochs_done']})"
                                                           if r["epochs_done"] else "") for r in queued))
    blocked: dict[str, list[str]] = {}
    for r in s["runs"]:
        if r["state"] == "blocked":
            blocked.setdefault(", ".join(r["waits_for"]), []).append(r["name"])
    for waits, names in blocked.items():
        shown = ", ".join(names[:4]) + (f", ... ({len(names)})" if len(names) > 4 else "")
        lines.append(f"blocked until {waits} is done: {shown}")
    live = [w for w in s["workers"] if w["alive"]]
    if s["workers"]:
        lines.append(f"workers: {len(live)} live of {len(s['workers'])} seen in the journals" + "".join(
            f"\n  {w['worker'] or '-':16} {w['host']}:{w['pid']}  last: {w['last']} {w['run']} {w['ago_s']:.0f} s ago"
            for w in live))
    e = s["eta"]
    if rc["done"] == len(s["runs"]) and ec["done"] == len(s["evaluations"]):
        lines.append("ETA: complete")
    else:
        lines.append(f"ETA: {_hms(e['seconds'])} with {e['workers']} worker(s) ({e['workers_source']}): "
                     f"{_hms(e['training_left_s'])} of training and {_hms(e['evaluation_left_s'])} of evaluation left, "
                     f"critical path {_hms(e['critical_path_s'])}")
        lines.append(f"  training time from {e['training_source']}; evaluation from {e['evaluation_source']}")
    return "\n".join(lines)
