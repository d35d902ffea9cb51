import json
import re

import nbformat
import numpy as np
import pytest

from vipar_lib.logits import LogitsFile
from vipar_lib.paper import findings, paper_rows, recipe_members, table_meta
from vipar_lib.report.results import warm_starts
from vipar_lib.report.runner import NOTEBOOKS, notebook_ok, read_status, reproduce
from vipar_lib.report.tables import compare_table, decimals, result_row, style_table
from vipar_lib.study import load_study, plan_study
from vipar_lib.typed import ConfigError


def test_paper_transcription_is_complete():
    assert [len(paper_rows(t)) for t in ("table1", "table2", "table3", "table4")] == [8, 8, 22, 4]
    assert {r["id"]: r["acc"] for r in paper_rows("table1")}["T1.7"] == 73.5
    assert max(r["acc"] for r in paper_rows("table4")) == 87.6
    assert [i for i, _ in recipe_members(paper_rows("table4")[0])] == [1, 2, 3, 4, 5, 6, 8]
    e3 = dict(recipe_members(paper_rows("table4")[2]))
    assert e3[1] == 2 and e3[15] == 2 and e3[5] == 1 and e3[11] == 2 and 21 in e3
    # findings are data: every one names two rows that exist
    ids = {t: {r["id"] for r in paper_rows(t)} | {"best"} for t in ("table1", "table2", "table3", "table4")}
    for f in findings():
        for ref in (f["a"], f["b"]):
            t, rid = ref.split(":")
            assert (int(rid) if rid.isdigit() else rid) in ids[t], f
    assert table_meta("table1")["reference"] == "T1.1"


def _lf(correct):
    labels = np.arange(len(correct)) % 3
    logits = np.eye(3)[np.where(correct, labels, (labels + 1) % 3)]
    return LogitsFile(np.array([f"v{i:04d}" for i in range(len(correct))]), labels, logits.astype(np.float32), {})


def test_compare_table_marks_unresolved_differences():
    rng = np.random.default_rng(0)
    ref = _lf(rng.random(300) < 0.5)
    same = _lf(rng.random(300) < 0.5)            # no real difference
    better = _lf(np.ones(300, bool))
    worse = _lf(np.zeros(300, bool))
    logits = {"A": ref, "B": same, "C": better, "D": worse}
    rows = [result_row(k, k, p, v, 1_000_000, 1.5, n_boot=300)
            for (k, v), p in zip(logits.items(), (70.0, 70.6, 73.1, 71.0))]
    df = compare_table(rows, logits, "A", n_boot=300)
    assert list(df["resolved"]) == ["reference", "not resolved (single run)", "yes (single run)", "yes (single run)"]
    assert list(df["agrees"]) == ["", "", "yes", "no"]              # D is resolved against the paper
    assert df.loc[1, "paper_effect"] == pytest.approx(0.6)
    assert df.loc[2, "run"] == 100.0 and df.loc[2, "ci_low"] == 100.0
    assert 0 <= df.loc[0, "ci_low"] <= df.loc[0, "run"] <= df.loc[0, "ci_high"] <= 100
    html = style_table(df, "T", synthetic=True, chance=33.3).to_html()
    assert "paper: top-1 (%)" in html and "95% CI" in html and "not resolved" in html
    assert "yes (−, against the paper) — single run" in html and "yes (+, as the paper) — single run" in html
    assert "one seed per row (single run)" in html and "test videos" in html
    assert "chance = 33.3%" in html and "run − paper" not in html            # synthetic: effects, not run − paper
    assert "run − paper" in style_table(df, "T", synthetic=False).to_html()
    assert "row_heading" not in html                                         # no index column


def test_rounding_follows_interval_width():
    assert [decimals(w) for w in (25.0, 9.9, 1.0, 0.4, 0.0, float("nan"))] == [0, 1, 1, 2, 1, 0]


@pytest.mark.slow
def test_reproduce_smoke_writes_linked_html_reports(smoke_reports):
    res, out = smoke_reports                 # reproduce("smoke") once per session (conftest), shared with test_pages
    assert res["failed"] == {}, res["failed"]
    index = (out / "index.html").read_text()
    links = re.findall(r"href='([^']+\.html)'", index)
    assert links == [f"{n}.html" for n in NOTEBOOKS]
    assert all((out / link).is_file() for link in links)
    assert "Synthetic data" in index and "Headline" in index and "All rows (Tables 1–4)" in index
    for n in NOTEBOOKS:
        page = (out / f"{n}.html").read_text()
        assert "Profile: <code>smoke</code>" in page and "Synthetic data" in page, n
        assert "Traceback" not in page and "PosixPath" not in page, n
        for img in re.findall(r"<img [^>]*>", page):
            assert re.search(r'alt="[^"]{20,}"', img), (n, img[:80])
    for n, t in zip(NOTEBOOKS[1:5], ("table1", "table2", "table3", "table4")):
        page = (out / f"{n}.html").read_text()
        assert "paper: top-1 (%)" in page and "chance =" in page, n
        assert (out / f"{t}.csv").is_file() and f"{t}.csv" in index
        # synthetic accuracies are never set against UCF101's, on the page or in the CSV
        assert "run − paper" not in page and "run_minus_paper" not in (out / f"{t}.csv").read_text().splitlines()[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["profile"] == "smoke" and summary["synthetic"] is True and summary["chance"] == 25.0
    assert {r["table"] for r in summary["rows"]} == {"table1", "table2", "table3", "table4"}
    for r in summary["rows"]:
        assert 0 <= r["run"] <= 100 and r["ci_low"] <= r["run"] <= r["ci_high"]
        assert r["paper"] > 60                                 # the paper's column is there
    assert summary["tally"]["findings"] == len(findings())
    cc = summary["central_claim"]                                # RGB + residual frames, checked on Table 3's rows
    assert sum(cc["cells"].values()) == cc["videos"] > 0
    for name in ("rgb", "diff"):
        assert cc["gains"][name]["low"] <= cc["gains"][name]["gain"] <= cc["gains"][name]["high"]
        assert cc["gains"][name]["gain"] == pytest.approx(cc["accuracy"]["sum"] - cc["accuracy"][name], abs=1e-6)
    pngs = {p.name for p in (out / "figures").glob("*.png")}
    assert {"table1_effects.png", "table2_cost.png", "table3_views.png", "table4_greedy.png"} <= pngs
    status = read_status(out)
    assert all(status[n]["status"] == "ok" for n in NOTEBOOKS)
    # every page is one unit (#21): the summary rewrites the tables' CSVs and figures with the same bytes, so a
    # second reproduce keeps all seven pages
    again = reproduce("smoke", reports_dir=out.parent, log=lambda *a: None)
    assert again["ran"] == [] and again["ok"] == list(NOTEBOOKS), again["status"]
    # what each fine-tuned row took from its base is on the page, read from the run store
    plan = plan_study(load_study("smoke"))
    warm = {w["row"]: w for w in warm_starts(plan, "table1")}
    assert set(warm) == {str(r.id) for r in plan.rows["table1"]}
    assert warm["T1.1"]["fresh"] == 0 and warm["T1.1"]["loaded"] > 0      # the base row: nothing new
    assert warm["T1.4"]["fresh"] == 0                                       # ELU+POOL adds no parameter
    assert warm["T1.2"]["fresh"] > 0                                        # the non-local blocks start fresh
    assert "Warm starts" in (out / "01_module_ablations.html").read_text()


def test_reproduce_refuses_a_params_typo_before_running(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epochs.bse'\]"):
        reproduce("smoke", overrides={"epochs": {"bse": 1}}, reports_dir=tmp_path, log=lambda *a: None)
    assert not (tmp_path / "smoke").exists()


def _notebook(path, source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "smoke"\noverrides = {}', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_a_failed_notebook_reruns_and_only_keeps_other_rows(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "a.ipynb", "print('fine')")
    _notebook(nbs / "b.ipynb", "raise RuntimeError('boom in b')")
    kw = dict(reports_dir=tmp_path / "rep", notebooks_dir=nbs, notebooks=("a", "b"), log=lambda *a: None)
    res = reproduce("smoke", **kw)
    assert res["ok"] == ["a"] and "boom in b" in res["failed"]["b"]
    out = tmp_path / "rep" / "smoke"
    assert notebook_ok(out / "b.ipynb") == (False, "RuntimeError: boom in b")
    # a rerun does not take the kept failed notebook for done
    res = reproduce("smoke", **kw)
    assert "b" in res["failed"] and read_status(out)["b"]["status"] == "failed"
    index = (out / "index.html").read_text()
    assert "failed: RuntimeError: boom in b" in index
    # fixed, rerun with --only b: b turns ok and a's row stays
    _notebook(nbs / "b.ipynb", "print('fixed')")
    res = reproduce("smoke", only=["b"], **kw)
    assert res["failed"] == {} and res["ok"] == ["b"]
    status = read_status(out)
    assert status["a"]["status"] == "ok" and status["b"]["status"] == "ok"
    index = (out / "index.html").read_text()
    assert "a.html" in index and "b.html" in index and "failed:" not in index
