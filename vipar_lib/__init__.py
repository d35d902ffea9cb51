"""vipar: a reproducibility study of the DeepBlue VIPriors 2020 action-recognition report."""
import os
from pathlib import Path

# OpenMP threads that have no work sleep instead of spinning (GNU OpenMP spins by default). Read once, when
# torch loads libgomp, so it is set here, before anything imports torch; a value the user set wins. On shared
# cores the spinning made the demo's Table 1 ~11x slower beside one other CPU-bound process (issue #18;
# benchmarks/contention.py measures it). It changes no result: the thread count is the same.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
