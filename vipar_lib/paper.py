"""The paper's tables and findings, transcribed (``paper_tables.yaml``): data, read by the planner and the reports.

Luo, Xu, Zhang (DeepBlue Technology), "Challenge report: VIPriors Action Recognition Challenge",
2020 (``shared/paper/``). Each table row holds the paper's accuracy and what vipar builds for it;
``findings`` lists the paper's claims as comparisons of two rows.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

__all__ = ["paper_tables", "paper_rows", "table_meta", "recipe_members", "findings", "row_ref", "central_claim",
           "PAPER_CITATION", "TABLES"]

PAPER_CITATION = ("Luo, Xu, Zhang (DeepBlue Technology), \"Challenge report: VIPriors Action Recognition "
                  "Challenge\", 2020")
TABLES = ("table1", "table2", "table3", "table4")


@lru_cache(maxsize=1)
def paper_tables() -> dict:
    text = resources.files("vipar_lib").joinpath("paper_tables.yaml").read_text()
    return yaml.safe_load(text)


def table_meta(table: str) -> dict:
    """A table's caption, reference and other table-level fields (no rows)."""
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; available: {list(TABLES)}")
    return {k: v for k, v in paper_tables()[table].items() if k != "rows"}


def paper_rows(table: str) -> list[dict]:
    """Rows of ``table1`` .. ``table4`` (copies; each has ``id`` and the paper's ``acc``)."""
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; available: {list(TABLES)}")
    return [dict(r) for r in paper_tables()[table]["rows"]]


def recipe_members(recipe: dict) -> list[tuple[int, float]]:
    """Table-4 recipe -> [(Table-3 row id, weight)] under our reading (see ``paper_tables.yaml``)."""
    out = []
    for r in paper_rows("table3"):
        if r["network"] in recipe["networks"] and r["interval"] in recipe["intervals"] and r["view"] in recipe["views"]:
            out.append((r["id"], float(recipe["views"][r["view"]])))
    return out


def row_ref(ref: str) -> tuple[str, str | int]:
    """``"table3:7"`` -> ``("table3", 7)``; ``"table4:best"`` -> ``("table4", "best")``."""
    table, _, rid = ref.partition(":")
    if table not in TABLES or not rid:
        raise ValueError(f"bad row reference {ref!r}; expected '<table>:<row id>' or '<table>:best'")
    return table, int(rid) if rid.isdigit() else rid


def findings(table: str | None = None, headline: bool | None = None) -> list[dict]:
    """The paper's findings (copies), optionally those of one table or the headline ones."""
    out = [dict(f) for f in paper_tables()["findings"]]
    if table is not None:
        out = [f for f in out if f["table"] == table]
    if headline is not None:
        out = [f for f in out if bool(f.get("headline")) == headline]
    return out


def central_claim() -> dict:
    """The rows the paper's central claim (RGB + residual frames) is checked on, and the claim's words."""
    return dict(paper_tables()["central_claim"])
