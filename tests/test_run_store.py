"""A movable run store (issue #14): paths inside the repository are stored relative to it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from test_engine import TINY_SF

from vipar_lib import REPO_DIR
from vipar_lib.engine.config import config_from_dict, config_hash, portable_config

REPO = Path(__file__).resolve().parents[1]


def _params(**over):
    d = {"name": "base", "runs_dir": "runs",
         "data": {"split_dir": "splits", "video_root": "data/UCF-101", "clip_len": 8, "crop_size": 32,
                  "short_side": 36, "workers": 0},
         "model": {"name": "slowfast_r50", "options": dict(TINY_SF)},
         "train": {"epochs": 1, "batch_size": 8, "lr": 0.05, "progress": False},
         "eval": {"num_clips": 2, "batch_size": 8, "views": ["center", "flip"]}}
    for k, v in over.items():
        d[k] = {**d[k], **v} if isinstance(v, dict) else v
    return d


def test_portable_config_and_the_hash_of_its_relative_form(tmp_path):
    d = _params(train={"init_from": "runs/base-0000"})
    rel = config_from_dict(d)
    absolute = config_from_dict({**d, "runs_dir": str(REPO_DIR / "runs"),
                                 "data": {**d["data"], "split_dir": str(REPO_DIR / "splits"),
                                          "video_root": str(REPO_DIR / "data" / "UCF-101")},
                                 "train": {**d["train"], "init_from": str(REPO_DIR / "runs/base-0000")}})
    p = portable_config(absolute)
    assert (p.runs_dir, p.data.split_dir, p.data.video_root, p.train.init_from) == \
        ("runs", "splits", "data/UCF-101", "runs/base-0000")
    assert config_hash(absolute) == config_hash(rel) == config_hash(p)
    # a user's params file: relative to where the command was typed
    sub = portable_config(rel, cwd=REPO_DIR / "notebooks")
    assert (sub.data.split_dir, sub.runs_dir) == ("notebooks/splits", "notebooks/runs")
    out = portable_config(rel, cwd=tmp_path)
    assert out.data.video_root == str(tmp_path.resolve() / "data" / "UCF-101")      # outside: absolute
    assert config_hash(out) != config_hash(rel)
    assert rel.data.split_dir == "splits"                                            # the input is not changed


_SCRIPT = """
import json, os, sys, yaml
from pathlib import Path
from vipar_lib.engine.config import load_config, portable_config
from vipar_lib.engine.evaluate import evaluate_run
from vipar_lib.engine.train import train
cfg = portable_config(load_config("base.yaml"), os.getcwd())
base = train(cfg)
ft = yaml.safe_load(Path("base.yaml").read_text())
ft["name"] = "ft"
ft["train"]["init_from"] = os.path.relpath(base)   # the user's file: relative to where they type
Path("ft.yaml").write_text(yaml.safe_dump(ft))
cfg = load_config("ft.yaml")
cfg.train.init_from = str(base)                     # absolute, as a planner writes it: stored relative
run = train(cfg)
print(json.dumps({"base": str(base), "ft": str(run), "logits": [str(p) for p in evaluate_run(run, progress=False)]}))
"""


def _python(cwd: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_a_copied_checkout_finds_its_runs_finished_and_its_logits(synth_root, synth_split, tmp_path):
    a = tmp_path / "checkout_a"
    shutil.copytree(REPO / "vipar_lib", a / "vipar_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(synth_root / "UCF-101", a / "data" / "UCF-101")
    shutil.copytree(synth_split, a / "splits")
    (a / "base.yaml").write_text(yaml.safe_dump(_params()))
    first = _python(a, "-c", _SCRIPT)
    assert first.returncode == 0, first.stderr[-3000:]
    out = json.loads(first.stdout.strip().splitlines()[-1])
    base, ft = Path(out["base"]), Path(out["ft"])
    assert base.parent == a / "runs" and len(out["logits"]) == 2
    stored = yaml.safe_load((ft / "config.yaml").read_text())
    assert (stored["runs_dir"], stored["data"]["split_dir"], stored["data"]["video_root"],
            stored["train"]["init_from"]) == ("runs", "splits", "data/UCF-101", f"runs/{base.name}")
    assert json.loads((ft / "warm_start.json").read_text())["source"] == f"runs/{base.name}/best.pt"
    assert json.loads((ft / "final.json").read_text())["run_dir"] == f"runs/{ft.name}"

    b = tmp_path / "checkout_b"                    # the whole checkout moves; nothing may point back to a
    shutil.copytree(a, b)
    shutil.rmtree(a)
    stamps = {p: p.stat().st_mtime_ns for p in (b / "runs").rglob("*") if p.is_file()}
    for params in ("base.yaml", "ft.yaml"):
        r = _python(b, "-m", "vipar_lib.cli", "train", params)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "finished already" in r.stderr and r.stdout.strip().startswith(str(b / "runs"))
    r = _python(b, "-c", "from vipar_lib.engine.evaluate import evaluate_run; import sys; "
                         "print(evaluate_run(sys.argv[1], progress=False))", str(b / "runs" / ft.name))
    assert r.returncode == 0, r.stderr[-3000:]
    assert str(b / "runs" / ft.name / "logits" / "test-center-i1-k2.npz") in r.stdout
    assert {p: p.stat().st_mtime_ns for p in (b / "runs").rglob("*") if p.is_file()} == stamps   # nothing rewritten


def test_a_run_stored_before_the_device_feed_loads_as_the_host_feed_it_was_trained_with(tmp_path):
    """A config.yaml written before issue #18 has no data.feed; loading it must not switch the run to the
    (new default) device feed, whose decoder and colour conversion the weights never saw."""
    from vipar_lib.engine.runs import load_run_config
    cfg = config_from_dict(_params())
    stored = cfg.to_dict()
    assert stored["data"].pop("feed") == "device"                     # today's default, written by new runs
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(stored))
    old = load_run_config(tmp_path)
    assert old.data.feed == "host"
    assert config_hash(old) == config_hash(config_from_dict(_params(data={"feed": "host"})))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    assert load_run_config(tmp_path).data.feed == "device"
