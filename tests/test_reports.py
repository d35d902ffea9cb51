import json
import re

import numpy as np
import pytest

from vipar_lib.logits import LogitsFile
from vipar_lib.report.paper import paper_rows, recipe_members
from vipar_lib.report.runner import NOTEBOOKS, reproduce
from vipar_lib.report.tables import compare_table, result_row, style_table


def test_paper_transcription_is_complete():
    assert [len(paper_rows(t)) for t in ("table1", "table2", "table3", "table4")] == [8, 8, 22, 4]
    assert {r["id"]: r["acc"] for r in paper_rows("table1")}["T1.7"] == 73.5
    assert max(r["acc"] for r in paper_rows("table4")) == 87.6
    assert [i for i, _ in recipe_members(paper_rows("table4")[0])] == [1, 2, 3, 4, 5, 6, 8]
    e3 = dict(recipe_members(paper_rows("table4")[2]))
    assert e3[1] == 2 and e3[15] == 2 and e3[5] == 1 and e3[11] == 2 and 21 in e3


def _lf(correct):
    labels = np.arange(len(correct)) % 3
    logits = np.eye(3)[np.where(correct, labels, (labels + 1) % 3)]
    return LogitsFile(np.array([f"v{i:04d}" for i in range(len(correct))]), labels, logits.astype(np.float32), {})


def test_compare_table_marks_unresolved_differences():
    rng = np.random.default_rng(0)
    ref = _lf(rng.random(300) < 0.5)
    same = _lf(rng.random(300) < 0.5)            # no real difference
    better = _lf(np.ones(300, bool))
    logits = {"A": ref, "B": same, "C": better}
    rows = [result_row(k, k, p, v, 1_000_000, 1.5, n_boot=300) for (k, v), p in zip(logits.items(), (70.0, 70.6, 73.1))]
    df = compare_table(rows, logits, "A", n_boot=300)
    assert list(df["resolved"]) == ["reference", "not resolved", "yes"]
    assert df.loc[1, "paper_vs_ref"] == pytest.approx(0.6)
    assert df.loc[2, "run"] == 100.0 and df.loc[2, "ci_low"] == 100.0
    assert 0 <= df.loc[0, "ci_low"] <= df.loc[0, "run"] <= df.loc[0, "ci_high"] <= 100
    html = style_table(df, "T").to_html()
    assert "paper acc (%)" in html and "95% CI" in html and "not resolved" in html


@pytest.mark.slow
def test_reproduce_smoke_writes_linked_html_reports(tmp_path):
    res = reproduce("smoke", reports_dir=tmp_path, log=lambda *a: None)
    assert res["failed"] == {}, res["failed"]
    out = tmp_path / "smoke"
    index = (out / "index.html").read_text()
    links = re.findall(r"href='([^']+)'", index)
    assert links == [f"{n}.html" for n in NOTEBOOKS]
    assert all((out / l).is_file() for l in links)
    assert "Synthetic data" in index and "Headline results" in index
    for n in NOTEBOOKS:
        page = (out / f"{n}.html").read_text()
        assert "Profile: <code>smoke</code>" in page and "Synthetic data" in page, n
        assert "Traceback" not in page
    for n in NOTEBOOKS[1:5]:
        assert "paper acc (%)" in (out / f"{n}.html").read_text(), n
    summary = json.loads((out / "summary.json").read_text())
    assert summary["profile"] == "smoke" and summary["synthetic"] is True
    assert {r["table"] for r in summary["rows"]} == {"Table 1", "Table 2", "Table 4"}
    for r in summary["rows"]:
        assert 0 <= r["run"] <= 100 and r["ci_low"] <= r["run"] <= r["ci_high"]
        assert r["paper"] > 60                                 # the paper's column is there
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert {"table1_bars.png", "table2_cost.png", "table3_views.png", "table4_greedy.png"} <= set(pngs)


def test_reproduce_reports_a_params_typo(tmp_path):
    params = tmp_path / "params" / "smoke"
    params.mkdir(parents=True)
    (params / "00_data.yaml").write_text("profile: smoke\nrun_dir: runs/x\n")
    res = reproduce("smoke", only=["00_data"], reports_dir=tmp_path / "reports", params_dir=tmp_path / "params",
                    log=lambda *a: None)
    assert "unknown parameter(s) ['run_dir']" in res["failed"]["00_data"] and "runs_dir" in res["failed"]["00_data"]
    assert (tmp_path / "reports" / "smoke" / "index.html").is_file()
