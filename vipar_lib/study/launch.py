"""The launcher: a study's workers as submitit jobs, on a SLURM cluster or on this machine.

::

    vipar launch --profile ucf101 --slurm --partition gpu --nodes 4 --gpus-per-node 8 --time 24:00:00
        ──► a job array of 4 one-node jobs; each runs execute(plan, workers=8): 8 worker processes,
            one per GPU of its node (CUDA_VISIBLE_DEVICES), all filling the one run store on the
            shared filesystem through its leases (vipar_lib/study/workers.py)

* **Resubmission.** A job is a :class:`submitit.helpers.Checkpointable`. On a timeout or a
  preemption SLURM sends SIGUSR2 (``--signal=USR2@90``, set by submitit); submitit's handler
  resubmits the same job (``checkpoint``) and exits. The exit is a ``SystemExit`` in the job, so
  every lease its workers hold is released, and the job that starts again finds in the run store
  what is finished (reused), what was in flight (resumed from ``last.pt``) and what is left.
  Nothing is carried in the job itself: the run store is the whole state. ``--max-resubmits``
  bounds the timeouts (preemptions do not count, as in submitit).
* **No SLURM.** Without ``--slurm`` the same jobs run through submitit's local executor: processes
  on this machine, with its timeout, signals and resubmission, and ``--nodes`` local jobs.
* The params travel as a file beside submitit's logs (``<log dir>/study.yaml``), so a resubmitted
  job plans exactly what the first one did.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import submitit
import yaml

from ..paper import TABLES

__all__ = ["StudyJob", "launch", "parse_time", "LaunchError"]


class LaunchError(ValueError):
    """A launcher setting that cannot work (no SLURM, a malformed time): one line."""


def parse_time(text: str) -> float:
    """``--time`` in minutes: ``90``, ``1:30:00``, ``30:00`` (MM:SS) or ``1-12:00:00`` (SLURM's D-HH:MM:SS)."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not m:
        raise LaunchError(f"--time={text!r}; expected minutes (90), HH:MM:SS or D-HH:MM:SS")
    d, a, b, c = (int(x) if x else None for x in m.groups())
    if b is None:                                   # minutes (or D-HH)
        minutes = a * 60 if d is not None else a
    elif c is None:                                 # MM:SS, or D-HH:MM
        minutes = a * 60 + b if d is not None else a + b / 60
    else:                                           # HH:MM:SS
        minutes = a * 60 + b + c / 60
    minutes += (d or 0) * 24 * 60
    if minutes <= 0:
        raise LaunchError(f"--time={text!r} must be more than zero")
    return minutes


class StudyJob(submitit.helpers.Checkpointable):
    """One job of the array: this node's workers on the study (resubmitted as it is on timeout/preemption)."""

    def __init__(self, study_file: str, tables: list[str], workers: int):
        self.study_file, self.tables, self.workers = study_file, list(tables), workers

    def __call__(self) -> dict:
        from .config import load_study
        from .execute import execute
        from .plan import plan_study
        env = submitit.JobEnvironment()
        if not os.environ.get("VIPAR_WORKER"):             # unset, or blank from the caller's environment
            os.environ["VIPAR_WORKER"] = f"job {env.job_id}"
        plan = plan_study(load_study(self.study_file))
        n = self.workers or "one per visible GPU (1 without)"
        print(f"job {env.job_id} on {env.hostname}: workers {n}, tables {' '.join(self.tables)}", flush=True)
        return execute(plan, self.tables, progress=False, say=lambda s: print(s, flush=True), workers=self.workers)


def launch(study, tables=TABLES, slurm: bool = False, nodes: int = 1, gpus_per_node: int = 0,
           workers_per_job: int = 0, time_min: float = 24 * 60, partition: str = "", max_resubmits: int = 3,
           cpus_per_task: int = 0, mem_gb: float = 0, extra: dict | None = None, log_dir: Path | None = None):
    """Submit ``nodes`` jobs running the study's workers; return ``(jobs, log folder)``."""
    from .workers import study_params
    missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None] if slurm else []
    if missing:
        raise LaunchError(f"--slurm: no SLURM on this machine ({' and '.join(missing)} not found); leave out --slurm "
                          "to run the workers through submitit's local executor")
    if nodes < 1 or gpus_per_node < 0 or workers_per_job < 0 or max_resubmits < 0:
        raise LaunchError(f"--nodes={nodes} must be >= 1; --gpus-per-node={gpus_per_node}, --workers-per-job="
                          f"{workers_per_job} and --max-resubmits={max_resubmits} >= 0")
    folder = Path(log_dir or study.runs_path / ".launch") / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    study_file = folder / "study.yaml"
    study_file.write_text(yaml.safe_dump(study_params(study), sort_keys=False))
    cluster = "slurm" if slurm else "local"
    ex = submitit.AutoExecutor(folder=folder, cluster=cluster, slurm_max_num_timeout=max_resubmits,
                               local_max_num_timeout=max_resubmits)
    params = {"name": f"vipar-{study.profile}", "timeout_min": max(1, int(round(time_min))) if slurm else time_min,
              "nodes": 1, "tasks_per_node": 1, "gpus_per_node": gpus_per_node}
    if cpus_per_task:
        params["cpus_per_task"] = cpus_per_task
    if mem_gb:
        params["mem_gb"] = mem_gb
    if slurm:
        params.update(slurm_array_parallelism=nodes, slurm_additional_parameters=dict(extra or {}))
        if partition:
            params["slurm_partition"] = partition
    ex.update_parameters(**params)
    workers = workers_per_job or gpus_per_node          # 0: one per visible GPU inside the job (1 without)
    with ex.batch():
        pending = [ex.submit(StudyJob(str(study_file), list(tables), workers)) for _ in range(nodes)]
    return pending, folder
