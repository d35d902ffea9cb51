"""#13: wrong input gives one-line errors naming the key or file, never a quiet wrong result."""
import re

import numpy as np
import papermill as pm
import pytest
import yaml

from vipar_lib import REPO_DIR
from vipar_lib.cli import main
from vipar_lib.engine.config import ConfigError, config_from_dict
from vipar_lib.ensemble import EnsembleError, combine
from vipar_lib.logits import LogitsFile, save_logits

VIDEOS = np.array([f"video_test_{i:07d}.avi" for i in range(1, 9)])
LABELS = np.array([0, 0, 1, 1, 2, 2, 0, 1])
CLASSES = ["Archery", "Basketball", "Diving"]


def _lf(logits, classes=CLASSES, labels=LABELS, split="test"):
    return LogitsFile(VIDEOS, labels, logits.astype(np.float32), {"classes": list(classes), "split": split})


@pytest.mark.parametrize("bad,key", [
    ({"train": {"micro_batch": -1}}, r"train.micro_batch=-1 must be >= 0"),
    ({"train": {"lr": float("nan")}}, r"train.lr=nan must be a finite number"),
    ({"train": {"lr": float("inf")}}, r"train.lr=inf must be a finite number"),
    ({"train": {"seed": -1}}, r"train.seed=-1 must be >= 0"),
    ({"train": {"momentum": -1}}, r"train.momentum=-1.0 must be >= 0 and < 1"),
    ({"train": {"weight_decay": -0.1}}, r"train.weight_decay=-0.1 must be >= 0"),
    ({"data": {"workers": -2}}, r"data.workers=-2 must be >= 0"),
    ({"model": {"name": "slowfast_r50", "options": {"alpha": 0}}}, r"alpha=0"),
    ({"model": {"name": "slowfast_r50", "options": {"width": 0}}}, r"width=0"),
    ({"model": {"name": "slowfast_r50", "options": {"dropout": 5.0}}}, r"dropout=5.0"),
])
def test_out_of_range_values_are_refused_at_the_edge(bad, key):
    with pytest.raises(ConfigError, match=key) as e:
        config_from_dict(bad)
    assert "\n" not in str(e.value)


def test_ensembles_align_classes_by_name_and_refuse_what_does_not_match(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(8, 3))
    perm = [2, 0, 1]                                        # the same classes in another order
    b_logits = a[:, perm]
    b = _lf(b_logits, [CLASSES[i] for i in perm], np.array([perm.index(y) for y in LABELS]))
    e = combine([_lf(a), b])
    assert np.allclose(e.logits, 2 * a, atol=1e-5) and e.meta["classes"] == CLASSES
    with pytest.raises(EnsembleError, match=r"class sets differ .* only in the first \[Diving\]"):
        combine([_lf(a), _lf(a, ["Archery", "Basketball", "Cricket"])])
    with pytest.raises(EnsembleError, match=r"labels differ between .* for 1 videos"):
        combine([_lf(a), _lf(a, labels=np.array([0, 0, 1, 1, 2, 2, 0, 2]))])
    with pytest.raises(EnsembleError, match=r"holds the 'test' split, .* the 'validation' split"):
        combine([_lf(a), _lf(a, split="validation")])
    # through the command line: one line, rc 2
    pa, pb = save_logits(tmp_path / "a.npz", _lf(a)), save_logits(tmp_path / "b.npz", _lf(a, split="validation"))
    assert main(["ensemble", str(pa), str(pb)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vipar ensemble: error: ") and "split" in err and len(err.splitlines()) == 1


def test_a_papermill_parameter_typo_fails_the_first_cell_with_the_allowed_names(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(REPO_DIR / "notebooks" / "00_data.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"profile": "smoke", "trian": 5}, progress_bar=False, cwd=str(tmp_path))
    assert "unknown notebook parameter(s) ['trian']; allowed: ['profile', 'overrides']" in str(e.value)
    assert e.value.source.startswith("from vipar_lib.report import")   # the first cell after the parameters
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(REPO_DIR / "notebooks" / "00_data.ipynb"), str(tmp_path / "out2.ipynb"),
                            parameters={"profile": "smoke", "overrides": {"epochs": {"bse": 1}}}, progress_bar=False)
    assert "epochs.bse" in str(e.value) and "allowed in epochs" in str(e.value)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("setting,key", [("dataset.classes=500", r"dataset.classes=500 must be >= 1 and <= 16"),
                                         ("dataset.size=[161,120]", r"dataset.size=\[161, 120\]: .* must be even")])
def test_settings_the_generator_cannot_make_fail_in_plan_and_the_first_cell(setting, key, tmp_path, capsys):
    """#21: refused where every setting is checked, not as a ValueError once training starts."""
    assert main(["plan", "--profile", "smoke", "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vipar plan: error: ") and re.search(key, err) and len(err.splitlines()) == 1
    k, v = setting.split("=")
    over = {k.split(".")[0]: {k.split(".")[1]: yaml.safe_load(v)}}
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(REPO_DIR / "notebooks" / "01_module_ablations.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"profile": "smoke", "overrides": {**over, "runs_dir": str(tmp_path / "runs")}},
                            progress_bar=False, cwd=str(tmp_path))
    assert e.value.ename == "ConfigError" and re.search(key, e.value.evalue)
    assert e.value.source.startswith("from vipar_lib.report import")   # the first cell after the parameters
    assert not (tmp_path / "runs").exists()


def test_a_profile_that_is_not_a_name_fails_the_first_cell_naming_the_parameter(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(REPO_DIR / "notebooks" / "00_data.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"profile": 3}, progress_bar=False, cwd=str(tmp_path))
    assert e.value.ename == "ConfigError" and e.value.evalue.startswith("profile=3: expected a profile name")
    assert "'smoke'" in e.value.evalue and "got int" in e.value.evalue
    assert e.value.source.startswith("from vipar_lib.report import")
