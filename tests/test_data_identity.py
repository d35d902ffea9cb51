"""#21: the split and every run know which data they were made from; the synthetic writers are safe side by side."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vipar_lib.data.identity import fingerprint, listed_videos, split_fingerprint
from vipar_lib.data.splits import load_split_dir, vipriors_split, write_split
from vipar_lib.data.synth import content_fingerprint, generate
from vipar_lib.study import load_study, plan_study, prepare_data
from vipar_lib.study.plan import dataset_id

TINY = {"classes": 3, "groups": 3, "clips": 1, "size": [64, 48]}


@pytest.fixture(scope="module")
def two_roots(tmp_path_factory):
    """Two UCF101-layout folders with other videos and other lists."""
    out = tmp_path_factory.mktemp("roots")
    generate(out / "a", seed=1, workers=1, progress=False, **{**TINY, "size": (64, 48)})
    generate(out / "b", seed=2, workers=1, progress=False, **{**TINY, "classes": 4, "size": (64, 48)})
    return out / "a", out / "b"


def _ucf(root: Path, runs: Path):
    return load_study("smoke", {"dataset": {"kind": "ucf101", "root": str(root / "UCF-101"),
                                            "lists": str(root / "ucfTrainTestlist")}, "runs_dir": str(runs)})


def test_a_split_written_for_another_root_is_rewritten_and_runs_differ(two_roots, tmp_path):
    """Case 4: one runs_dir, a UCF-layout root, then another: the split and the run hashes follow the data."""
    a, b = two_roots
    pa = prepare_data(_ucf(a, tmp_path / "collide"), progress=False)
    assert [e.path for e in load_split_dir(pa.split_dir)["test"]] == \
        [e.path for e in vipriors_split(a / "ucfTrainTestlist")["test"]]
    pb = prepare_data(_ucf(b, tmp_path / "collide"), progress=False)
    assert pb.split_dir == pa.split_dir
    written = load_split_dir(pb.split_dir)
    assert [e.path for e in written["test"]] == [e.path for e in vipriors_split(b / "ucfTrainTestlist")["test"]]
    assert written.num_classes == 4 and all((b / "UCF-101" / e.path).is_file() for e in written["test"])
    marker = json.loads((pb.split_dir / "dataset.json").read_text())
    assert marker["kind"] == "ucf101" and marker["root"] == str(b / "UCF-101")
    assert marker["lists"] == str(b / "ucfTrainTestlist")
    ra, rb = (plan_study(_ucf(r, tmp_path / "collide")).runs["base_slowfast_r50_rgb"].dir for r in (a, b))
    assert ra != rb


def test_real_data_identity_covers_lists_and_video_content_and_survives_a_copy(two_roots, tmp_path):
    a, _ = two_roots
    c = tmp_path / "copy"
    shutil.copytree(a, c)                                 # new mtimes, same bytes
    runs = tmp_path / "runs"
    ida = dataset_id(_ucf(c, runs))
    assert "content sha1 " in ida and dataset_id(_ucf(c, runs)) == ida
    assert (runs / "split" / ".video-hashes.json").is_file()            # hashed once, then read from the cache
    os.utime(next((c / "UCF-101").rglob("*.avi")), (1, 1))              # a date alone changes nothing
    assert dataset_id(_ucf(c, runs)) == ida
    video = next((c / "UCF-101").rglob("*.avi"))
    video.write_bytes(video.read_bytes()[:-10] + b"0123456789")          # same size, other bytes
    assert dataset_id(_ucf(c, runs)) != ida
    # a user's split folder: lists and videos
    split = tmp_path / "split"
    write_split(vipriors_split(a / "ucfTrainTestlist"), split)
    fp = split_fingerprint(split, a / "UCF-101")
    shutil.copytree(a, tmp_path / "a2")
    assert split_fingerprint(split, tmp_path / "a2" / "UCF-101", cache=tmp_path / "other-cache.json") == fp
    (split / "test.txt").write_text((split / "test.txt").read_text() + "\n")
    assert split_fingerprint(split, a / "UCF-101") != fp
    assert fingerprint([tmp_path / "none.txt"], tmp_path, ["x.avi"]) == fingerprint([tmp_path / "none.txt"],
                                                                                    tmp_path, ["x.avi"])


def _synthetic(root: Path, runs: Path):
    return load_study("smoke", {"dataset": {"kind": "synthetic", "root": str(root), **TINY},
                                "runs_dir": str(runs)})


def test_synthetic_data_changed_by_hand_or_by_vipar_synth_is_regenerated(tmp_path):
    study = _synthetic(tmp_path / "data", tmp_path / "runs")
    prepare_data(study, progress=False)
    videos = sorted((tmp_path / "data" / "UCF-101").rglob("*.avi"))
    original = {p: p.read_bytes() for p in videos}
    videos[0].write_bytes(original[videos[1]])                           # another clip's video in its place
    prepare_data(study, progress=False)
    assert videos[0].read_bytes() == original[videos[0]]
    generate(tmp_path / "data", seed=7, workers=1, progress=False, **{**TINY, "size": (64, 48)})
    assert videos[0].read_bytes() != original[videos[0]]                 # vipar synth wrote other videos there
    prepare_data(study, progress=False)
    assert {p: p.read_bytes() for p in videos} == original


_RACE = """
import sys, time
from vipar_lib.study import load_study, prepare_data
study = load_study("smoke", {"dataset": {"kind": "synthetic", "root": sys.argv[1], "classes": 4, "groups": 3,
                                          "clips": 2, "size": [96, 72]}, "runs_dir": sys.argv[2]})
while time.time() < float(sys.argv[3]):
    time.sleep(0.001)
prep = prepare_data(study, progress=False)
print(len(prep.split["train"]) + len(prep.split["validation"]) + len(prep.split["test"]))
"""


def test_two_processes_preparing_one_fresh_data_root_both_succeed(tmp_path):
    """Two notebooks started at once on a fresh data root: one waits for the other, both get the same data."""
    start = str(time.time() + 3)
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(tmp_path / "data"), str(tmp_path / "runs"), start],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert out.strip() == "24"
    assert not list((tmp_path / "data").rglob("*.part")) and not list((tmp_path / "data").rglob("*.tmp"))
    videos = list((tmp_path / "data" / "UCF-101").rglob("*.avi"))
    assert len(videos) == 24 and all(v.stat().st_size > 1000 for v in videos)
    record = json.loads((tmp_path / "data" / "synth.json").read_text())
    assert record["fingerprint"] == content_fingerprint(tmp_path / "data", progress=False)


def test_listed_videos_reads_a_list_saved_with_a_byte_order_mark_as_the_split_reader_does(tmp_path):
    """A list saved by an editor with a UTF-8 BOM names the same first video (its content is hashed under it)."""
    plain, bom = tmp_path / "a.txt", tmp_path / "b.txt"
    text = "ApplyEyeMakeup\\v_ApplyEyeMakeup_g08_c01.avi 1\r\nArchery/v_Archery_g01_c01.avi 3\r\n"
    plain.write_text(text, newline="")
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert listed_videos([bom]) == listed_videos([plain]) == ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
                                                            "Archery/v_Archery_g01_c01.avi"]
