"""The paper's tables, transcribed (``paper_tables.yaml``), and the readings that map rows to configs."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

__all__ = ["paper_tables", "paper_rows", "recipe_members", "PAPER_CITATION"]

PAPER_CITATION = ("Luo, Xu, Zhang (DeepBlue Technology), \"Challenge report: VIPriors Action Recognition "
                  "Challenge\", 2020")


@lru_cache(maxsize=1)
def paper_tables() -> dict:
    text = resources.files("vipar_lib.report").joinpath("paper_tables.yaml").read_text()
    return yaml.safe_load(text)


def paper_rows(table: str) -> list[dict]:
    """Rows of ``table1`` .. ``table4`` (copies; each has ``id`` and the paper's ``acc``)."""
    tables = paper_tables()
    if table not in tables:
        raise KeyError(f"unknown table {table!r}; available: {sorted(tables)}")
    return [dict(r) for r in tables[table]["rows"]]


def recipe_members(recipe: dict) -> list[tuple[int, float]]:
    """Table-4 recipe -> [(Table-3 row id, weight)] under our reading (see ``paper_tables.yaml``)."""
    out = []
    for r in paper_rows("table3"):
        if r["network"] in recipe["networks"] and r["interval"] in recipe["intervals"] and r["view"] in recipe["views"]:
            out.append((r["id"], float(recipe["views"][r["view"]])))
    return out
