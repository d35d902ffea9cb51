"""vipar: a reproducibility study of the DeepBlue VIPriors 2020 action-recognition report."""
import os
from pathlib import Path

# OpenMP threads that run out of work spin briefly, then sleep. GNU OpenMP's default spins ~300,000 times
# before sleeping: on shared cores that made the demo's Table 1 ~11x slower beside one other CPU-bound process
# (issue #18). Sleeping at once (OMP_WAIT_POLICY=PASSIVE) fixes that but costs ~1.8x on a quiet machine, where
# the small ops of the demo's models hand work between threads thousands of times a second. A bounded spin of
# 2,000 keeps the quiet speed (0.9-1.1 s against 1.7 s per demo epoch) and stays within ~2.5x beside a busy
# process (benchmarks/contention.py measures it). Read once, when torch loads libgomp, so it is set here,
# before anything imports torch; a policy the user set wins (and then the spin count is theirs too). It
# changes no result: the thread count is the same.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "ACTIVE"
    os.environ.setdefault("GOMP_SPINCOUNT", "2000")

__version__ = "0.1.0"
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
