"""The authors' released logits (vipar_lib.released): labels, parsing, cache, metrics, selection optimism.

Tests marked by the ``release`` fixture read the release's data files from shared/deepblue-release
(never copied into the tree) and skip cleanly without them.
"""
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from vipar_lib import released as R
from vipar_lib.challenge import score_submission, write_split_ground_truth, write_submission
from vipar_lib.data.splits import Split, VideoEntry, write_split
from vipar_lib.ensemble import greedy_search
from vipar_lib.logits import LogitsFile
from vipar_lib.metrics import mean_class_accuracy, top1, topk_accuracy


@pytest.fixture(scope="session")
def loaded(release, shared_data, tmp_path_factory):
    return R.load_release(release, shared_data / "ucfTrainTestlist", tmp_path_factory.mktemp("rcache"))


# ------------------------------------------------------------------------------ the real release
def test_labels_make_every_released_file_far_better_than_chance(loaded):
    rel = loaded
    assert len(rel.files) == 18 and not rel.problems
    assert rel.video[0] == "video_test_0000001.avi" and rel.video[-1] == "video_test_0003783.avi"
    assert len(rel.classes) == 101 and sorted(rel.class_ids) == list(range(1, 102))
    for stem, lf in rel.files.items():
        assert lf.logits.shape == (3783, 101) and lf.meta["split"] == "test"
        assert lf.top1 > 0.5, stem                                   # chance is 1/101
    # the columns are challenge class ids: read in file order instead, the same files are at chance
    lf = rel.files["RGB_85_10"]
    inv = np.argsort(np.asarray(rel.class_ids) - 1)                   # back to the file's column order
    assert top1(lf.logits[:, inv], rel.label) < 0.05


def test_lists_are_skipped_and_every_file_is_catalogued(release, loaded):
    found, skipped = R.find_logits_files(release)
    assert len(found) == 18
    assert {Path(s["file"]).name for s in skipped} >= {"train22.txt", "train_val1.txt"}
    cat = R.catalogue()
    assert set(loaded.files) == set(cat["files"])
    paper3 = {r["id"] for r in R._paper_rows("table3")}
    cite = re.compile(r"^(name\b|[\w/]+\.(py|md):\d+)")
    for stem, e in cat["files"].items():
        assert e["model"] in ("slowfast", "tsm") and e["input"] in ("rgb", "diff"), stem
        assert e["table3"] is None or e["table3"] in paper3
        assert set(e["name_only"]) <= {"model", "input", "interval", "view", "clips", "weights"}
        assert e["evidence"] and all(cite.match(x) for x in e["evidence"]), stem


def test_score_files_and_the_submission_round_trip(loaded, shared_data, tmp_path):
    rel = loaded
    res = R.score_files(rel, n_boot=200)
    for stem, s in res["files"].items():
        lf = rel.files[stem]
        assert s["top1"] == pytest.approx(lf.top1) and s["mean_class"] == pytest.approx(lf.mean_class)
        assert s["top5"] == pytest.approx(topk_accuracy(lf.logits, rel.label, 5))
        assert 0 <= s["ci_low"] <= s["mean_class"] <= s["ci_high"] <= 1
    total = sum(lf.logits.astype(np.float64) for lf in rel.files.values())
    assert res["sum_all"]["mean_class"] == pytest.approx(mean_class_accuracy(total, rel.label))
    # the challenge metric of a submission written from a released file = its mean per-class accuracy
    lf = rel.files["diff_85_10_concat"]
    sub = write_submission(lf, tmp_path / "sub.txt")
    gt = write_split_ground_truth(shared_data / "ucfTrainTestlist", "test", tmp_path / "gt.txt")
    sc = score_submission(sub, gt)
    assert sc["top1"] == pytest.approx(lf.mean_class) and sc["malformed_lines"] == 0 and sc["missing"] == 0


def test_analyses_on_the_release(loaded):
    rel = loaded
    boot = R.Bootstrap(rel.label, len(rel.classes), 200, 0)
    t3 = R.table3_real(rel, 200, 0, boot)
    flip = next(r for r in t3 if r["file"] == "RGB_85_10_flip")
    assert flip["reference"] == "RGB_85_10" and flip["paper_id"] == 3
    assert flip["diff_top1"] == pytest.approx(flip["top1"] - rel.files["RGB_85_10"].top1, abs=1e-6)
    assert flip["diff_top1_ci_low"] <= flip["diff_top1"] <= flip["diff_top1_ci_high"]
    assert {r["paper_id"] for r in t3 if r.get("missing")} >= {4, 10, 11, 12}       # no such file released
    for row in R.rgb_vs_diff(rel, 200, 0, boot):
        assert row["both"] + row["only_rgb"] + row["only_diff"] + row["neither"] == len(rel.label)
        assert (row["both"] + row["only_rgb"]) / len(rel.label) == pytest.approx(row["rgb_top1"])
    t4 = {r["id"]: r for r in R.table4_real(rel, 200, 0, boot)}
    assert {m["table3"] for m in t4["E1"]["missing"]} == {4}
    assert {10, 12, 14} <= {m["table3"] for m in t4["E2"]["missing"]}
    assert t4["E3"]["members"]["RGB_85_10"] == 2.0 and not t4["E3"]["complete"]
    assert all(set(r["members"]) <= set(rel.files) for r in t4.values())
    sel = R.selection_optimism({s: lf.logits for s, lf in rel.files.items()}, rel.label, 101, repeats=2, boot=boot)
    g = greedy_search(rel.files, rel.files, max_members=20)
    assert sel["test_chosen"]["order"] == g["chosen"]                  # the same rule as greedy_search


@pytest.mark.slow
def test_report_is_json_and_fast_enough_when_cached(release, shared_data, tmp_path):
    rep = R.report(release, shared_data / "ucfTrainTestlist", cache_dir=tmp_path, n_boot=200, repeats=2)
    json.dumps(rep)
    assert len(rep["files"]) == 18 and rep["problems"] == [] and len(rep["cache"]["parsed"]) == 18
    for s in rep["files"].values():
        assert all(0 <= s[k] <= 1 for k in ("top1", "top5", "mean_class", "ci_low", "ci_high"))
    rep2 = R.report(release, shared_data / "ucfTrainTestlist", cache_dir=tmp_path, n_boot=200, repeats=2)
    assert rep2["cache"]["parsed"] == [] and len(rep2["cache"]["cached"]) == 18
    assert rep2["files"] == rep["files"]


# ------------------------------------------------------------------------- constructed releases
C = 12                                   # >= 10 classes: logits lines are recognised by their width


def _tiny_lists(tmp_path, per_class=2):
    """A 'vipar split' folder: C classes (challenge ids reversed), per_class test videos each."""
    classes = [f"C{i:02d}" for i in range(C)]
    test = [VideoEntry(f"{c}/v_{c}_g01_c0{k}.avi", i, 1, f"video_test_{per_class * i + k:07d}.avi")
            for i, c in enumerate(classes) for k in range(1, per_class + 1)]
    sp = Split(classes, {"train": [], "validation": [], "test": test}, list(range(C, 0, -1)))
    d = tmp_path / "split"
    write_split(sp, d)
    return d, sp


def _write(path, arr):
    path.write_text("".join(" ".join(repr(float(v)) for v in row) + "\n" for row in arr))
    return path


def test_labels_and_columns_from_a_split_folder(tmp_path):
    lists, sp = _tiny_lists(tmp_path)
    rel_dir = tmp_path / "rel"
    rel_dir.mkdir()
    lab = np.array([e.label for e in sp["test"]])
    x = np.zeros((len(lab), C))
    x[np.arange(len(lab)), np.asarray(sp.class_ids)[lab] - 1] = 5.0     # column j = class id j+1
    _write(rel_dir / "perfect.txt", x)
    rel = R.load_release(rel_dir, lists)
    lf = rel.files["perfect"]
    assert lf.top1 == 1.0 and lf.meta["class_ids"] == sp.class_ids and not lf.meta["catalogued"]
    assert list(lf.video) == [e.video_id for e in sp["test"]]


@pytest.mark.parametrize("damage, where", [
    (lambda t: t[: t.rindex("\n", 0, len(t) - 1) + 1], r":23: the file ends early after line 23; expected 24"),
    (lambda t: t[: len(t) - 30], r":24: \d+ values, expected 12"),                                       # cut mid-line
    (lambda t: _line(t, 5, lambda ln: ln + " 1.0"), r":5: 13 values, expected 12"),                     # extra column
    (lambda t: _line(t, 7, lambda ln: "nan" + ln[ln.index(" "):]), r":7: field 1 is 'nan'; only finite"),
    (lambda t: _line(t, 3, lambda ln: " ".join(["1.0", "abc"] + ln.split()[2:])), r":3: field 2 'abc' is not a number"),
    (lambda t: _line(t, 9, lambda ln: ""), r":9: blank line inside the data"),
])
def test_bad_files_are_named_with_their_line_and_left_out(tmp_path, damage, where):
    lists, sp = _tiny_lists(tmp_path)
    rel_dir = tmp_path / "rel"
    rel_dir.mkdir()
    good = np.random.default_rng(0).normal(size=(len(sp["test"]), C))
    _write(rel_dir / "good.txt", good)
    bad = _write(rel_dir / "bad.txt", good)
    bad.write_text(damage(bad.read_text()))
    rel = R.load_release(rel_dir, lists)                               # never raises for a bad file
    assert set(rel.files) == {"good"}
    (p,) = rel.problems
    assert p["file"] == str(bad)
    assert p["line"] is not None and re.search(where, f"{Path(p['file']).name}:{p['line']}: {p['problem']}"), p


def _line(text, n, fn):
    lines = text.split("\n")
    lines[n - 1] = fn(lines[n - 1])
    return "\n".join(lines)


def test_folder_without_logits_is_an_error(tmp_path):
    lists, _ = _tiny_lists(tmp_path)
    d = tmp_path / "empty_release"
    d.mkdir()
    (d / "train22.txt").write_text("video_train_0000001.avi 100\nvideo_train_0000002.avi 100\n")
    (d / "submission_randge2.txt").write_text("video_test_0000001.avi 1 2 3 4 5\n")
    with pytest.raises(R.ReleasedError, match=r"empty_release: no logits files"):
        R.load_release(d, lists)
    with pytest.raises(R.ReleasedError, match=r"nowhere: release folder not found"):
        R.load_release(tmp_path / "nowhere", lists)


def test_a_damaged_catalogued_file_is_reported_not_skipped(tmp_path):
    lists, sp = _tiny_lists(tmp_path)
    d = tmp_path / "rel"
    d.mkdir()
    _write(d / "x.txt", np.ones((len(sp["test"]), C)))
    (d / "RGB_85_10.txt").write_text("")                              # named like a release file, but empty
    rel = R.load_release(d, lists)
    assert [Path(p["file"]).name for p in rel.problems] == ["RGB_85_10.txt"]
    assert "empty file" in rel.problems[0]["problem"]


def test_entries_that_are_not_files_and_huge_files_are_named_with_why_and_never_read(tmp_path, monkeypatch, capsys):
    """#21: a loop, a dangling link, a folder and a 2 GB file are left out, and the text output names each one."""
    from vipar_lib.cli import main
    lists, sp = _tiny_lists(tmp_path)
    d = tmp_path / "rel"
    d.mkdir()
    x = np.random.default_rng(2).normal(size=(len(sp["test"]), C))
    _write(d / "good.txt", x)
    (d / "loop.txt").symlink_to("loop.txt")
    (d / "dangling.txt").symlink_to("gone.txt")
    (d / "folder.txt").mkdir()
    big = _write(d / "big.txt", x)                                     # logits lines first, then 2 GB (sparse)
    os.truncate(big, 2 * 2**30)
    real_read = Path.read_bytes

    def guarded(self):
        assert self.name != "big.txt", "the 2 GB file was read"
        return real_read(self)
    monkeypatch.setattr(Path, "read_bytes", guarded)
    rel = R.load_release(d, lists)
    assert set(rel.files) == {"good"}
    why = {Path(p["file"]).name: p["problem"] for p in rel.problems}
    assert set(why) == {"loop.txt", "dangling.txt", "folder.txt", "big.txt"}
    assert "loops" in why["loop.txt"] and "dangling symbolic link (to gone.txt" in why["dangling.txt"]
    assert "folder" in why["folder.txt"] and re.match(r"2,048 MB, more than the 64 MB allowed", why["big.txt"])
    assert main(["released", str(d), "--lists", str(lists), "--no-cache", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "sum of all 1 files" in out
    assert "left out (4 file(s) that could not be read as logits; in no row above" in out
    for name, reason in why.items():
        assert f"{d / name}: {reason}" in out, name


def test_cache_skips_parsing_on_the_second_load(tmp_path, monkeypatch):
    lists, sp = _tiny_lists(tmp_path)
    d = tmp_path / "rel"
    d.mkdir()
    x = np.random.default_rng(1).normal(size=(len(sp["test"]), C)).astype(np.float32)
    _write(d / "a.txt", x)
    _write(d / "b.txt", -x)
    cache = tmp_path / "cache"
    first = R.load_release(d, lists, cache)
    assert sorted(first.parsed) == ["a", "b"] and first.cached == []

    def boom(*a, **k):
        raise AssertionError("parsed again")
    monkeypatch.setattr(R, "parse_logits", boom)
    second = R.load_release(d, lists, cache)
    assert second.parsed == [] and sorted(second.cached) == ["a", "b"]
    assert np.array_equal(second.files["a"].logits, first.files["a"].logits)
    monkeypatch.undo()
    _write(d / "b.txt", 2 * x)                                        # a changed file is parsed again
    third = R.load_release(d, lists, cache)
    assert third.parsed == ["b"] and third.cached == ["a"]


def test_parse_is_exact():
    rows = np.random.default_rng(2).normal(scale=5, size=(30, C)).astype(np.float32)
    text = "".join(" ".join(str(v) for v in r) + "\n" for r in rows)      # numpy float32 reprs, as released
    assert np.array_equal(R.parse_logits(text.encode(), "t.txt", 30, C), rows)


# ----------------------------------------------------------------------------- metrics, known cases
def test_scores_on_a_known_small_case():
    labels = np.array([0, 0, 0, 1, 1, 2])
    x = np.array([[3, 1, 0], [3, 1, 0], [0, 3, 1],           # class 0: 2 of 3 right
                  [0, 3, 1], [1, 0, 3],                      # class 1: 1 of 2
                  [0, 0, 3]], float)                         # class 2: 1 of 1
    s = R._score(x, labels, None, 3)
    assert s["top1"] == pytest.approx(4 / 6) and s["mean_class"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert s["top5"] == 1.0
    b = R.Bootstrap(labels, 3, n=300, seed=0)
    c = (x.argmax(1) == labels).astype(float)
    W = np.zeros((300, 6))
    W[:, b.order] = b.W
    for r in range(0, 300, 37):                                # a resample = a weighted metric
        per = [(W[r] * (labels == k) * c).sum() / (W[r] * (labels == k)).sum()
               for k in range(3) if (W[r] * (labels == k)).sum()]
        assert b.mean_class(c)[r] == pytest.approx(np.mean(per))
        assert b.top1(c)[r] == pytest.approx((W[r] * c).sum() / 6)
    lo, hi = b.interval(b.mean_class(c))
    assert 0 <= lo <= s["mean_class"] <= hi <= 1


def test_per_class_and_confusions():
    labels = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0, 1])
    x = np.eye(3)[pred]
    pc = R.per_class(x, labels, ["a", "b", "c"], [5, 6, 7])
    assert [r["accuracy"] for r in pc["classes"]] == [0.5, 2 / 3, 0.0]
    assert pc["classes"][2] == {"class": "c", "class_id": 7, "videos": 1, "correct": 0, "accuracy": 0.0}
    assert pc["worst"][0]["class"] == "c"
    assert {(c["true"], c["predicted"], c["count"]) for c in pc["confusions"]} == {("a", "b", 1), ("b", "a", 1),
                                                                                     ("c", "b", 1)}


# --------------------------------------------------------------- selection: constructed optimism
def _balanced(n_per, c):
    return np.repeat(np.arange(c), n_per)


def test_greedy_select_is_greedy_search():
    rng = np.random.default_rng(3)
    labels = _balanced(20, 10)
    videos = np.array([f"video_test_{i:07d}.avi" for i in range(1, len(labels) + 1)])
    files = {f"f{k}": rng.normal(size=(len(labels), 10)) + (k % 3) * np.eye(10)[labels] for k in range(6)}
    lfs = {n: LogitsFile(videos, labels, x.astype(np.float32), {}) for n, x in files.items()}
    names = sorted(files)
    mine = R.greedy_select([lfs[n].logits for n in names], labels, 10, max_members=8)
    assert [names[k] for k in mine] == greedy_search(lfs, lfs, max_members=8)["chosen"]


def test_choosing_on_test_is_optimistic_when_members_are_noise():
    # every member is noise independent of the labels: any ensemble's expected accuracy on videos it
    # was not chosen on is exactly chance (0.1), so the cross-fitted score must sit at chance while the
    # score of the ensemble chosen on all labels sits above it (by about 0.01-0.04 at this size for
    # any seed; the bounds below hold with room to spare).
    rng = np.random.default_rng(4)
    labels = _balanced(100, 10)
    noise = {f"n{k:02d}": rng.normal(size=(len(labels), 10)) for k in range(15)}
    res = R.selection_optimism(noise, labels, 10, repeats=10, seed=1, n_boot=300)
    assert abs(res["crossfit"]["mean_class"] - 0.1) < 0.025             # honest: chance
    assert res["test_chosen"]["mean_class"] > 0.11                      # flattered by choosing on test
    opt = res["optimism"]
    assert opt["mean_class"] == pytest.approx(res["test_chosen"]["mean_class"] - res["crossfit"]["mean_class"])
    assert opt["mean_class"] > 0 and opt["ci_low"] < opt["mean_class"] < opt["ci_high"]
    assert res["halves"]["in_sample_mean_class"] > res["halves"]["out_of_sample_mean_class"] + 0.01
    assert abs(res["halves"]["out_of_sample_mean_class"] - 0.1) < 0.025


def test_no_optimism_without_a_choice():
    # one informative member and nothing else to pick: the same ensemble everywhere, optimism exactly 0
    rng = np.random.default_rng(5)
    labels = _balanced(30, 10)
    x = rng.normal(size=(len(labels), 10)) + 1.5 * np.eye(10)[labels]
    res = R.selection_optimism({"only": x}, labels, 10, repeats=3, seed=0, n_boot=200)
    assert res["test_chosen"]["members"] == {"only": 1}
    assert res["optimism"]["top1"] == 0 and res["optimism"]["mean_class"] == pytest.approx(0, abs=1e-12)
    assert res["optimism"]["ci_low"] == pytest.approx(0, abs=1e-6) == res["optimism"]["ci_high"]
    assert res["crossfit"]["top1"] == pytest.approx(top1(x, labels))


def test_a_strong_member_survives_cross_fitting():
    rng = np.random.default_rng(6)
    labels = _balanced(40, 10)
    strong = rng.normal(size=(len(labels), 10)) + 2.0 * np.eye(10)[labels]
    files = {"strong": strong, **{f"n{k}": rng.normal(size=(len(labels), 10)) for k in range(8)}}
    res = R.selection_optimism(files, labels, 10, repeats=5, seed=0, n_boot=200)
    assert res["test_chosen"]["order"][0] == "strong"
    assert res["crossfit"]["mean_class"] > mean_class_accuracy(strong, labels) - 0.05
