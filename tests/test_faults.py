"""Never a wrong result from a fault (issue #13): each fault injected the way a user meets it."""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import zero_payloads_from
from test_engine import _cfg

from vipar_lib.data.splits import load_split_dir
from vipar_lib.engine.checkpoint import checkpoint_epoch, load_checkpoint, save_atomic
from vipar_lib.engine.config import config_from_dict
from vipar_lib.engine.errors import CheckpointError, EngineError, RunDirError, RunLockedError
from vipar_lib.engine.evaluate import evaluate_run
from vipar_lib.engine.lease import read_holder
from vipar_lib.engine.runs import LOCK_NAME, is_finished, read_metrics, run_dir, run_lock, write_text_atomic
from vipar_lib.engine.train import train
from vipar_lib.logits import load_logits

CLI = [sys.executable, "-m", "vipar_lib.cli", "train"]


def _cli_train(d: dict, tmp: Path, **env) -> subprocess.CompletedProcess:
    p = tmp / f"params-{len(list(tmp.glob('params-*')))}.yaml"
    p.write_text(yaml.safe_dump(d))
    return subprocess.run(CLI + [str(p)], env={**os.environ, **env}, capture_output=True, text=True, timeout=600)


def _same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k


def _best_is_consistent(run: Path):
    """best.pt holds the model of the epoch whose validation score it records, and that score is the best."""
    best = load_checkpoint(run / "best.pt")
    hist = read_metrics(run)
    scores = [r["val_mean_class"] for r in hist]
    assert best["best"] == max(scores)
    assert best["epoch"] == 1 + scores.index(max(scores))
    return best


@pytest.fixture(scope="module")
def straight(synth_root, synth_split, tmp_path_factory):
    """An uninterrupted 3-epoch run with validation: the reference every fault is compared with."""
    run = train(config_from_dict(_cfg(synth_split, synth_root, tmp_path_factory.mktemp("straight"))))
    return run, read_metrics(run)


# -- 1. a kill while a checkpoint is written -----------------------------------------------------------
@pytest.mark.parametrize("target", ["best.pt", "last.pt"])
def test_kill_during_a_checkpoint_write_leaves_best_and_its_score_in_agreement(target, straight, synth_root,
                                                                              synth_split, tmp_path):
    ref, ref_hist = straight
    scores = [r["val_mean_class"] for r in ref_hist]
    improving = [i + 1 for i, s in enumerate(scores) if s > max(scores[:i], default=-1.0)]
    # best.pt: killed while the last improvement is written (last.pt of that epoch not yet written);
    # last.pt: killed while epoch 2's is written (best.pt of epoch 2, if it improved, already written)
    epoch = improving[-1] if target == "best.pt" else 2
    d = _cfg(synth_split, synth_root, tmp_path / "runs")
    proc = _cli_train(d, tmp_path, VIPAR_KILL_DURING_WRITE=f"{target}@{epoch}")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    run = run_dir(config_from_dict(d))
    assert list(run.glob(f".{target}.*.tmp")), "the kill did not land inside the write"
    assert checkpoint_epoch(run / "last.pt") == (epoch - 1 if epoch > 1 else None)
    assert not is_finished(run)
    resumed = train(config_from_dict(d))
    assert resumed == run and is_finished(run)
    assert not list(run.glob(".*.tmp"))                                     # stray temporary files cleaned
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2, 3]
    _same_weights(load_checkpoint(run / "last.pt")["model"], load_checkpoint(ref / "last.pt")["model"])
    best = _best_is_consistent(run)
    ref_best = load_checkpoint(ref / "best.pt")
    assert (best["epoch"], best["best"]) == (ref_best["epoch"], ref_best["best"])
    _same_weights(best["model"], ref_best["model"])


# -- 2. a malformed or stale final.json --------------------------------------------------------------
def test_final_json_is_trusted_only_when_it_parses_and_matches_last_pt(straight, synth_root, synth_split,
                                                                       tmp_path):
    d = _cfg(synth_split, synth_root, tmp_path / "runs")
    proc = _cli_train(d, tmp_path, VIPAR_KILL_AFTER_EPOCH="1")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    run = run_dir(config_from_dict(d))
    (run / "final.json").write_text(json.dumps({"epochs": 3}))           # parses, but last.pt is at epoch 1
    assert not is_finished(run)
    (run / "final.json").write_text('{"epochs": 3, "best_val_mean')      # torn
    assert not is_finished(run)
    (run / "final.json").write_text('[3]')                                # valid JSON, not a record
    assert not is_finished(run)
    train(config_from_dict(d))                                            # resumes instead of "finished"
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2, 3]
    assert json.loads((run / "final.json").read_text())["epochs"] == 3 and is_finished(run)
    _same_weights(load_checkpoint(run / "last.pt")["model"], load_checkpoint(straight[0] / "last.pt")["model"])


# -- 3. truncated and mid-stream-corrupt videos -------------------------------------------------------
@pytest.fixture
def broken_data(synth_root, synth_split, tmp_path):
    """A copy of the synthetic data with a truncated and a mid-stream-corrupt AVI in train and in test."""
    root = tmp_path / "UCF-101"
    shutil.copytree(synth_root / "UCF-101", root)
    split_dir = tmp_path / "split"
    shutil.copytree(synth_split, split_dir)
    sp = load_split_dir(synth_split)
    src = sp["train"][0]
    cls = src.path.split("/")[0]
    data = (root / src.path).read_bytes()
    made = {}
    for split, (gt, gm) in (("train", (90, 91)), ("test", (92, 93))):
        trunc, mid = f"{cls}/v_{cls}_g{gt}_c01.avi", f"{cls}/v_{cls}_g{gm}_c01.avi"
        (root / trunc).write_bytes(data[: len(data) // 2])
        (root / mid).write_bytes(zero_payloads_from(data))
        cid = (split_dir / "train.txt").read_text().splitlines()[0].split()[1]
        with open(split_dir / f"{split}.txt", "a") as f:
            f.write(f"{trunc} {cid}\n{mid} {cid}\n")
        made[split] = (trunc, mid)
    from vipar_lib.data.video import probe
    n = probe(root / src.path).frames
    return root.parent, split_dir, made, n, len(sp["train"])


def test_bad_videos_are_skipped_in_training_and_counted_wrong_in_evaluation(broken_data, tmp_path):
    data_root, split_dir, made, n, n_train = broken_data
    # TSM takes any clip length; a clip of n//2 + 1 frames always reaches the corrupt middle of the video,
    # and one step per epoch of every readable training video samples each of them every epoch
    d = _cfg(split_dir, data_root, tmp_path / "runs",
             model={"name": "tsm_r50", "options": {"width": 8, "depths": [1, 1, 1, 1]}},
             data={"clip_len": n // 2 + 1, "val_split": ""},
             train={"epochs": 2, "batch_size": n_train + 1},
             eval={"num_clips": 2, "views": ["center", "flip"]})
    with pytest.warns(UserWarning, match="skipping 1 unreadable"):
        run = train(config_from_dict(d))
    final = json.loads((run / "final.json").read_text())
    trunc, mid = made["train"]
    assert final["bad_training_videos"] == [trunc, mid]
    assert final["bad_training_video_reasons"][trunc].startswith("truncated: ")
    assert "header claims" in final["bad_training_video_reasons"][trunc]
    assert final["bad_training_video_reasons"][mid].startswith("corrupt: decoding failed")
    assert "failed while decoding, skipped from now on" in (run / "train.log").read_text()
    ck = load_checkpoint(run / "last.pt")
    assert set(ck["bad_videos"]) == {mid}
    # evaluation: both kept as rows of NaN (counted wrong), listed with reasons; never an abort
    for decode in ("once", "per_view"):
        paths = evaluate_run(run, progress=False, checkpoint="last", decode=decode, force=True)
        assert [p.name for p in paths] == ["test-center-i1-k2-last.npz", "test-flip-i1-k2-last.npz"]
        for p in paths:
            lf = load_logits(p)
            rows = {v: i for i, v in enumerate(load_split_dir(split_dir)["test"])}
            bad_rows = [i for i, e in enumerate(load_split_dir(split_dir)["test"]) if e.path in made["test"]]
            assert len(rows) == len(lf.video) and len(bad_rows) == 2
            assert np.isnan(lf.logits[bad_rows]).all()
            assert not np.isnan(np.delete(lf.logits, bad_rows, axis=0)).any()
            assert lf.meta["bad_videos"] == list(made["test"])
            r = lf.meta["bad_video_reasons"]
            assert r[made["test"][0]].startswith("truncated") and r[made["test"][1]].startswith("corrupt")


# -- 4. two trainers on one run ----------------------------------------------------------------------
def test_a_run_being_trained_is_locked_against_a_second_trainer_and_force(synth_root, synth_split, tmp_path):
    d = _cfg(synth_split, synth_root, tmp_path / "runs", train={"epochs": 500})
    p = tmp_path / "long.yaml"
    p.write_text(yaml.safe_dump(d))
    run = run_dir(config_from_dict(d))
    holder = subprocess.Popen(CLI + [str(p)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if (run / "config.yaml").is_file() and (run / LOCK_NAME).is_file() \
                    and getattr(read_holder(run / LOCK_NAME), "pid", 0) == holder.pid:
                break
            assert holder.poll() is None, "the first trainer ended early"
            time.sleep(0.2)
        else:
            pytest.fail("the first trainer never took the lock")
        with pytest.raises(RunLockedError, match=f"process {holder.pid} is training this run") as e:
            train(config_from_dict(d))
        assert e.value.pid == holder.pid and str(run) in str(e.value) and "\n" not in str(e.value)
        with pytest.raises(RunLockedError, match=str(holder.pid)):
            train(config_from_dict(d), force=True)                          # --force refuses, deletes nothing
        assert (run / "config.yaml").is_file() and holder.poll() is None
        assert isinstance(e.value, EngineError)
    finally:
        holder.kill()
        holder.wait()
    with run_lock(run):                                                   # a killed holder leaves no lock behind
        pass


# -- 5. a damaged checkpoint; a read-only run directory ---------------------------------------------------
def test_a_damaged_checkpoint_is_one_line_naming_the_file_and_the_way_on(synth_root, synth_split, tmp_path):
    d = _cfg(synth_split, synth_root, tmp_path / "runs")
    proc = _cli_train(d, tmp_path, VIPAR_KILL_AFTER_EPOCH="2")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    run = run_dir(config_from_dict(d))
    last = run / "last.pt"
    good = last.read_bytes()
    for damaged in (good[: len(good) // 2], b"not a checkpoint" * 64):      # truncated zip; not a zip at all
        last.write_bytes(damaged)
        with pytest.raises(CheckpointError) as e:
            train(config_from_dict(d))
        msg = str(e.value)
        assert msg.startswith(f"{last}: damaged checkpoint") and "--resume-from best" in msg
        assert "\n" not in msg and "weights_only" not in msg
    # the way on: resume from best.pt
    train(config_from_dict(d), resume_from="best")
    assert is_finished(run) and [r["epoch"] for r in read_metrics(run)][-1] == 3
    _best_is_consistent(run)
    # a damaged best.pt: evaluation names it; the other checkpoint works
    (run / "best.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match=f"^{run / 'best.pt'}: damaged checkpoint.*--checkpoint last"):
        evaluate_run(run, views=["center"], progress=False)
    (p,) = evaluate_run(run, views=["center"], progress=False, checkpoint="last")
    assert load_logits(p).logits.shape[1] == 4


def _read_only(path: Path):
    """Make ``path`` unwritable even for root (the immutable flag), else by its mode; returns the undo."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode:
            pytest.skip("running as root without chattr +i: cannot make a directory read-only")
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    mode = path.stat().st_mode
    path.chmod(0o555)
    return lambda: path.chmod(mode)


def test_a_read_only_run_directory_is_one_line_naming_it(synth_root, synth_split, tmp_path):
    d = _cfg(synth_split, synth_root, tmp_path / "runs", train={"epochs": 1})
    run = train(config_from_dict(d))
    undo = _read_only(run)
    try:
        with pytest.raises(RunDirError, match=f"^{run / 'logits'}: cannot write logits here") as e:
            evaluate_run(run, views=["center"], progress=False)
        assert "\n" not in str(e.value)
        with pytest.raises(RunDirError, match=f"^{run}: ") as e:
            train(config_from_dict(d), force=True)
        assert "\n" not in str(e.value)
        assert (run / "last.pt").is_file()
    finally:
        undo()
    runs = tmp_path / "runs"
    undo = _read_only(runs)
    try:
        d2 = _cfg(synth_split, synth_root, runs, name="other", train={"epochs": 1})
        with pytest.raises(RunDirError, match="not writable"):
            train(config_from_dict(d2))
    finally:
        undo()


# -- 6. ordinary permissions ----------------------------------------------------------------------------
def test_run_files_get_ordinary_permissions(synth_root, synth_split, tmp_path):
    old = os.umask(0o027)
    try:
        save_atomic({"model": {}}, tmp_path / "a.pt")
        write_text_atomic(tmp_path / "a.txt", "x")
        assert stat.S_IMODE((tmp_path / "a.pt").stat().st_mode) == 0o640
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
        run = train(config_from_dict(_cfg(synth_split, synth_root, tmp_path / "runs", train={"epochs": 1})))
        evaluate_run(run, views=["center"], progress=False)
    finally:
        os.umask(old)
    files = [p for p in run.rglob("*") if p.is_file()]
    assert {"config.yaml", "last.pt", "best.pt", "final.json", "metrics.json", "train.log"} <= \
        {p.name for p in files} and LOCK_NAME not in {p.name for p in files}      # the lease is gone when released
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o640" for p in files}
