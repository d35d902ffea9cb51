"""The ``vipar`` command line (entry point :func:`main`); commands live in the modules of this package."""
from .main import build_parser, main

__all__ = ["main", "build_parser"]
