"""Workers that fill one run store side by side (issue #19), on the CPU, with the smoke profile.

The smoke study is made smaller still for these tests (3 groups x 1 clip of 64x48 per class, one
test clip per video: ``FAST``), keeping all of its 21 runs and 77 logits files. Every process runs
with OMP_NUM_THREADS=1, so a run's weights do not depend on who trains it, bit for bit.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from vipar_lib.engine.lease import read_holder
from vipar_lib.engine.runs import LOCK_NAME
from vipar_lib.study import load_study, plan_study
from vipar_lib.study.status import read_journals

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 900


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    """--set arguments: the smoke study on a smaller generated dataset shared by this module's stores."""
    data = tmp_path_factory.mktemp("fast-data")
    return ["--set", f"dataset.root={data}", "--set", "dataset.groups=3", "--set", "dataset.clips=1",
            "--set", "dataset.size=[64,48]", "--set", "eval.num_clips=1"]


def _env(**kw):
    return {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "VIPAR_POLL_S": "0.2", **kw}


def _vipar(cwd: Path, *args, env=None, **popen):
    """``vipar ...`` from the checkout at ``cwd``."""
    env = {**(env or _env()), "PYTHONPATH": str(cwd)}
    return subprocess.Popen([sys.executable, "-m", "vipar_lib.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)


def _finish(p: subprocess.Popen) -> tuple[int, str]:
    out, _ = p.communicate(timeout=TIMEOUT)
    return p.returncode, out


def _plan(store: Path, fast):
    overrides = {"runs_dir": str(store), "dataset": {"root": fast[1].split("=", 1)[1], "groups": 3, "clips": 1,
                                                     "size": [64, 48]}, "eval": {"num_clips": 1}}
    return plan_study(load_study("smoke", overrides))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, fast):
    """One worker's smoke study: {run name: run directory}."""
    store = tmp_path_factory.mktemp("one-worker")
    code, out = _finish(_vipar(REPO, "run-study", "--profile", "smoke", *fast, "--set", f"runs_dir={store}",
                               "--workers", "1"))
    assert code == 0, out[-3000:]
    return {r.name: r.dir for r in _plan(store, fast).runs.values()}


def _same_results(dirs: dict[str, Path], reference: dict[str, Path], names=None):
    """Every run's final weights bit for bit, and its logits files, run by run (the hashes differ by store)."""
    for name in names or dirs:
        a = torch.load(dirs[name] / "last.pt", weights_only=False)["model"]
        b = torch.load(reference[name] / "last.pt", weights_only=False)["model"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
        files = sorted(p.name for p in (dirs[name] / "logits").glob("*.npz"))
        theirs = sorted(p.name for p in (reference[name] / "logits").glob("*.npz"))
        assert (files == theirs) if names is None else set(files) <= set(theirs), name
        for f in files:
            a, b = np.load(dirs[name] / "logits" / f)["logits"], np.load(reference[name] / "logits" / f)["logits"]
            # a subset of the tables evaluates fewer views of a run at once, and the views of one call are
            # batched through the model together: the same weights then give logits equal to float rounding
            assert np.array_equal(a, b) if names is None else np.allclose(a, b, rtol=0, atol=1e-5), (name, f)


def _starts(run_dir: Path) -> list[str]:
    """The trainings of a run that began, from its log: 'epochs 0->N' is a start from scratch."""
    return [ln.split("epochs ")[-1].split(";")[0] for ln in (run_dir / "train.log").read_text().splitlines()
            if " epochs " in ln and "effective batch" in ln]


def _trains(events) -> list[dict]:
    """The journal's training starts, less those refused because another worker took the run first."""
    out = []
    for e in events:
        if e["event"] == "train":
            out.append(e)
        elif e["event"] == "skipped":
            out.remove(next(x for x in reversed(out) if (x["pid"], x["run"]) == (e["pid"], e["run"])))
    return out


def _trained_once_after_bases(plan, events):
    trains = _trains(events)
    assert Counter(e["run"] for e in trains) == Counter(list(plan.runs)), "every run trained exactly once"
    finished = {e["run"]: e["t"] for e in events if e["event"] == "trained"}
    for e in trains:
        assert e["from_epoch"] == 0
        for base in plan.runs[e["run"]].needs:
            assert e["t"] >= finished[base], f"{e['run']} started before its base {base} finished"
    for run in plan.runs.values():
        assert _starts(run.dir) == [f"0->{run.config.train.epochs}"], run.name
    evals = Counter((e["run"], e["split"], e["interval"], e["clips"]) for e in events if e["event"] == "evaluate")
    assert set(evals.values()) == {1} and len(evals) == 24                 # each evaluation group once


def test_two_workers_finish_the_study_each_run_once_after_its_bases_as_one_worker_does(tmp_path, fast, reference):
    code, out = _finish(_vipar(REPO, "run-study", "--profile", "smoke", *fast, "--set", f"runs_dir={tmp_path}",
                               "--workers", "2"))
    assert code == 0, out[-3000:]
    assert "starting 2 worker(s)" in out and "trained 21 run(s), reused 0, wrote 56 logits file(s)" in out
    plan = _plan(tmp_path, fast)
    events = read_journals(tmp_path)
    _trained_once_after_bases(plan, events)
    by_worker = Counter(e["worker"] for e in events if e["event"] in ("train", "evaluate"))
    assert set(by_worker) == {"w1/2", "w2/2"}                               # both did work
    assert not [p for p in tmp_path.rglob("*.lock") if p.parent.name != "split"]  # every lease released (the
    # split folder keeps its flock file: a lock file, not a lease)
    _same_results({r.name: r.dir for r in plan.runs.values()}, reference)


def test_a_worker_killed_mid_run_is_resumed_by_another_with_the_weights_of_an_uninterrupted_run(tmp_path, fast,
                                                                                                reference):
    args = ("run-study", "--profile", "smoke", *fast, "--set", f"runs_dir={tmp_path}", "--tables", "table1",
            "--workers", "1")
    plan = _plan(tmp_path, fast)
    base = plan.runs["base_slowfast_r50_rgb"]
    a = _vipar(REPO, *args, env=_env(VIPAR_KILL_AFTER_EPOCH="1"))      # SIGKILL after the first epoch of its run
    deadline = time.time() + TIMEOUT
    while getattr(read_holder(base.dir / LOCK_NAME), "pid", 0) != a.pid:
        assert a.poll() is None and time.time() < deadline, "the first worker never took the base run"
        time.sleep(0.1)
    b = _vipar(REPO, *args)
    code_a, out_a = _finish(a)
    code_b, out_b = _finish(b)
    assert code_a == -signal.SIGKILL, out_a[-3000:]
    assert code_b == 0, out_b[-3000:]
    assert _starts(base.dir) == ["0->2", "1->2"]                            # started once, resumed once
    assert "resumed from last.pt at epoch 1" in (base.dir / "train.log").read_text()
    resumed = [e for e in _trains(read_journals(tmp_path)) if e["run"] == base.name]
    assert [(e["pid"], e["from_epoch"]) for e in resumed] == [(a.pid, 0), (b.pid, 1)]
    names = [r.name for r in plan.runs_for(["table1"])]
    _same_results({n: plan.runs[n].dir for n in names}, reference, names)


def test_two_checkouts_share_a_run_store_and_two_run_study_processes_cooperate(tmp_path, fast, reference):
    other = tmp_path / "checkout_b"
    for d in ("vipar_lib", "params"):
        shutil.copytree(REPO / d, other / d, ignore=shutil.ignore_patterns("__pycache__"))
    store = tmp_path / "shared-runs"
    args = ("run-study", "--profile", "smoke", *fast, "--set", f"runs_dir={store}", "--tables", "table2")
    procs = [_vipar(REPO, *args), _vipar(other, *args)]
    results = [_finish(p) for p in procs]
    for code, out in results:
        assert code == 0, out[-3000:]
    plan = _plan(store, fast)
    names = [r.name for r in plan.runs_for(["table2"])]
    events = read_journals(store)
    starts = Counter(e["run"] for e in _trains(events) if e["from_epoch"] == 0)
    assert set(starts) == set(names) and set(starts.values()) == {1}        # no run started from scratch twice
    assert all(_starts(plan.runs[n].dir)[0].startswith("0->") and len(_starts(plan.runs[n].dir)) == 1 for n in names)
    exits = {e["pid"]: e["status"] for e in events if e["event"] == "exit"}
    assert exits == {p.pid: "done" for p in procs}                          # both worked on the store to the end
    _same_results({n: plan.runs[n].dir for n in names}, reference, names)


def test_the_study_bar_ends_at_what_the_store_holds_after_the_workers_exit(reference, fast, monkeypatch):
    """The bar looked once a second while workers ran; files written in their last second were never counted,
    so a finished study's page showed e.g. 96% (144/150)."""
    from vipar_lib.study import workers
    bars = []

    class Bar:
        def __init__(self, total, *a, **k):
            self.total, self.n, self.closed = total, 0, False
            bars.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True
    monkeypatch.setattr(workers, "bar", Bar)
    plan = _plan(next(iter(reference.values())).parent, fast)
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()                                      # the workers have exited before the first look
    workers._watch(plan, ["table1", "table2", "table3"], [done], progress=True)
    assert len(bars) == 1 and bars[0].closed and bars[0].n == bars[0].total > 0
