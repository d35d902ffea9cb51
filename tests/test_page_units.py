"""#21: a page, its CSVs and figures are one unit; reproduce and the index know the settings that made each page."""
import html
import json

import papermill as pm
import pytest
from test_reports import _notebook

from vipar_lib.report.runner import read_status, reproduce
from vipar_lib.typed import ConfigError

# a page like the tables' notebooks: a CSV and a figure under reports/<profile>/, and the number on the page
PAGE = """from vipar_lib.report import pages
plan = pages.open_study(profile, overrides, globals())
out = plan.study.reports_path
(out / "figures").mkdir(parents=True, exist_ok=True)
(out / "{csv}").write_text(f"row,finetune\\nT1.2,{{plan.study.epochs.finetune}}\\n")
(out / "figures" / "{csv}.png").write_bytes(b"png " + str(plan.study.epochs.finetune).encode())
print("T1.2 finetune =", plan.study.epochs.finetune)"""


@pytest.fixture
def pages_env(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "a.ipynb", PAGE.format(csv="table1.csv"))
    _notebook(nbs / "b.ipynb", PAGE.format(csv="table1.csv"))      # b also writes table1.csv, as 05_summary does
    kw = dict(reports_dir=tmp_path / "rep", notebooks_dir=nbs, notebooks=("a", "b"), log=lambda *a: None)
    return kw, tmp_path / "rep" / "smoke", nbs


def _shown(out, name):
    return [ln for ln in (out / f"{name}.html").read_text().splitlines() if "T1.2 finetune =" in ln]


def test_reproduce_reruns_a_page_whose_settings_changed_and_refuses_bad_settings_first(pages_env):
    """Case 1: --set after a reproduce reruns the page; an invalid --set fails before anything runs."""
    kw, out, _ = pages_env
    assert reproduce("smoke", **kw)["ran"] == ["a", "b"]
    first = read_status(out)
    assert first["a"]["settings"] == first["b"]["settings"] and first["a"]["overrides"] == {"reports_dir": str(out)}
    assert {"table1.csv", "figures/table1.csv.png", "a.html", "a.ipynb"} <= set(first["a"]["unit"])
    res = reproduce("smoke", **kw)                                   # nothing changed: both kept
    assert res["ran"] == [] and res["ok"] == ["a", "b"]
    res = reproduce("smoke", overrides={"epochs": {"finetune": 3}}, only=["a"], **kw)
    assert res["ran"] == ["a"] and res["stale"] == ["b"] and res["ok"] == ["a"]        # b: not a success
    st = read_status(out)
    assert st["a"]["settings"] != first["a"]["settings"] and st["a"]["overrides"]["epochs"] == {"finetune": 3}
    assert (out / "table1.csv").read_text().endswith("T1.2,3\n") and "3" in _shown(out, "a")[0]
    # b's table1.csv was rewritten by a: b is stale, on its page and in the index
    assert st["b"]["status"] == "stale" and "table1.csv" in st["b"]["stale"] and "was rewritten" in st["b"]["stale"]
    assert "Out of date." in (out / "b.html").read_text()
    index = html.unescape((out / "index.html").read_text())
    assert "stale: figures/table1.csv.png was rewritten" in index and '"finetune": 3' in index
    stamp = (out / "status.json").read_text()
    with pytest.raises(ConfigError, match=r"dataset.classes=500 must be >= 1 and <= 16"):
        reproduce("smoke", overrides={"dataset": {"classes": 500}}, only=["a"], **kw)
    assert (out / "status.json").read_text() == stamp
    res = reproduce("smoke", overrides={"epochs": {"finetune": 3}}, **kw)   # b reruns; a is current
    assert res["ran"] == ["b"] and "Out of date." not in (out / "b.html").read_text()


def test_a_papermill_run_outside_reproduce_marks_the_pages_it_rewrote_stale(pages_env, tmp_path):
    """Case 2: the README's papermill form with other settings rewrites the CSV: the old page is marked stale at
    once (banner, status, index), and the next reproduce renders it again."""
    kw, out, nbs = pages_env
    assert reproduce("smoke", only=["a"], **kw)["ran"] == ["a"]
    assert "1" in _shown(out, "a")[0]
    same = {"reports_dir": str(out)}
    pm.execute_notebook(str(nbs / "a.ipynb"), str(tmp_path / "o.ipynb"), progress_bar=False,
                        parameters={"profile": "smoke", "overrides": same})
    assert read_status(out)["a"]["status"] == "ok"                # the same settings write the same bytes
    pm.execute_notebook(str(nbs / "a.ipynb"), str(tmp_path / "o.ipynb"), progress_bar=False,
                        parameters={"profile": "smoke", "overrides": {**same, "epochs": {"finetune": 2}}})
    assert (out / "table1.csv").read_text().endswith("T1.2,2\n")
    st = read_status(out)["a"]
    assert st["status"] == "stale" and "table1.csv" in st["stale"] and "was rewritten" in st["stale"]
    page = (out / "a.html").read_text()
    assert "Out of date." in page and "vipar reproduce --profile smoke --only a" in page
    assert "stale: figures/table1.csv.png was rewritten" in html.unescape((out / "index.html").read_text())
    res = reproduce("smoke", only=["a"], **kw)
    assert res["ran"] == ["a"] and read_status(out)["a"]["status"] == "ok"
    assert (out / "table1.csv").read_text().endswith("T1.2,1\n") and "Out of date." not in (out / "a.html").read_text()
    assert json.loads((out / "status.json").read_text())["a"]["unit"]["table1.csv"][0]


def test_a_page_rendered_by_other_code_is_rendered_again(pages_env, monkeypatch):
    """Same settings, same files, but the notebook or vipar's package changed: the page reruns and says why."""
    from vipar_lib.report import runner
    kw, out, nbs = pages_env
    assert reproduce("smoke", **kw)["ran"] == ["a", "b"]
    code = read_status(out)["a"]["code"]
    assert len(code) == 12 and code == runner.code_fingerprint(nbs / "a.ipynb")
    _notebook(nbs / "a.ipynb", PAGE.format(csv="table1.csv") + "\nprint('edited')")
    said = []
    res = reproduce("smoke", **{**kw, "log": said.append})
    assert res["ran"] == ["a"] and read_status(out)["a"]["code"] != code              # b's notebook is unchanged
    assert any("vipar's code or the notebook changed" in s for s in said)
    monkeypatch.setattr(runner, "_package_digest", lambda: "another version of vipar_lib")
    assert reproduce("smoke", **kw)["ran"] == ["a", "b"]
    assert reproduce("smoke", **kw)["ran"] == []


def test_a_page_is_rendered_again_when_the_release_folder_or_the_dataset_changes(pages_env, tmp_path):
    """Same settings and code, other inputs: the released files appear (the page had said they were missing),
    or the run hashes change with the dataset's identity."""
    from vipar_lib.report import runner
    from vipar_lib.study import load_study
    kw, out, _ = pages_env
    rel = tmp_path / "release"
    over = {"release": {"dir": str(rel)}}
    assert reproduce("smoke", overrides=over, **kw)["ran"] == ["a", "b"]
    assert reproduce("smoke", overrides=over, **kw)["ran"] == []
    rel.mkdir()
    (rel / "RGB_85_10.txt").write_text("0.1 0.2\n")
    said = []
    assert reproduce("smoke", overrides=over, **{**kw, "log": said.append})["ran"] == ["a", "b"]
    assert any("the study's inputs changed" in s for s in said)
    before = runner.inputs_fingerprint(load_study("smoke", over))
    assert runner.inputs_fingerprint(load_study("smoke", {**over, "dataset": {"groups": 3}})) != before


def test_a_page_is_rendered_again_when_a_run_it_reads_is_trained_again_and_not_for_other_tables(tmp_path):
    """A run retrained or re-evaluated under the same hash (``--force``) changes the inputs of the pages that
    read it (its table's and the summary), not of the pages of other tables or of the data page."""
    from vipar_lib.report import runner
    from vipar_lib.study import load_study
    from vipar_lib.study.plan import plan_study
    study = load_study("smoke", {"runs_dir": str(tmp_path / "runs")})
    plan = plan_study(study)
    only_t1 = [r for r in plan.runs_for(["table1"]) if r.name not in {q.name for q in plan.runs_for(["table2"])}]
    assert only_t1
    pages = ("00_data", "01_module_ablations", "02_backbones", "05_summary")
    before = {p: runner.inputs_fingerprint(study, p) for p in pages}
    run = only_t1[-1]
    run.dir.mkdir(parents=True)
    (run.dir / "final.json").write_text('{"epochs": 1}')
    after = {p: runner.inputs_fingerprint(study, p) for p in pages}
    assert after["01_module_ablations"] != before["01_module_ablations"]
    assert after["05_summary"] != before["05_summary"]
    assert after["02_backbones"] == before["02_backbones"] and after["00_data"] == before["00_data"]
    q = next(q for q in plan.requests(["table1"]) if q.run == run.name)
    plan.logits_path(q).parent.mkdir()
    plan.logits_path(q).write_bytes(b"npz")
    assert runner.inputs_fingerprint(study, "01_module_ablations") != after["01_module_ablations"]


def test_reproduce_keeps_the_rows_another_writer_added_to_status_json_meanwhile(pages_env):
    """A kernel's unit watch or a second reproduce writes status.json while reproduce runs: its rows stay."""
    from vipar_lib.report import runner
    kw, out, _ = pages_env

    def other_writer(line):
        if "running" in line and " b:" in line:                   # between page a and page b
            with runner._status_update(out) as st:
                st["c"] = {"status": "failed", "error": "written by another process"}
    res = reproduce("smoke", **{**kw, "log": other_writer})
    assert res["ran"] == ["a", "b"]
    st = read_status(out)
    assert st["c"]["error"] == "written by another process" and st["a"]["status"] == st["b"]["status"] == "ok"
