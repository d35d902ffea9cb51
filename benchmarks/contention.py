"""The demo's Table 1 alone and beside other CPU-bound processes, in one run (issue #18 item 5).

    python benchmarks/contention.py                      # the whole demo Table 1, OpenMP wait policy as vipar sets it
    python benchmarks/contention.py --policy default     # GNU OpenMP's own (spinning) policy, for comparison
    python benchmarks/contention.py --quick --json       # fewer epochs (minutes), one JSON line at the end

Each measurement trains and evaluates what Table 1 needs (``vipar run-study --profile demo --tables
table1``) into a fresh run store in a temporary folder: first on its own, then while ``--busy`` pure-Python
busy loops run beside it. The data are generated before the clock starts. It prints both wall times and
their ratio (goal: <= 3x on the project's 2-core machine, issue #18).

Why the demo slowed 11x (issue #18): torch's CPU ops run on GNU OpenMP threads, one per core, and
libgomp's default wait policy lets an idle thread *spin* before sleeping. With another process on the
two cores, the spinning thread burns the time slices the working thread and the other process need, and
every parallel region then waits for a descheduled thread. ``vipar_lib/__init__.py`` sets, before torch
loads and unless the user set a policy, a *bounded* spin (``OMP_WAIT_POLICY=ACTIVE``,
``GOMP_SPINCOUNT=2000``): idle threads spin for a few microseconds, then sleep. Sleeping at once
(``--policy passive``) is as robust but ~1.8x slower on a quiet machine. The thread count, and so every
result, stays the same. Decoders use one thread each (decord ``num_threads=1``,
PyAV ``thread_count=1``) and DataLoader workers one torch thread, so workers never oversubscribe the cores.
Only ratios from one run mean anything on shared cores: take final figures on an otherwise quiet machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VIPAR = [sys.executable, "-m", "vipar_lib.cli"]


def _env(policy: str) -> dict:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None)
    if policy == "default":
        env["OMP_WAIT_POLICY"] = ""          # present but empty: vipar leaves it, libgomp uses its own default
    elif policy != "vipar":
        env["OMP_WAIT_POLICY"] = policy.upper()
    return env


def _table1(runs: Path, profile: str, quick: bool, env: dict) -> float:
    cmd = VIPAR + ["run-study", "--profile", profile, "--tables", "table1", "--set", f"runs_dir={runs}"]
    if quick:
        cmd += ["--set", "epochs.base=4", "--set", "epochs.finetune=2"]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="demo", help="profile whose Table 1 is trained (default demo)")
    ap.add_argument("--busy", type=int, default=1, help="CPU-bound processes beside the second measurement")
    ap.add_argument("--policy", default="vipar", choices=("vipar", "default", "passive", "active"),
                    help="OpenMP wait policy: vipar's (a spin of 2000, then sleep), libgomp's default, or forced")
    ap.add_argument("--quick", action="store_true", help="epochs.base=4, epochs.finetune=2 (minutes, not the table)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    a = ap.parse_args()
    env = _env(a.policy)
    subprocess.run([sys.executable, "-c", "from vipar_lib.study import load_study; from vipar_lib.study.execute "
                    f"import prepare_data; prepare_data(load_study({a.profile!r}), progress=False)"],
                   cwd=REPO, env=env, check=True)
    with tempfile.TemporaryDirectory(prefix="vipar-contention-") as tmp:
        load0 = os.getloadavg()[0]
        quiet = _table1(Path(tmp) / "quiet", a.profile, a.quick, env)
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.busy)]
        try:
            contended = _table1(Path(tmp) / "busy", a.profile, a.quick, env)
        finally:
            for p in busy:
                p.kill()
                p.wait()
    out = {"profile": a.profile, "tables": "table1", "quick": a.quick, "policy": a.policy,
           "omp_wait_policy": env.get("OMP_WAIT_POLICY", "ACTIVE, GOMP_SPINCOUNT=2000 (vipar)"),
           "busy_processes": a.busy,
           "quiet_s": round(quiet, 1), "contended_s": round(contended, 1), "ratio": round(contended / quiet, 2),
           "cpus": os.cpu_count(), "load_average_before": round(load0, 2)}
    policy = out["omp_wait_policy"] or "libgomp default"
    print(f"{a.profile} Table 1{' (quick)' if a.quick else ''}, OpenMP wait policy {policy}: "
          f"alone {quiet:.0f} s, beside {a.busy} CPU-bound process(es) {contended:.0f} s: {out['ratio']:.2f}x "
          f"(goal <= 3x); {out['cpus']} CPUs, load average {load0:.1f} before the first run")
    if a.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
