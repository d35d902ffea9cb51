"""Study commands: ``vipar plan``, ``vipar run-study``, ``vipar reproduce``."""
from __future__ import annotations

import json
from pathlib import Path

from .models import parse_pairs
from .registry import JSON, arg, command

TABLES = ("table1", "table2", "table3", "table4")
PROFILE = arg("--profile", default="demo", help="params/<profile>.yaml (see params/), or a YAML path; default demo")
SET = arg("--set", action="append", metavar="KEY=VALUE", default=None,
          help="override a setting of the params file, e.g. --set epochs.base=5 --set dataset.root=/data/UCF-101")


@command("plan", "print what a profile trains and evaluates and what it will cost, before anything runs",
         PROFILE, SET, arg("--tables", nargs="+", choices=TABLES, default=list(TABLES), help="tables to plan for"),
         arg("--throughput", type=float, default=None, metavar="TFLOPS",
             help="sustained training throughput of your GPU in TFLOP/s (benchmarks/train_step.py measures it); "
                  "default: a stated assumption"),
         arg("--decode-workers", type=int, default=None, help="decoding processes (default: the profile's "
                                                              "data.workers)"),
         arg("--decode-rate", type=float, default=None, metavar="FPS",
             help="frames per CPU-second per decode worker of the profile's feed (default: the stored result of "
                  "benchmarks/data_pipeline.py --video CLIP --store)"), JSON)
def plan(a):
    from ..study import load_study, plan_study
    from ..study.cost import cost_plan, format_cost
    p = plan_study(load_study(a.profile, parse_pairs(a.set, "--set")))
    c = cost_plan(p, a.tables, a.throughput, a.decode_workers, a.decode_rate)
    print(json.dumps(c, indent=1) if a.json else format_cost(c))
    return 0


@command("run-study", "train and evaluate what a profile's tables need, without the notebooks",
         PROFILE, SET, arg("--tables", nargs="+", choices=TABLES, default=list(TABLES), help="tables to run"),
         arg("--workers", type=int, default=None, metavar="N",
             help="worker processes side by side on the run store (default: the profile's executor.workers; "
                  "0 = one per visible GPU, each pinned to it, more than the GPUs share them in turn; 1 without "
                  "CUDA). Several `vipar run-study` "
                  "started by hand on one run store cooperate the same way"))
def run_study(a):
    from ..study import load_study, plan_study
    from ..study.execute import execute
    from ..typed import ConfigError
    if a.workers is not None and a.workers < 0:
        raise ConfigError(f"--workers={a.workers}; allowed: 0 (one per visible GPU) or a positive number")
    p = plan_study(load_study(a.profile, parse_pairs(a.set, "--set")))
    done = execute(p, a.tables, say=print, workers=a.workers)
    print(f"trained {len(done['trained'])} run(s), reused {done['reused']}, "
          f"wrote {len(done['evaluated'])} logits file(s)")
    return 0


@command("reproduce", "run every notebook of a profile with papermill and render the HTML reports",
         PROFILE, SET,
         arg("--only", nargs="+", default=None, metavar="NOTEBOOK",
             help="run only these notebooks (e.g. 01_module_ablations)"),
         arg("--force", action="store_true", help="re-execute notebooks that completed before (runs are reused)"),
         arg("--reports-dir", type=Path, default=None,
             help="write reports to DIR/<profile> instead of reports/<profile>"),
         arg("--dry-run", action="store_true",
             help="the profile's full-size dry run: real models and clip geometry, 2+2+2 generated videos, one "
                  "optimisation step per run; its own run store (runs/dryrun-<profile>)"))
def reproduce(a):
    from ..report.runner import reproduce as run
    res = run(a.profile, only=a.only, force=a.force, reports_dir=a.reports_dir,
              overrides=parse_pairs(a.set, "--set"), dry_run=a.dry_run)
    if res["failed"]:
        print("failed notebooks:")
        for n, err in res["failed"].items():
            print(f"  {n}: {err}")
    if res.get("stale"):
        print(f"stale after this run (a later notebook rewrote their files): {' '.join(res['stale'])}; "
              f"run `vipar reproduce --profile {a.profile}` again")
    return 1 if res["failed"] or res.get("stale") else 0


@command("power", "which of the paper's findings can a study resolve, and at how many seeds (offline, seconds)",
         PROFILE, SET,
         arg("--seed-sd", action="append", metavar="KIND=SD", default=None,
             help="assumed between-seed SD of an effect, in points, per kind of comparison (models, views, "
                  "ensembles); overrides power.seed_sd of the params file"),
         arg("--release", type=Path, default=None, metavar="DIR",
             help="the authors' release (a clone of xdw1995/123 or a folder of its logits); default: release.dir, "
                  "else data/deepblue-release, else ../shared/deepblue-release"),
         arg("--lists", type=Path, default=None, metavar="DIR",
             help="official ucfTrainTestlist/ (test labels); default: release.lists, else dataset.lists, else "
                  "../shared/data/ucfTrainTestlist"), JSON)
def power(a):
    from ..report.power import format_power, power_analysis
    from ..study import load_study, plan_study
    from ..study.config import COMPARISONS
    from ..typed import ConfigError
    sd = parse_pairs(a.seed_sd, "--seed-sd") or {}
    bad = sorted(set(sd) - set(COMPARISONS))
    if bad:
        raise ConfigError(f"--seed-sd {bad[0]}: unknown kind; allowed: {list(COMPARISONS)}")
    for k, v in sd.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"--seed-sd {k}={v!r} must be a number >= 0")
    r = power_analysis(plan_study(load_study(a.profile, parse_pairs(a.set, "--set"))), sd, a.release, a.lists)
    print(json.dumps(r, indent=1) if a.json else format_power(r))
    return 0
