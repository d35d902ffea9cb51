"""The interpretation table: where the paper's text, the authors' release and vipar can differ.

The rows are data (``vipar_lib/interpretation.yaml``). The summary report shows them
(:func:`show`); the README holds the same table (:func:`markdown`, kept equal by a test).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd
import yaml

__all__ = ["interpretation", "frame", "markdown", "show", "README_BEGIN", "README_END"]

README_BEGIN = "<!-- interpretation table: generated from vipar_lib/interpretation.yaml; do not edit by hand -->"
README_END = "<!-- end of interpretation table -->"


@lru_cache(maxsize=1)
def interpretation() -> dict:
    return yaml.safe_load(resources.files("vipar_lib").joinpath("interpretation.yaml").read_text())


def frame() -> pd.DataFrame:
    d = interpretation()
    return pd.DataFrame([{label: row[key] for key, label in d["columns"].items()} for row in d["rows"]])


def markdown() -> str:
    """The table as GitHub markdown, between the README markers."""
    df = frame()
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([README_BEGIN, *lines, README_END])


def show(caption: str = "Where the paper's text, the authors' release and vipar can differ"):
    from IPython.display import display
    sty = frame().style.hide(axis="index").set_caption(caption)
    display(sty.set_properties(**{"text-align": "left", "vertical-align": "top", "font-size": "90%"}))
