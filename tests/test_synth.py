import hashlib

import numpy as np

from vipar_lib.data import splits as S
from vipar_lib.data.synth import CLASSES, REVERSE_OF, generate, render_clip


def test_layout_and_lists_match_ucf101_format(synth_root):
    lists = synth_root / "ucfTrainTestlist"
    raw = (lists / "trainlist01.txt").read_bytes()
    assert b"\r\n" in raw
    first = raw.decode().splitlines()[0]
    cls, _ = first.split()[0].split("/")
    assert first.split()[0] == f"{cls}/v_{cls}_g02_c01.avi"       # group 1 is in test
    assert (synth_root / "UCF-101" / first.split()[0]).is_file()
    test_lines = (lists / "testlist01.txt").read_text().splitlines()
    assert all(len(l.split()) == 1 and "_g01_" in l for l in test_lines)
    assert (synth_root / "UCF-101" / test_lines[0]).read_bytes()[8:12] == b"AVI "


def test_deterministic_for_a_seed(tmp_path):
    a = generate(tmp_path / "a", classes=2, groups=2, clips=1, seed=7, workers=1, progress=False)
    b = generate(tmp_path / "b", classes=2, groups=2, clips=1, seed=7, workers=1, progress=False)
    assert a["videos"] == b["videos"] == 4
    h = lambda r: sorted(hashlib.sha1(p.read_bytes()).hexdigest() for p in (r / "UCF-101").rglob("*.avi"))
    assert h(tmp_path / "a") == h(tmp_path / "b")
    assert not np.array_equal(render_clip("MoveLeft", 7, 0, 1, 1), render_clip("MoveLeft", 8, 0, 1, 1))


def _centroid_x(frames):
    # the object is the region that changes least with the background: use frame differences
    d = np.abs(frames[1:].astype(int) - frames[:-1].astype(int)).sum(-1) > 60
    xs = [np.nonzero(m)[1].mean() for m in d if m.any()]
    return np.array(xs)


def test_reverse_pairs_are_time_reversals():
    assert all(REVERSE_OF[REVERSE_OF[c]] == c for c in CLASSES)
    left = _centroid_x(render_clip("MoveLeft", 0, 0, 1, 1))
    right = _centroid_x(render_clip("MoveRight", 0, 1, 1, 1))
    assert left[-1] < left[0] - 40 and right[-1] > right[0] + 40
    still = render_clip("StillSquare", 0, 3, 1, 1).astype(int)
    moving = render_clip("MoveRight", 0, 1, 1, 1).astype(int)
    # Still classes: consecutive frames differ by noise only
    assert np.abs(still[1:] - still[:-1]).mean() < 0.5 * np.abs(moving[1:] - moving[:-1]).mean() + 8


def test_groups_split_like_ucf101(synth_root):
    sp = S.vipriors_split(synth_root / "ucfTrainTestlist")
    assert {e.group for e in sp["test"]} == {1}
    assert {e.group for e in sp["train"]} | {e.group for e in sp["validation"]} == {2, 3, 4}
