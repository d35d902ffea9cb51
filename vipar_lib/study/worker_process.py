"""One worker process of ``--workers N``: ``python -m vipar_lib.study.worker_process STUDY.yaml ...``.

Started by :func:`~vipar_lib.study.workers.run_workers` (one per worker, pinned to its GPU through
the environment); it runs the workers' loop with the executor's hooks and writes a summary.
SIGTERM and SIGUSR2 (SLURM's warning before a time limit or a preemption) end it through
``SystemExit``, so the leases it holds are released and the run it trains loses at most its epoch
in flight.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from ..paper import TABLES

__all__ = ["main"]


def _graceful(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    """``python -m vipar_lib.study.worker_process STUDY.yaml --tables ... --summary OUT.json``: one worker."""
    ap = argparse.ArgumentParser(prog="python -m vipar_lib.study.worker_process", description=main.__doc__)
    ap.add_argument("study", help="a study params file (as run_workers writes it)")
    ap.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES, help="tables to work for")
    ap.add_argument("--summary", default="", help="write what this worker did here (JSON)")
    a = ap.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGUSR2):
        signal.signal(sig, _graceful)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    from ..engine.errors import EngineError
    from ..typed import ConfigError
    from .config import load_study
    from .execute import HOOKS
    from .plan import plan_study
    from .workers import work
    try:
        plan = plan_study(load_study(a.study))
        done = work(plan, a.tables, progress=False, say=print, **HOOKS)
    except (EngineError, ConfigError, OSError) as e:             # one line, as the command line prints them
        print(f"error: {e}")
        return 2
    if a.summary:
        Path(a.summary).write_text(json.dumps(done))
    print(f"done: trained {len(done['trained'])} run(s), wrote {len(done['evaluated'])} logits file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
