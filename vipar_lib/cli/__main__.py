"""``python -m vipar_lib.cli`` (used under ``torchrun``)."""
import sys

from .main import main

sys.exit(main())
