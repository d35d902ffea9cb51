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


@command("plan", "print what a profile trains and evaluates, before anything runs",
         PROFILE, SET, arg("--tables", nargs="+", choices=TABLES, default=list(TABLES), help="tables to plan for"),
         JSON)
def plan(a):
    from ..study import load_study, plan_study
    p = plan_study(load_study(a.profile, parse_pairs(a.set, "--set")))
    runs = p.runs_for(a.tables)
    reqs = p.requests(a.tables)
    rows = [{"name": r.name, "role": r.role, "model": r.config.model.name, "input": r.config.data.input_type,
             "frames": r.config.data.clip_len, "epochs": r.config.train.epochs, "needs": list(r.needs),
             "finished": (r.dir / "final.json").is_file(), "dir": str(r.dir)} for r in runs]
    have = sum(p.logits_path(q).is_file() for q in reqs)
    if a.json:
        print(json.dumps({"profile": p.study.profile, "runs": rows, "evaluations": len(reqs),
                          "evaluations_done": have}, indent=1))
        return 0
    print(f"profile {p.study.profile}: {len(runs)} runs, {len(reqs)} logits files ({have} in the run store)")
    print(f"{'run':28} {'role':12} {'model':14} {'input':5} {'T':>3} {'epochs':>6}  state")
    for r in rows:
        state = "finished" if r["finished"] else "to train"
        needs = f" (from {', '.join(r['needs'])})" if r["needs"] else ""
        print(f"{r['name']:28} {r['role']:12} {r['model']:14} {r['input']:5} {r['frames']:3d} {r['epochs']:6d}  "
              f"{state}{needs}")
    return 0


@command("run-study", "train and evaluate what a profile's tables need, without the notebooks",
         PROFILE, SET, arg("--tables", nargs="+", choices=TABLES, default=list(TABLES), help="tables to run"))
def run_study(a):
    from ..study import execute, load_study, plan_study
    p = plan_study(load_study(a.profile, parse_pairs(a.set, "--set")))
    done = execute(p, a.tables, say=print)
    print(f"trained {len(done['trained'])} run(s), reused {done['reused']}, "
          f"wrote {len(done['evaluated'])} logits file(s)")
    return 0


@command("reproduce", "run every notebook of a profile with papermill and render the HTML reports",
         PROFILE, SET,
         arg("--only", nargs="+", default=None, metavar="NOTEBOOK",
             help="run only these notebooks (e.g. 01_module_ablations)"),
         arg("--force", action="store_true", help="re-execute notebooks that completed before (runs are reused)"),
         arg("--reports-dir", type=Path, default=None,
             help="write reports to DIR/<profile> instead of reports/<profile>"))
def reproduce(a):
    from ..report.runner import reproduce as run
    res = run(a.profile, only=a.only, force=a.force, reports_dir=a.reports_dir,
              overrides=parse_pairs(a.set, "--set"))
    if res["failed"]:
        print("failed notebooks:")
        for n, err in res["failed"].items():
            print(f"  {n}: {err}")
        return 1
    return 0
