"""Commands for a study in flight: ``vipar launch`` (submitit jobs of workers) and ``vipar status``."""
from __future__ import annotations

import json

from .models import parse_pairs
from .registry import JSON, arg, command
from .study import PROFILE, SET, TABLES


@command("status", "what a study's run store holds: runs done, held (by whom, since when), queued and blocked, "
                   "and an ETA", PROFILE, SET,
         arg("--tables", nargs="+", choices=TABLES, default=list(TABLES), help="tables to report on"),
         arg("--workers", type=int, default=None, metavar="N",
             help="workers to assume for the ETA (default: the processes holding leases now, at least 1)"),
         arg("--throughput", type=float, default=None, metavar="TFLOPS",
             help="TFLOP/s for runs nothing has been measured for yet (default: the cost plan's assumption)"), JSON)
def status(a):
    from ..study import load_study, plan_study
    from ..study.status import format_status, study_status
    from ..typed import ConfigError
    if a.workers is not None and a.workers < 1:
        raise ConfigError(f"--workers={a.workers}; allowed: a positive number")
    s = study_status(plan_study(load_study(a.profile, parse_pairs(a.set, "--set"))), a.tables, a.workers,
                     a.throughput)
    print(json.dumps(s, indent=1) if a.json else format_status(s))
    return 0


@command("launch", "run a study's workers as submitit jobs: a SLURM job array (--slurm), or local jobs without "
                   "SLURM; jobs are resubmitted on timeout or preemption and resume from the run store",
         PROFILE, SET, arg("--tables", nargs="+", choices=TABLES, default=list(TABLES), help="tables to run"),
         arg("--slurm", action="store_true", help="submit to SLURM (default: submitit's local executor, this machine)"),
         arg("--partition", default="", help="SLURM partition"),
         arg("--nodes", type=int, default=1, help="jobs in the array, one node each (default 1)"),
         arg("--gpus-per-node", type=int, default=0, help="GPUs per job; one worker per GPU (default 0: CPU)"),
         arg("--workers-per-job", type=int, default=0,
             help="worker processes per job (default: --gpus-per-node, or one per visible GPU, 1 without)"),
         arg("--time", default="24:00:00", help="time limit per job: minutes, HH:MM:SS or D-HH:MM:SS (default 24 h)"),
         arg("--cpus-per-task", type=int, default=0, help="CPUs per job (decoding workers; default: the cluster's)"),
         arg("--mem-gb", type=float, default=0, help="memory per job in GB (default: the cluster's)"),
         arg("--max-resubmits", type=int, default=3, help="resubmissions after a timeout (preemptions are not "
                                                          "counted; default 3)"),
         arg("--slurm-arg", action="append", default=None, metavar="KEY=VALUE",
             help="any other sbatch option, e.g. --slurm-arg account=proj --slurm-arg qos=high"),
         arg("--log-dir", default=None, help="submitit's folder (default <runs_dir>/.launch/<time>); on a "
                                             "shared filesystem for SLURM"),
         arg("--no-wait", action="store_true", help="return after submitting (the default waits for the jobs)"))
def launch(a):
    from pathlib import Path

    from ..study import load_study
    from ..study.launch import LaunchError, parse_time
    from ..study.launch import launch as submit
    from ..typed import ConfigError
    try:
        study = load_study(a.profile, parse_pairs(a.set, "--set"))
        jobs, folder = submit(study, a.tables, slurm=a.slurm, nodes=a.nodes, gpus_per_node=a.gpus_per_node,
                              workers_per_job=a.workers_per_job, time_min=parse_time(a.time),
                              partition=a.partition, max_resubmits=a.max_resubmits, cpus_per_task=a.cpus_per_task,
                              mem_gb=a.mem_gb, extra=parse_pairs(a.slurm_arg, "--slurm-arg"),
                              log_dir=Path(a.log_dir) if a.log_dir else None)
    except LaunchError as e:
        raise ConfigError(str(e)) from None
    where = "SLURM" if a.slurm else "submitit's local executor"
    print(f"submitted {len(jobs)} job(s) to {where}: {', '.join(j.job_id for j in jobs)}; logs in {folder}")
    print(f"follow the study with: vipar status --profile {a.profile}"
          + "".join(f" --set {s}" for s in a.set or []))
    if a.no_wait:
        return 0
    failed = []
    for j in jobs:
        try:
            done = j.result()
            print(f"job {j.job_id}: trained {len(done['trained'])} run(s), wrote {len(done['evaluated'])} "
                  f"logits file(s)")
        except Exception as e:                       # submitit re-raises the job's error with its traceback
            failed.append(j.job_id)
            print(f"job {j.job_id} failed: {str(e).strip().splitlines()[-1] if str(e).strip() else e!r} "
                  f"(log: {j.paths.stdout})")
    return 1 if failed else 0
