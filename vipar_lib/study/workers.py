"""Workers: processes that fill one run store side by side, cooperating only through its leases.

::

    vipar run-study --profile P --workers N      N worker processes (default: one per visible GPU,
                                                 each pinned to it with CUDA_VISIBLE_DEVICES)
    two shells, two checkouts, several nodes     the same: every worker runs the same loop on the
                                                 same run store, and nothing else is shared

The loop (:func:`work`), until everything the tables need is in the store::

    1. train the first run, in the plan's dependency order, that is
         not finished · ready (every run it warm-starts from, PlannedRun.needs, is finished) · not held
       (train() takes the run's lease; a run someone holds is skipped, not an error; a run whose
        holder died is taken over and resumes from last.pt)
    2. else evaluate the first evaluation group (run, split, interval, clips) whose run is finished,
       whose logits files are missing and whose lease nobody holds
    3. else wait (poll) while other workers hold what is left, or what it waits on

Nothing is assigned: a worker takes what is free, so workers can join, leave or die at any time,
and N workers leave the store exactly as one does (on the CPU bit for bit: a run's result depends
only on its config and seed, not on who trains it). Each worker keeps a journal of what it did,
``<runs_dir>/.workers/<host>-<pid>.jsonl`` (start, train, trained, evaluate, evaluated, exit, with
times): ``vipar status`` reads it for evaluation times and idle workers.

:func:`run_workers` is the parent of ``--workers N``: it prepares the data once, starts N
``python -m vipar_lib.study.worker_process`` processes, relays their output line by line with a
``[w2/4 gpu 1]`` prefix, shows one progress bar for the whole store, and stops them cleanly on
an interrupt (SIGTERM to each: a worker turns SIGTERM and SIGUSR2 into ``SystemExit``, so its
leases are released and a run loses at most its epoch in flight). A worker that dies is not
replaced; the others take over its run. The parent fails only if the study is not complete at
the end. Each worker gets ``OMP_NUM_THREADS`` = CPUs / N unless it is set: N workers do not
fight over the cores. On the CPU a result depends on the intra-op thread count at float-rounding
level (about 1e-7), so N workers reproduce a one-worker run bit for bit when both use the same
``OMP_NUM_THREADS`` (the tests set 1).

**When one run over several GPUs (torchrun) is better.** One run per GPU is the efficient layout
while there are at least as many ready runs as GPUs: no gradient traffic, no idle ranks. Use
``torchrun --nproc_per_node=G -m vipar_lib.cli train run.yaml`` (DistributedDataParallel) instead
when a single run is on the critical path with GPUs idle — the base runs that every Table-1 row
waits for, or a last long fine-tune — or when a run's batch does not fit one GPU.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from .. import REPO_DIR
from ..engine.checkpoint import checkpoint_epoch
from ..engine.errors import RunLockedError
from ..engine.lease import holder_state, lease
from ..engine.progress import bar
from ..engine.runs import LOCK_NAME, eval_lock, eval_lock_path, is_finished
from ..paper import TABLES
from .plan import EvalRequest, Plan, PlannedRun

__all__ = ["work", "run_workers", "resolve_workers", "visible_gpus", "eval_groups", "study_complete",
           "WorkerError", "JOURNAL_DIR", "PREPARE_LOCK", "study_params"]

log = logging.getLogger("vipar.workers")

JOURNAL_DIR = ".workers"            # in the run store: one journal per worker process
PREPARE_LOCK = ".prepare.lock"      # in the run store: held while the data and the split are prepared
POLL_S = 1.0                        # how often a waiting worker looks at the store again


class WorkerError(RuntimeError):
    """Workers ended and the study is not complete (a worker failed; its output says why)."""


def visible_gpus() -> list[str]:
    """The GPUs this process may use (ids as CUDA_VISIBLE_DEVICES names them); [] without CUDA."""
    try:
        import torch
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        n = 0
    if n == 0:
        return []
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in env.split(",") if d.strip()] if env else []
    return ids[:n] if len(ids) >= n else [str(i) for i in range(n)]


def resolve_workers(n: int) -> int:
    """``n`` workers, or for ``0``: one per visible GPU (1 without CUDA)."""
    if n < 0:
        raise ValueError(f"workers={n}; allowed: 0 (one per visible GPU) or a positive number")
    return n or max(1, len(visible_gpus()))


def eval_groups(plan: Plan, reqs: Iterable[EvalRequest]) -> dict[tuple, list[EvalRequest]]:
    """Evaluation requests grouped the way one evaluation call serves them: (run, interval, split, clips)."""
    groups: dict[tuple, list[EvalRequest]] = {}
    for q in reqs:
        groups.setdefault((q.run, q.interval, q.split, q.clips), []).append(q)
    return groups


def study_complete(plan: Plan, tables: Iterable[str] = TABLES) -> bool:
    tables = list(tables)
    return all(is_finished(r.dir) for r in plan.runs_for(tables)) and \
        all(plan.logits_path(q).is_file() for q in plan.requests(tables))


class _Journal:
    """Append-only JSON lines of what this worker did (one file per process: no shared appends)."""

    def __init__(self, runs_path: Path, worker: str):
        host = socket.gethostname()
        self.path = runs_path / JOURNAL_DIR / f"{host}-{os.getpid()}.jsonl"
        self.base = {"worker": worker, "host": host, "pid": os.getpid()}
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, event: str, **kw) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"t": round(time.time(), 3), "event": event, **self.base, **kw}) + "\n")


def _held(path: Path) -> bool:
    return holder_state(path)[0] == "held"


def work(plan: Plan, tables: Iterable[str] = TABLES, progress: bool = True, say: Callable[[str], None] | None = None,
         poll_s: float | None = None, worker: str | None = None, *, prepare: Callable, write_cost: Callable) -> dict:
    """One worker's loop (module docstring) until the tables' runs and logits files are all in the store.

    ``prepare(study, progress) -> number of classes`` makes the data and split (run under the
    store's prepare lease); ``write_cost(run, num_classes, requests)`` writes a run's cost.json.
    The executor (:mod:`.execute`) passes both, so imports go one way.
    Returns ``{"trained": [...], "evaluated": [...], "reused": n}``: the runs this worker trained
    (or resumed), the logits files it wrote, and how many runs were finished by others or before.
    """
    say = say or log.info
    worker = os.environ.get("VIPAR_WORKER", "") if worker is None else worker
    with _worker_name(worker):                                # the leases name it
        return _work(plan, tables, progress, say, poll_s, worker, prepare, write_cost)


@contextlib.contextmanager
def _worker_name(worker: str):
    """``VIPAR_WORKER`` set to ``worker`` while the loop runs, the caller's value restored after.

    Never left behind as ``""``: an in-process call must not blank the name of a job started later
    from the same process (a submitit job names itself only where ``VIPAR_WORKER`` is unset or empty).
    """
    before = os.environ.get("VIPAR_WORKER")
    if worker:
        os.environ["VIPAR_WORKER"] = worker
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("VIPAR_WORKER", None)
        else:
            os.environ["VIPAR_WORKER"] = before


def _work(plan: Plan, tables, progress: bool, say, poll_s, worker: str, prepare: Callable,
          write_cost: Callable) -> dict:
    poll_s = float(os.environ.get("VIPAR_POLL_S", POLL_S)) if poll_s is None else poll_s
    tables = list(tables)
    study = plan.study
    study.runs_path.mkdir(parents=True, exist_ok=True)
    with lease(study.runs_path / PREPARE_LOCK, "preparing the data for", thing="the run store", wait=True):
        num_classes = prepare(study, progress)
    journal = _Journal(study.runs_path, worker)
    journal("start", tables=tables)
    runs = plan.runs_for(tables)
    reqs = plan.requests(tables)
    groups = eval_groups(plan, reqs)
    done = {"trained": [], "evaluated": [], "reused": 0}
    bars = _Bars(progress, len(runs), len(groups))
    waiting_for = None
    status = "interrupted"
    try:
        while True:
            fin = {r.name for r in runs if is_finished(r.dir)}
            todo_groups = {k: [q for q in g if not plan.logits_path(q).is_file()] for k, g in groups.items()}
            todo_groups = {k: g for k, g in todo_groups.items() if g}
            bars.show(len(fin), len(groups) - len(todo_groups))
            if len(fin) == len(runs) and not todo_groups:
                break
            took = _train_next(plan, runs, fin, say, journal, done)
            if took is None:
                took = _evaluate_next(plan, todo_groups, fin, say, journal, done, progress)
            if took is not None:
                if is_finished(plan.runs[took].dir):
                    write_cost(plan.runs[took], num_classes, reqs)
                waiting_for = None
                continue
            held = _waiting_on(plan, runs, fin, todo_groups)
            if held != waiting_for:
                say(f"waiting: {held}")
                journal("wait", on=held)
                waiting_for = held
            time.sleep(poll_s)
        for r in runs:                       # cost.json of runs finished elsewhere or before (written once)
            write_cost(r, num_classes, reqs)
        done["reused"] = len([r for r in runs if r.name not in done["trained"]])
        status = "done"
    except BaseException as e:
        status = f"{type(e).__name__}: {e}".strip(": ")
        raise
    finally:
        bars.close()
        journal("exit", status=status, trained=done["trained"], evaluated=len(done["evaluated"]))
    return done


def _train_next(plan: Plan, runs: list[PlannedRun], fin: set[str], say, journal, done) -> str | None:
    """Train the first ready, free run; return its name, or None when there is none."""
    from ..engine.train import train
    for i, run in enumerate(runs, 1):
        if run.name in fin or any(n not in fin for n in run.needs) or _held(run.dir / LOCK_NAME):
            continue
        if is_finished(run.dir):
            continue
        start = checkpoint_epoch(run.dir / "last.pt") if (run.dir / "last.pt").is_file() else 0
        cfg = run.config
        say(f"[{i}/{len(runs)}] {'resuming' if start else 'training'} {run.name} ({cfg.model.name}, "
            f"{cfg.data.input_type}, {f'from epoch {start} of ' if start else ''}{cfg.train.epochs} epochs)")
        journal("train", run=run.name, dir=run.dir.name, from_epoch=start or 0)
        t0 = time.time()
        try:
            train(cfg)
        except RunLockedError:               # taken by another worker between the look and the lease
            journal("skipped", run=run.name)
            return run.name
        journal("trained", run=run.name, seconds=round(time.time() - t0, 2))
        done["trained"].append(run.name)
        return run.name
    return None


def _evaluate_next(plan: Plan, todo: dict[tuple, list[EvalRequest]], fin: set[str], say, journal, done,
                   progress: bool) -> str | None:
    """Evaluate the first free group of a finished run; return the run's name, or None when there is none."""
    from ..engine.evaluate import evaluate_run
    study = plan.study
    for (name, interval, split, clips), reqs in todo.items():
        run = plan.runs[name]
        if name not in fin or _held(eval_lock_path(run.dir, split, interval, clips)):
            continue
        try:
            with eval_lock(run.dir, split, interval, clips):
                reqs = [q for q in reqs if not plan.logits_path(q).is_file()]
                if not reqs:
                    return name
                views = [q.view for q in reqs]
                say(f"evaluating {name}: {', '.join(views)} (interval {interval}, {split}, {clips} clips)")
                journal("evaluate", run=name, split=split, interval=interval, clips=clips, views=views)
                t0 = time.time()
                evaluate_run(run.dir, views=views, num_clips=clips, interval=interval, split=split,
                             positions=study.eval.positions, batch_size=study.eval.batch_size, progress=progress,
                             crop=study.eval.crop)
                journal("evaluated", run=name, split=split, interval=interval, clips=clips, views=views,
                        seconds=round(time.time() - t0, 2))
        except RunLockedError:
            continue
        done["evaluated"] += [plan.logits_path(q).name for q in reqs]
        return name
    return None


def _waiting_on(plan: Plan, runs: list[PlannedRun], fin: set[str], todo: dict) -> str:
    """One line: what other workers hold, and how much waits on it."""
    held, blocked = [], 0
    for run in runs:
        if run.name in fin:
            continue
        state, h = holder_state(run.dir / LOCK_NAME)
        if state == "held" and h is not None:
            where = f" on {h.host}" if h.host and not h.local else ""
            held.append(f"{run.name} ({h.who()}{where}{', worker ' + h.worker if h.worker else ''})")
        elif any(n not in fin for n in run.needs):
            blocked += 1
    evals = sum(1 for (name, i, s, k) in todo if _held(eval_lock_path(plan.runs[name].dir, s, i, k)))
    parts = [f"{len(held)} run(s) held by other workers: " + "; ".join(held[:3]) + (" ..." if len(held) > 3 else "")
             ] if held else []
    if blocked:
        parts.append(f"{blocked} run(s) wait for their base")
    if evals:
        parts.append(f"{evals} evaluation(s) held by other workers")
    return ", ".join(parts) or "the others to finish"


class _Bars:
    """The executor's two progress bars (runs finished, evaluation groups done), set from the store."""

    def __init__(self, on: bool, runs: int, groups: int):
        self.on, self.runs_total, self.groups_total = on, runs, groups
        self.runs = self.groups = None

    def show(self, runs_done: int, groups_done: int) -> None:
        if not self.on:
            return
        if self.runs is None and runs_done < self.runs_total:
            self.runs = bar(self.runs_total, "runs", True, unit="run", slot="runs")
        if self.groups is None and groups_done < self.groups_total and runs_done == self.runs_total:
            self.groups = bar(self.groups_total, "evaluations", True, unit="group", slot="evaluations")
        for b, n in ((self.runs, runs_done), (self.groups, groups_done)):
            if b is not None and n > b.n:
                b.update(n - b.n)

    def close(self) -> None:
        for b in (self.runs, self.groups):
            if b is not None:
                b.close()


# -- the parent of --workers N ----------------------------------------------------------------------
def run_workers(plan: Plan, tables: Iterable[str], n: int, say: Callable[[str], None] | None = None,
                progress: bool = True, poll_s: float | None = None, *, prepare: Callable) -> dict:
    """Run ``n`` worker processes on ``plan`` (module docstring); return their merged summaries.

    ``prepare`` is :func:`work`'s: the data is prepared once here, before the workers start.
    """
    say = say or log.info
    tables = list(tables)
    study = plan.study
    study.runs_path.mkdir(parents=True, exist_ok=True)
    with lease(study.runs_path / PREPARE_LOCK, "preparing the data for", thing="the run store", wait=True):
        prepare(study, progress)
    gpus = visible_gpus()
    threads = max(1, len(os.sched_getaffinity(0)) // n) if hasattr(os, "sched_getaffinity") else 1
    tmp = Path(tempfile.mkdtemp(prefix="vipar-workers-"))
    import yaml
    study_file = tmp / "study.yaml"
    study_file.write_text(yaml.safe_dump(study_params(study), sort_keys=False))
    say(f"starting {n} worker(s) on {study.runs_path}" + (f", GPUs {', '.join(gpus)}" if gpus else " (CPU)"))
    procs: list[tuple[str, subprocess.Popen, Path]] = []
    relays: list[threading.Thread] = []
    try:
        for i in range(n):
            label = f"w{i + 1}/{n}" + (f" gpu {gpus[i % len(gpus)]}" if gpus else "")
            env = {**os.environ, "VIPAR_WORKER": label, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
            if poll_s is not None:
                env["VIPAR_POLL_S"] = str(poll_s)
            if gpus:
                env["CUDA_VISIBLE_DEVICES"] = gpus[i % len(gpus)]
            env.setdefault("OMP_NUM_THREADS", str(threads))
            summary = tmp / f"w{i + 1}.json"
            cmd = [sys.executable, "-m", "vipar_lib.study.worker_process", str(study_file), "--tables", *tables,
                   "--summary", str(summary)]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                 cwd=str(REPO_DIR), bufsize=1)
            procs.append((label, p, summary))
            t = threading.Thread(target=_relay, args=(p, label, say), daemon=True)
            t.start()
            relays.append(t)
        _watch(plan, tables, [p for _, p, _ in procs], progress)
    except BaseException:
        _stop(procs, say)
        raise
    for t in relays:
        t.join(timeout=5)
    merged = {"trained": [], "evaluated": [], "reused": 0, "workers": {}}
    failed = []
    for label, p, summary in procs:
        d = json.loads(summary.read_text()) if summary.is_file() else {}
        merged["workers"][label] = {"exit": p.returncode, **d}
        merged["trained"] += d.get("trained", [])
        merged["evaluated"] += d.get("evaluated", [])
        if p.returncode != 0:
            failed.append(f"{label} exited with {_exit_text(p.returncode)}")
    merged["reused"] = len([r for r in plan.runs_for(tables) if r.name not in merged["trained"]])
    complete = study_complete(plan, tables)
    for f in failed:
        say(f"worker {f}" + ("; the other workers finished its work" if complete else ""))
    if not complete:
        raise WorkerError(f"the workers ended and the study is not complete ({'; '.join(failed) or 'no failure'}); "
                          f"their output above says why; run again to resume from the run store")
    return merged


def study_params(study) -> dict:
    """The study as a params file (the keys the planner sets per row left out)."""
    from .config import PLANNED_KEYS
    d = study.to_dict()
    for key in PLANNED_KEYS:
        sec, name = key.split(".")
        d.get(sec, {}).pop(name, None)
    return d


def _exit_text(code: int) -> str:
    if code < 0:
        with_name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return f"signal {with_name}"
    return f"code {code}"


def _relay(p: subprocess.Popen, label: str, say: Callable[[str], None]) -> None:
    for line in p.stdout:
        line = line.rstrip()
        if line:
            say(f"[{label}] {line}")


def _watch(plan: Plan, tables: list[str], procs: list[subprocess.Popen], progress: bool) -> None:
    """Wait for the workers, with one progress bar of the store's runs and logits files."""
    runs, reqs = plan.runs_for(tables), plan.requests(tables)
    b = bar(len(runs) + len(reqs), "study (runs + logits files)", progress, unit="item", slot="runs")

    def count() -> None:
        n = sum(is_finished(r.dir) for r in runs) + sum(plan.logits_path(q).is_file() for q in reqs)
        if n > b.n:
            b.update(n - b.n)
    try:
        while any(p.poll() is None for p in procs):
            if b is not None:
                count()
            time.sleep(1.0)
    finally:
        if b is not None:
            count()                  # what the workers wrote in their last second: a finished study ends at 100%
            b.close()


def _stop(procs, say) -> None:
    """SIGTERM every worker (each releases its leases), then wait; SIGKILL what is left after 60 s."""
    alive = [(label, p) for label, p, _ in procs if p.poll() is None]
    for _, p in alive:
        p.send_signal(signal.SIGTERM)
    deadline = time.time() + 60
    for label, p in alive:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            say(f"worker {label} did not stop within 60 s of SIGTERM: killed")
            p.kill()
            p.wait()
