"""``vipar status`` (issue #19): done, held (by whom, since when), queued, blocked, and an ETA, from the store alone."""
import json
import os
import subprocess
import sys
import time

import pytest

from vipar_lib.cli.main import main
from vipar_lib.engine.runs import LOCK_NAME
from vipar_lib.study import load_study, plan_study
from vipar_lib.study.status import study_status


@pytest.fixture
def store(tmp_path):
    sets = ["--set", f"runs_dir={tmp_path / 'runs'}", "--set", f"dataset.root={tmp_path / 'data'}"]
    plan = plan_study(load_study("smoke", {"runs_dir": str(tmp_path / "runs"), "dataset": {"root": str(tmp_path /
                                                                                                   "data")}}))
    return plan, sets


def _metrics(run, *seconds):
    run.dir.mkdir(parents=True, exist_ok=True)
    (run.dir / "metrics.json").write_text(json.dumps([{"epoch": i + 1, "time_s": s} for i, s in enumerate(seconds)]))


def test_status_of_an_empty_store_names_what_waits_for_what(store, capsys):
    plan, sets = store
    assert main(["status", "--profile", "smoke", *sets]) == 0
    out = capsys.readouterr().out
    assert "runs: 21 — 0 done, 0 held, 6 queued, 15 blocked" in out
    assert "evaluations: 24 groups — 0 done, 0 held, 0 queued, 24 blocked" in out
    assert "blocked until base_slowfast_r50_rgb is done: t1_T1_1, t1_T1_2, t1_T1_3, t1_T1_4, ... (8)" in out
    assert "nothing measured yet: the cost plan's estimate" in out and "ETA: " in out
    assert not (plan.study.runs_path / "split").exists()                 # status changes nothing


def test_status_shows_holders_resumable_runs_and_an_eta_from_measured_epochs(store, capsys):
    plan, sets = store
    held, stale = plan.runs["base_slowfast_r50_rgb"], plan.runs["base_slowfast_r101_rgb"]
    _metrics(held, 4.0)
    _metrics(stale, 6.0)
    now = time.time()
    (held.dir / LOCK_NAME).write_text(json.dumps(
        {"host": "node07", "boot": "b", "pidns": 1, "pid": 4242, "start": "1", "token": "t", "what": "training",
         "worker": "w3/8 gpu 2", "since": now - 60, "heartbeat": now - 5}))
    os.utime(held.dir / LOCK_NAME, (now - 5, now - 5))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from vipar_lib.engine.lease import Lease
    ls = Lease(stale.dir / LOCK_NAME, "training", "w1/8")
    assert ls.try_acquire() is None
    ls._stop.set()
    data = json.loads((stale.dir / LOCK_NAME).read_text())
    (stale.dir / LOCK_NAME).write_text(json.dumps({**data, "pid": dead.pid}))     # its holder has exited
    os.close(ls._fd)

    assert main(["status", "--profile", "smoke", *sets, "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "runs: 21 — 0 done, 1 held, 5 queued, 15 blocked" in out
    assert "base_slowfast_r50_rgb        epoch 1/2  process 4242 on node07 (w3/8 gpu 2), since " in out
    assert "heartbeat 5 s ago" in out
    assert "base_slowfast_r101_rgb (resumes from epoch 1)" in out
    assert "training time from measured: 10 s over 2 epoch(s) in this store" in out

    s = study_status(plan, workers=2)
    runs = {r["name"]: r for r in s["runs"]}
    assert runs[held.name]["holder"]["worker"] == "w3/8 gpu 2" and runs[stale.name]["stale_holder"]["pid"] == dead.pid
    e = s["eta"]
    assert e["workers"] == 2 and e["seconds"] == pytest.approx(max(e["work_left_s"] / 2, e["critical_path_s"]))
    # each base has one epoch left at its own measured time; its rows wait for it
    assert e["critical_path_s"] > 6.0 and e["training_left_s"] > 4.0 + 6.0
    assert main(["status", "--profile", "smoke", *sets, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_counts"] == {"done": 0, "held": 1, "queued": 5, "blocked": 15}
