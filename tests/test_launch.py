"""``vipar launch`` (issue #19): the study's workers as submitit jobs; here through submitit's local executor."""
import os
import signal
import time
from pathlib import Path

import pytest
from test_workers import _env, _finish, _plan, _starts, _trains, _vipar

from vipar_lib.cli.main import main
from vipar_lib.engine.lease import read_holder
from vipar_lib.engine.runs import LOCK_NAME, is_finished
from vipar_lib.study.launch import LaunchError, parse_time
from vipar_lib.study.status import read_journals

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text,minutes", [("90", 90), ("1:30:00", 90), ("30:30", 30.5), ("2-00:00:00", 2880),
                                          ("1-12", 2160), ("0:00:30", 0.5)])
def test_time_limits_in_slurm_formats(text, minutes):
    assert parse_time(text) == pytest.approx(minutes)


def test_launcher_errors_are_one_line(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["launch", "--profile", "smoke", "--slurm", "--partition", "gpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("vipar launch: error: --slurm: no SLURM on this machine (sbatch and srun not found); leave out "
                   "--slurm to run the workers through submitit's local executor")
    with pytest.raises(LaunchError, match=r"--time='1h'; expected minutes \(90\), HH:MM:SS or D-HH:MM:SS"):
        parse_time("1h")


def test_slurm_gets_a_job_array_of_one_node_jobs_with_their_gpus_time_and_resubmission_signal(tmp_path, capsys,
                                                                                            monkeypatch):
    bin_dir = tmp_path / "bin"                  # stand-ins for SLURM's commands: sbatch keeps the script it is given
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/job.sh\necho "Submitted batch job 4242"\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert main(["launch", "--profile", "smoke", "--set", f"runs_dir={tmp_path / 'runs'}", "--slurm", "--partition",
                 "gpu", "--nodes", "4", "--gpus-per-node", "8", "--cpus-per-task", "64", "--time", "1-00:00:00",
                 "--slurm-arg", "account=proj", "--no-wait"]) == 0
    out = capsys.readouterr().out
    assert "submitted 4 job(s) to SLURM: 4242_0, 4242_1, 4242_2, 4242_3" in out
    script = (tmp_path / "job.sh").read_text()
    for line in ("--array=0-3%4", "--nodes=1", "--ntasks-per-node=1", "--gpus-per-node=8", "--cpus-per-task=64",
                 "--partition=gpu", "--time=1440", "--signal=USR2@90", "--account=proj", "--job-name=vipar-smoke"):
        assert f"#SBATCH {line}\n" in script, line
    assert (tmp_path / "runs" / ".launch").is_dir()


def test_local_jobs_run_the_study_and_a_preempted_job_is_resubmitted_and_resumes(tmp_path):
    data = tmp_path / "data"
    fast = ["--set", f"dataset.root={data}", "--set", "dataset.groups=3", "--set", "dataset.clips=1",
            "--set", "dataset.size=[64,48]", "--set", "eval.num_clips=1"]
    store = tmp_path / "runs"
    p = _vipar(REPO, "launch", "--profile", "smoke", *fast, "--set", f"runs_dir={store}", "--tables", "table1",
               "--nodes", "2", "--time", "30", "--log-dir", str(tmp_path / "logs"), env=_env())
    plan = _plan(store, fast)
    base = plan.runs["base_slowfast_r50_rgb"]
    deadline = time.time() + 600
    while (h := read_holder(base.dir / LOCK_NAME)) is None or h.pid <= 0:       # (0 while the line is written)
        assert p.poll() is None and time.time() < deadline, "no job took the base run"
        time.sleep(0.05)
    signal_at = time.time()
    os.kill(h.pid, signal.SIGUSR2)                        # what SLURM sends before a preemption or the time limit
    code, out = _finish(p)
    assert code == 0, out[-3000:]
    assert "submitted 2 job(s) to submitit's local executor" in out
    assert out.count("trained") >= 2 and "failed" not in out
    logs = "\n".join(f.read_text() for f in (tmp_path / "logs").rglob("*.out")) + \
        "\n".join(f.read_text() for f in (tmp_path / "logs").rglob("*.err"))
    assert "this job is preempted" in logs and "Requeued job" in logs
    assert all(is_finished(r.dir) for r in plan.runs_for(["table1"]))
    assert all(plan.logits_path(q).is_file() for q in plan.requests(["table1"]))
    # the preempted job let go of the base (SystemExit released its lease) and the base was trained again
    # after the signal: resumed from last.pt if an epoch was done, else started anew (nothing was finished)
    events = read_journals(store)
    again = [e for e in _trains(events) if e["run"] == base.name and e["t"] >= signal_at]
    assert again and _starts(base.dir)
    assert all(e["worker"].startswith("job ") for e in events), {e["worker"] for e in events}
    # no run lease is left behind (the split folder's flock file stays: it is a lock file, not a lease)
    assert not [p for p in store.rglob("*.lock") if p.parent.name != "split"]


def test_an_in_process_worker_leaves_the_worker_name_as_it_found_it(monkeypatch):
    """A nameless in-process worker (the browser test's ``execute``) once left ``VIPAR_WORKER=""`` behind,
    and every submitit job started later from that process journalled a blank worker name."""
    from vipar_lib.study.workers import _worker_name
    monkeypatch.delenv("VIPAR_WORKER", raising=False)
    with _worker_name(""):
        assert "VIPAR_WORKER" not in os.environ
    assert "VIPAR_WORKER" not in os.environ
    with _worker_name("w1/2"):
        assert os.environ["VIPAR_WORKER"] == "w1/2"
    assert "VIPAR_WORKER" not in os.environ
    monkeypatch.setenv("VIPAR_WORKER", "job 7")
    with _worker_name("w2/2"):
        assert os.environ["VIPAR_WORKER"] == "w2/2"
    assert os.environ["VIPAR_WORKER"] == "job 7"
