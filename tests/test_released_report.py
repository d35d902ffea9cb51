"""Issue #10, the presentation: ``vipar released`` (CLI), notebook 06 and its index section.

The release's data files are read from shared/deepblue-release (never copied into the tree);
tests that need them skip cleanly without them.
"""
import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from vipar_lib.cli.main import main

LABEL = "authors' released logits, real UCF101 test set"
SECTIONS = ("What each file is", "Table 3 on real data", "RGB and residual frames", "Table 4 on real data",
            "How the ensemble was chosen", "Per class")


@pytest.fixture(scope="module")
def lists(shared_data):
    return shared_data / "ucfTrainTestlist"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("released-cache")


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# -------------------------------------------------------------------------------------------------- CLI
def test_cli_text_has_a_row_per_file_and_the_sum(release, lists, cache, capsys):
    rc, out, err = _run(capsys, "released", release, "--lists", lists, "--bootstrap", 200, "--cache-dir", cache)
    assert rc == 0, err
    assert out.lower().startswith(LABEL.lower())
    stems = sorted(p.stem for p in (release / "logits").glob("*.txt"))
    rows = {ln.split()[0]: ln for ln in out.splitlines() if ln.split() and ln.split()[0] in stems}
    assert sorted(rows) == stems
    for ln in rows.values():                                 # top-1, top-5, mean per-class, then [lo, hi]
        nums = [float(x) for x in re.findall(r"(?<![\w.])\d+\.\d+", ln)]
        assert len(nums) >= 5 and all(0 <= x <= 100 for x in nums[-5:]), ln
        lo, hi = nums[-2:]
        assert lo <= nums[-3] <= hi, ln
    assert re.search(rf"^sum of all {len(stems)} files\s", out, re.M)
    assert "train22.txt" in out                            # the lists are skipped, and said so


def test_cli_json_keys_and_ranges(release, lists, cache, capsys):
    rc, out, _ = _run(capsys, "released", release, "--lists", lists, "--json", "--bootstrap", 200,
                      "--cache-dir", cache)
    assert rc == 0
    res = json.loads(out)
    assert res["label"] == LABEL and res["problems"] == []
    assert len(res["files"]) == len(list((release / "logits").glob("*.txt")))
    for stem, f in res["files"].items():
        for k in ("top1", "top5", "mean_class", "ci_low", "ci_high"):
            assert 0 <= f[k] <= 1, (stem, k)
        assert f["ci_low"] <= f["mean_class"] <= f["ci_high"] and f["top1"] <= f["top5"]
        assert f["top1"] > 0.5                                 # real predictions, chance is 1/101
    sa = res["sum_all"]
    assert 0 <= sa["top1"] <= 1 and 0 <= sa["mean_class"] <= 1
    assert sa["mean_class"] > max(f["mean_class"] for f in res["files"].values())
    assert res["source"]["videos"] == 3783 and res["source"]["classes"] == 101
    assert res["ci"]["resamples"] == 200
    assert len(res["cache"]["cached"]) + len(res["cache"]["parsed"]) == len(res["files"])


def test_cli_full_json_adds_the_analyses(release, lists, cache, capsys):
    rc, out, _ = _run(capsys, "released", release, "--lists", lists, "--json", "--full", "--bootstrap", 100,
                      "--cache-dir", cache)
    assert rc == 0
    res = json.loads(out)
    assert {"table3", "rgb_vs_diff", "table4", "selection", "per_class"} <= set(res)


@pytest.fixture(scope="module")
def damaged(release, tmp_path_factory):
    """A folder with one good file and three bad ones (never inside the repository)."""
    d = tmp_path_factory.mktemp("damaged")
    good = (release / "logits" / "RGB_85_10.txt").read_text().splitlines()
    (d / "RGB_85_10.txt").write_text("\n".join(good) + "\n")
    short = list(good)
    short[16] = " ".join(short[16].split()[:-1])                            # line 17: 100 values
    (d / "RGB_85_10_flip.txt").write_text("\n".join(short) + "\n")
    nan = list(good)
    f = nan[41].split()
    f[3] = "nan"
    nan[41] = " ".join(f)                                                    # line 42: NaN
    (d / "custom_nan.txt").write_text("\n".join(nan) + "\n")
    word = list(good)
    f = word[99].split()
    f[7] = "oops"
    word[99] = " ".join(f)                                                   # line 100: not a number
    (d / "diff_85_10.txt").write_text("\n".join(word) + "\n")
    return d


def test_cli_bad_files_are_named_with_their_line_and_left_out(damaged, lists, tmp_path, capsys):
    rc, out, err = _run(capsys, "released", damaged, "--lists", lists, "--bootstrap", 50, "--cache-dir", tmp_path)
    assert rc == 0, err
    assert "RGB_85_10_flip.txt:17:" in out and "custom_nan.txt:42:" in out and "diff_85_10.txt:100:" in out
    assert "left out (3 file(s)" in out
    rc, out, _ = _run(capsys, "released", damaged, "--lists", lists, "--json", "--bootstrap", 50, "--cache-dir",
                      tmp_path)
    res = json.loads(out)
    assert list(res["files"]) == ["RGB_85_10"]
    lines = {Path(p["file"]).name: p["line"] for p in res["problems"]}
    assert lines == {"RGB_85_10_flip.txt": 17, "custom_nan.txt": 42, "diff_85_10.txt": 100}


def test_cli_folder_without_logits_is_a_one_line_error(lists, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("video_test_0000001.avi 1\n")
    rc, out, err = _run(capsys, "released", tmp_path, "--lists", lists)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("vipar released: error:") and "no logits" in err
    rc, out, err = _run(capsys, "released", tmp_path / "nowhere", "--lists", lists)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "not found" in err
    rc, out, err = _run(capsys, "released", tmp_path)                          # --lists missing
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "--lists" in err


def _one_line_manual_route(err: str):
    assert len(err.strip().splitlines()) == 1, err
    assert "Manual route" in err and ".zip" in err and "*.txt" in err and "github.com/xdw1995/123" in err


def test_fetch_offline_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIPAR_RELEASE_URL", "http://127.0.0.1:9/xdw1995/123.git")     # nothing listens there
    dest = tmp_path / "release"
    rc, out, err = _run(capsys, "released", "fetch", dest, "--timeout", 20)
    assert rc != 0 and out == ""
    _one_line_manual_route(err)
    assert not dest.exists()                                # a failed clone leaves nothing behind


def test_fetch_gives_up_after_its_timeout(tmp_path, monkeypatch, capsys):
    from vipar_lib.cli import released as C

    def hang(cmd, **kw):
        raise subprocess.TimeoutExpired(cmd, kw.get("timeout"))
    monkeypatch.setattr(C.subprocess, "run", hang)
    rc, out, err = _run(capsys, "released", "fetch", tmp_path / "r", "--timeout", 3)
    assert rc != 0 and "no answer within 3 s" in err
    _one_line_manual_route(err)


def test_fetch_into_a_folder_that_holds_the_release_does_nothing(release, capsys):
    rc, out, _ = _run(capsys, "released", "fetch", release)
    assert rc == 0 and "already holds 18 logits files" in out


# ---------------------------------------------------------------------------------------------- notebook
def _text(page: str) -> str:
    body = page.split("<body", 1)[-1].split(">", 1)[-1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(body)).strip()


@pytest.mark.slow
def test_notebook_06_reports_the_release(release, tmp_path):
    from vipar_lib.report.runner import reproduce
    res = reproduce("smoke", only=["06_released_logits"], reports_dir=tmp_path,
                    overrides={"runs_dir": str(tmp_path / "runs")}, log=lambda *a: None)
    assert res["failed"] == {}, res["failed"]
    out = tmp_path / "smoke"
    page = (out / "06_released_logits.html").read_text()
    text = _text(page)
    assert text.lower().startswith(LABEL.lower()), text[:200]
    for s in SECTIONS:
        assert s in text, s
    assert "Traceback" not in page and "PosixPath" not in page
    assert "not the paper's Table-3 models" in text and "train and validation" in text
    imgs = re.findall(r"<img [^>]*>", page)
    assert len(imgs) >= 6
    for img in imgs:                                            # every caption says whose predictions they are
        alt = html.unescape(re.search(r'alt="([^"]*)"', img).group(1))
        assert LABEL in alt, alt[:120]
    for cap in re.findall(r"<caption>(.*?)</caption>", page, flags=re.S):
        assert LABEL in html.unescape(cap), cap[:120]
    pngs = {p.name for p in (out / "figures").glob("released_*.png")}
    assert {"released_files.png", "released_table3.png", "released_rgb_diff.png", "released_table4.png",
            "released_selection.png", "released_per_class.png", "released_confusions.png"} <= pngs
    for csv in ("released_files", "released_table3", "released_rgb_diff", "released_table4", "released_selection",
                "released_per_class"):
        assert (out / f"{csv}.csv").is_file(), csv
    j = json.loads((out / "released.json").read_text())
    assert j["found"] and j["label"] == LABEL and len(j["files"]) == 18
    assert 0 <= j["range_top1"]["min"] <= j["range_top1"]["max"] <= 1
    o = j["selection"]["optimism"]
    assert o["ci_low"] <= o["mean_class"] <= o["ci_high"]
    assert j["selection"]["test_chosen"]["mean_class"] >= j["selection"]["crossfit"]["mean_class"] - 0.05
    index = html.unescape((out / "index.html").read_text())
    i = index.index(f"Real data: {LABEL}")
    assert i < index.index("No summary yet")                   # first in the headline, before the synthetic part
    assert "Exception:" in index


@pytest.mark.slow
def test_notebook_06_without_the_release_says_how_to_get_it(tmp_path, shared_data):
    from vipar_lib.report.runner import reproduce
    empty = tmp_path / "empty"
    empty.mkdir()
    res = reproduce("smoke", only=["06_released_logits"], reports_dir=tmp_path / "rep",
                    overrides={"runs_dir": str(tmp_path / "runs"), "release": {"dir": str(empty)}},
                    log=lambda *a: None)
    assert res["failed"] == {}, res["failed"]
    out = tmp_path / "rep" / "smoke"
    text = _text((out / "06_released_logits.html").read_text())
    assert text.lower().startswith(LABEL.lower())
    head = text[:1500]
    assert "the release was not found" in head and "vipar released fetch" in head and "release.dir" in head
    assert not any(s in text for s in SECTIONS[1:])
    j = json.loads((out / "released.json").read_text())
    assert j["found"] is False and "vipar released fetch" in j["how_to_get"]
    index = html.unescape((out / "index.html").read_text())
    assert "release was not found" in index and "vipar released fetch" in index and "Exception:" not in index
