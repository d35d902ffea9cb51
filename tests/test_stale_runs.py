"""#21: no stale or mismatched result with a success exit: checkpoints, damaged logits files, Ctrl-C."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from test_engine import _cfg

from vipar_lib.cli import main
from vipar_lib.engine.checkpoint import load_checkpoint, save_atomic
from vipar_lib.engine.config import config_from_dict
from vipar_lib.engine.evaluate import evaluate_run
from vipar_lib.engine.train import train
from vipar_lib.logits import LogitsFile, load_logits, save_logits


@pytest.fixture(scope="module")
def two_checkpoints(synth_root, synth_split, tmp_path_factory):
    """A finished run whose best.pt and last.pt hold different weights."""
    run = train(config_from_dict(_cfg(synth_split, synth_root, tmp_path_factory.mktemp("ck"), train={"epochs": 1})))
    best = load_checkpoint(run / "best.pt")
    best["model"] = {k: v + 0.05 if v.is_floating_point() else v for k, v in best["model"].items()}
    save_atomic(best, run / "best.pt")
    return run


def test_best_and_last_logits_are_separate_files_and_a_missing_checkpoint_is_an_error(two_checkpoints, capsys):
    run = two_checkpoints
    (best,) = evaluate_run(run, views=["center"], progress=False)
    (last,) = evaluate_run(run, views=["center"], progress=False, checkpoint="last")
    assert best.name == "test-center-i1-k2.npz"                              # best keeps the plain name
    assert last.name == best.name.replace(".npz", "-last.npz")
    b, la = load_logits(best), load_logits(last)
    assert b.meta["checkpoint"] == "best" and la.meta["checkpoint"] == "last"
    assert not np.allclose(b.logits, la.logits)
    (last2,) = evaluate_run(run, views=["center"], progress=False, checkpoint="last", force=True)
    (best2,) = evaluate_run(run, views=["center"], progress=False)          # the default after a --force of last
    assert best2 == best and load_logits(best2).meta["checkpoint"] == "best"
    assert np.array_equal(load_logits(best2).logits, b.logits)
    # a file written before logits files named their checkpoint, holding last.pt's logits: not taken for best's
    save_logits(best, la)
    (best3,) = evaluate_run(run, views=["center"], progress=False)
    assert load_logits(best3).meta["checkpoint"] == "best" and np.allclose(load_logits(best3).logits, b.logits)
    # best.pt gone: an error that names the way on, not last.pt's weights labelled best
    (run / "best.pt").rename(run / "best.pt.away")
    try:
        with pytest.raises(FileNotFoundError, match=r"best\.pt: not found; evaluate last\.pt instead with "
                                                    r"--checkpoint last"):
            evaluate_run(run, views=["flip"], progress=False)
        assert not (run / "logits" / best.name.replace("center", "flip")).exists()
        assert main(["evaluate", str(run), "--tta", "flip"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("vipar evaluate: error: ") and "--checkpoint last" in err and len(err.splitlines()) == 1
    finally:
        (run / "best.pt.away").rename(run / "best.pt")


def test_a_truncated_logits_file_is_one_line_for_ensemble_and_submit(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lf = LogitsFile(np.array([f"video_test_{i:07d}.avi" for i in range(1, 41)]), np.arange(40) % 4,
                    rng.normal(size=(40, 4)).astype(np.float32), {"classes": ["A", "B", "C", "D"],
                                                                   "class_ids": [1, 2, 3, 4], "split": "test"})
    good = save_logits(tmp_path / "good.npz", lf)
    data = good.read_bytes()
    cut = tmp_path / "cut.npz"
    for damaged in (data[: len(data) // 2], data[:-30], b"PK\x03\x04" + b"\x00" * 64):
        cut.write_bytes(damaged)
        for argv in (["ensemble", str(good), str(cut)], ["submit", str(cut), "--out", str(tmp_path / "s.txt")]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err.strip()
            assert err.startswith(f"vipar {argv[0]}: error: {cut}: not a readable .npz logits file"), err
            assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_ctrl_c_in_train_is_one_line_and_the_run_resumes(synth_root, synth_split, tmp_path):
    d = _cfg(synth_split, synth_root, tmp_path / "runs", train={"epochs": 3})
    params = tmp_path / "run.yaml"
    params.write_text(yaml.safe_dump(d))
    cmd = [sys.executable, "-m", "vipar_lib.cli", "train", str(params)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not list((tmp_path / "runs").glob("*/last.pt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines()[-1] == ("vipar train: interrupted; the run resumes from its last finished epoch "
                                            "when you run the same command again")
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resum" in again.stderr
    (run,) = (tmp_path / "runs").glob("*/final.json")
    assert torch.load(run.parent / "last.pt", weights_only=True)["epoch"] == 3


MINI = """name: mini_rgb
runs_dir: runs/mini
data: {split_dir: data/mini/splits, video_root: data/mini/UCF-101, clip_len: 8, crop_size: 32, short_side: 36,
       workers: 0}
model: {name: slowfast_r50, options: {width: 8, depths: [1, 1, 1, 1], alpha: 4, beta: 2, num_frames: 8}}
train: {epochs: 1, batch_size: 8, lr: 0.02, progress: false}
eval: {num_clips: 1}
"""


def _data(seed: int):
    for argv in (["synth", "data/mini", "--classes", "3", "--groups", "3", "--clips", "1", "--size", "64x48",
                  "--seed", str(seed), "--workers", "1", "--quiet"],
                 ["split", "data/mini/ucfTrainTestlist", "data/mini/splits"]):
        assert main(argv) == 0, argv


def _train(capsys) -> Path:
    assert main(["train", "mini.yaml"]) == 0
    return Path(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_user_params_file_never_reuses_a_run_trained_on_other_data(tmp_path, monkeypatch, capsys):
    """#21 case 5: the README's mini.yaml flow, then the same data path generated again with another seed."""
    monkeypatch.chdir(tmp_path)
    _data(3)
    Path("mini.yaml").write_text(MINI)
    a = _train(capsys)
    assert main(["evaluate", str(a), "--tta", "center"]) == 0
    la = a / "logits" / "test-center-i1-k1.npz"
    stored = yaml.safe_load((a / "config.yaml").read_text())["data"]["dataset_id"]
    assert stored.startswith("split+videos sha1 ") and len(stored.split()[-1]) == 16
    assert _train(capsys) == a                                        # the same data: the same run, finished
    _data(7)                                                          # other videos at the same paths
    b = _train(capsys)
    assert b != a and (b / "final.json").is_file()
    assert yaml.safe_load((b / "config.yaml").read_text())["data"]["dataset_id"] != stored
    assert main(["evaluate", str(b), "--tta", "center"]) == 0
    assert (b / "logits" / la.name).read_bytes() != la.read_bytes()
    # the old run is not evaluated on the new videos: one line that says why
    capsys.readouterr()
    assert main(["evaluate", str(a), "--tta", "flip"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"vipar evaluate: error: {a}: its split lists or videos") and len(err.splitlines()) == 1
    assert not (a / "logits" / "test-flip-i1-k1.npz").exists()
