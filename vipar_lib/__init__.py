"""vipar: a reproducibility study of the DeepBlue VIPriors 2020 action-recognition report."""
from pathlib import Path

__version__ = "0.1.0"
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
