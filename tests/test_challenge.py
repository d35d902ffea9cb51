"""The challenge's files and metric (vipar_lib.challenge): submissions, ground truth, robust scoring."""
import numpy as np
import pytest

from vipar_lib.challenge import (
    ChallengeError,
    read_ground_truth,
    score_submission,
    write_ground_truth,
    write_split_ground_truth,
    write_submission,
)
from vipar_lib.cli import main
from vipar_lib.data.splits import Split, VideoEntry, write_split
from vipar_lib.logits import LogitsFile

RNG = np.random.default_rng(0)
VIDEOS = np.array([f"video_test_{i:07d}.avi" for i in range(1, 13)])
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3])
IDS = [7, 3, 9, 1]                                   # challenge class id of labels 0..3


def _lf(logits):
    return LogitsFile(VIDEOS, LABELS, logits.astype(np.float32),
                      {"class_ids": IDS, "classes": list("abcd"), "split": "test"})


def _gt(tmp_path, text="a.avi 1\nb.avi 2\nc.avi 3\nd.avi 4\n", name="gt.txt"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_submission_and_challenge_score(tmp_path):
    x = np.eye(4)[LABELS] * 5.0 + RNG.normal(scale=0.1, size=(12, 4))
    x[3] = [0, 1, 5, 2]                   # true class 1 ranked 3rd
    lf = _lf(x)
    sub = write_submission(lf, tmp_path / "sub.txt")
    first = sub.read_text().splitlines()[0].split()
    assert first[0] == "video_test_0000001.avi" and first[1] == "7" and len(first) == 5   # 4 classes -> 4 ranks
    gt = write_ground_truth(lf, tmp_path / "gt.txt")
    res = score_submission(sub, gt, num_classes=9)
    # class 1 (id 3): 2 of 3 right at top-1, all at top-3
    assert res["top1"] == pytest.approx(np.mean([1, 2 / 3, 1, 1]))
    assert res["top3"] == pytest.approx(1.0) and res["missing"] == 0 and res["malformed_lines"] == 0
    assert res["top1_overall"] == pytest.approx(11 / 12)
    assert main(["score", str(sub), str(gt), "--num-classes", "9", "--json"]) == 0


def test_well_formed_lines_and_out_of_range_ids(tmp_path):
    gt = _gt(tmp_path)
    sub = tmp_path / "sub.txt"
    sub.write_text("a.avi 1 2 3 4 5   \n"          # right, trailing spaces
                   "b.avi 9 2 1 1 1\n"              # out-of-range first (wrong at rank 1), right at rank 2
                   "c.avi 999 1 3 1 1\n"            # out of range, right at rank 3
                   "\n")                            # d.avi missing
    res = score_submission(sub, gt)
    assert res["top1"] == pytest.approx(0.25) and res["top3"] == pytest.approx(0.75)
    assert res["missing"] == 1 and res["missing_videos"] == ["d.avi"]
    assert res["out_of_range"] == 3 and res["malformed_lines"] == 0      # a.avi 5, b.avi 9, c.avi 999 (4 classes)


def test_garbled_lines_count_wrong_and_are_named(tmp_path):
    gt = _gt(tmp_path, "".join(f"v{i}.avi {1 + i % 4}\n" for i in range(8)))
    lines = [f"v{i}.avi {1 + i % 4} 1 1 1 1" for i in range(8)]       # all right
    lines[1] = "v1.avi 2 1 1v2.avi 3 1 1 1 1"                            # interleaved write: v1 and v2 mixed
    lines[2] = "1 1 1"                                                   # the tail of an interleaved line
    lines[4] = "v4.avi 1"                                                # missing fields
    lines[5] = "v5.avi 2 x 1 1 1"                                        # non-integer field
    lines[6] = "v6.avi"                                                  # no predictions
    sub = tmp_path / "sub.txt"
    sub.write_text("\n".join(lines) + "\n")
    res = score_submission(sub, gt)
    # right: v0, v3, v7; wrong: v1 (garbled, though its first id is right), v4, v5, v6 (garbled), v2 (missing)
    assert res["top1_overall"] == pytest.approx(3 / 8)
    assert res["malformed_lines"] == 5
    assert [m["line"] for m in res["malformed"]] == [2, 3, 5, 6, 7]
    assert res["garbled_videos"] == 4 and res["garbled"] == ["v1.avi", "v4.avi", "v5.avi", "v6.avi"]
    assert res["missing"] == 1 and res["missing_videos"] == ["v2.avi"]
    assert res["scored"] == 3


def test_duplicates_first_well_formed_line_counts(tmp_path):
    gt = _gt(tmp_path)
    sub = tmp_path / "sub.txt"
    sub.write_text("a.avi 2 2 2 2 2\n"       # wrong, counts (first well-formed line of a.avi)
                   "a.avi 1 1 1 1 1\n"       # right, ignored
                   "b.avi 2 x\n"             # malformed: skipped for the rule
                   "b.avi 2 2 2 2 2\n"       # right, counts
                   "c.avi 3 3 3 3 3\nd.avi 4 4 4 4 4\n")
    res = score_submission(sub, gt)
    assert res["top1_overall"] == pytest.approx(3 / 4)
    assert res["duplicates"] == {"a.avi": [1, 2], "b.avi": [3, 4]} and res["duplicate_videos"] == 2
    assert "first well-formed" in res["duplicate_rule"]
    assert res["garbled_videos"] == 0 and res["malformed_lines"] == 1


def test_unknown_names_reported_and_naming_mismatch_refused(tmp_path):
    gt = _gt(tmp_path)
    sub = tmp_path / "sub.txt"
    sub.write_text("a.avi 1 1 1 1 1\nb.avi 2 2 2 2 2\nc.avi 3 3 3 3 3\nzzz.avi 1 1 1 1 1\n")
    res = score_submission(sub, gt)
    assert res["unknown"] == 1 and res["unknown_videos"] == ["zzz.avi"] and res["missing_videos"] == ["d.avi"]
    other = tmp_path / "other.txt"
    other.write_text("".join(f"v_Class_g01_c0{i}.avi 1 1 1 1 1\n" for i in range(1, 5)) + "a.avi 1 1 1 1 1\n")
    with pytest.raises(ChallengeError, match=r"4 of 5 submitted video names are not in the ground truth.*"
                                             r"different naming schemes"):
        score_submission(other, gt)


def test_bom_and_crlf_are_accepted(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_bytes(b"\xef\xbb\xbfa.avi 1\r\nb.avi 2\r\n")
    sub = tmp_path / "sub.txt"
    sub.write_bytes(b"\xef\xbb\xbfa.avi 1 2 3 4 5\r\nb.avi 2 1 3 4 5\r\n")
    assert read_ground_truth(gt) == {"a.avi": 1, "b.avi": 2}
    res = score_submission(sub, gt)
    assert res["top1"] == pytest.approx(1.0) and res["bom"] and res["unknown"] == 0


@pytest.mark.parametrize("text, match", [
    ("a.avi 1\nb.avi 0\n", r"gt.txt:2: class id 0 not allowed; class ids are 1-based"),
    ("", r"gt.txt: empty ground truth"),
    ("\n  \n", r"gt.txt: empty ground truth"),
    ("a.avi 1\na.avi 2\n", r"gt.txt:2: video 'a.avi' listed twice \(first on line 1\)"),
    ("a.avi 1 2\n", r"gt.txt:1: expected '<video.avi> <class id>'"),
    ("a.avi x\n", r"gt.txt:1: class id 'x' is not an integer"),
])
def test_bad_ground_truth_refused(tmp_path, text, match):
    gt = _gt(tmp_path, text)
    with pytest.raises(ChallengeError, match=match):
        read_ground_truth(gt)


def _tiny_split():
    classes = ["Alpha", "Beta", "Gamma"]
    test = [VideoEntry(f"{c}/v_{c}_g01_c0{k}.avi", i, 1, f"video_test_{3 * i + k:07d}.avi")
            for i, c in enumerate(classes) for k in (1, 2, 3)]
    return Split(classes, {"train": [], "validation": [], "test": test}, [3, 1, 2])


def test_split_ground_truth_and_split_list_scoring(tmp_path):
    sp = _tiny_split()
    gt = write_split_ground_truth(sp, "test", tmp_path / "gt.txt")
    assert gt.read_text().splitlines()[0] == "video_test_0000001.avi 3"
    # a 'vipar split' folder gives the same ground truth
    write_split(sp, tmp_path / "split")
    gt2 = write_split_ground_truth(tmp_path / "split", "test", tmp_path / "gt2.txt")
    assert gt2.read_text() == gt.read_text()
    # score_submission reads the split's test.txt directly (n-th line = video_test_<n>)
    assert read_ground_truth(tmp_path / "split" / "test.txt") == read_ground_truth(gt)
    sub = tmp_path / "sub.txt"
    sub.write_text("".join(f"{e.video_id} {sp.class_ids[e.label]} 1 2 3 1\n" for e in sp["test"]))
    assert score_submission(sub, tmp_path / "split" / "test.txt")["top1"] == pytest.approx(1.0)
    with pytest.raises(ChallengeError, match="must be named"):
        bad = tmp_path / "mylist.txt"
        bad.write_text((tmp_path / "split" / "test.txt").read_text())
        read_ground_truth(bad)


def test_split_ground_truth_from_official_lists(shared_data, tmp_path):
    gt = write_split_ground_truth(shared_data / "ucfTrainTestlist", "test", tmp_path / "gt.txt")
    lines = gt.read_text().splitlines()
    assert len(lines) == 3783
    assert lines[0] == "video_test_0000001.avi 100"          # ApplyEyeMakeup is class 100 in the challenge's index
    assert lines[-1].startswith("video_test_0003783.avi ")
    ids = {int(x.split()[1]) for x in lines}
    assert ids == set(range(1, 102))
