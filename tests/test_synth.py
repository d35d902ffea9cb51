import hashlib

import numpy as np
import pytest

from vipar_lib.data import splits as S
from vipar_lib.data.synth import (
    CLASSES,
    MIRROR_OF,
    MOTION_OF,
    REVERSE_OF,
    SCENE_OF,
    cue_ceilings,
    generate,
    render_clip,
)


def test_layout_and_lists_match_ucf101_format(synth_root):
    lists = synth_root / "ucfTrainTestlist"
    raw = (lists / "trainlist01.txt").read_bytes()
    assert b"\r\n" in raw
    first = raw.decode().splitlines()[0]
    cls, _ = first.split()[0].split("/")
    assert first.split()[0] == f"{cls}/v_{cls}_g02_c01.avi"       # group 1 is in test
    assert (synth_root / "UCF-101" / first.split()[0]).is_file()
    test_lines = (lists / "testlist01.txt").read_text().splitlines()
    assert all(len(line.split()) == 1 and "_g01_" in line for line in test_lines)
    assert (synth_root / "UCF-101" / test_lines[0]).read_bytes()[8:12] == b"AVI "


def test_smaller_frames_keep_the_format(tmp_path):
    from vipar_lib.data.video import probe
    info = generate(tmp_path, classes=2, groups=2, clips=1, seed=1, workers=1, progress=False, size=(160, 120))
    assert info["size"] == [160, 120] and info["videos"] == 4
    p = next((tmp_path / "UCF-101").rglob("*.avi"))
    v = probe(p)
    assert (v.width, v.height, v.fps) == (160, 120, 25.0) and p.read_bytes()[8:12] == b"AVI "
    # the same picture at any size: lengths are relative to the frame
    big, small = render_clip("MoveRight", 1, 1, 2, 1), render_clip("MoveRight", 1, 1, 2, 1, size=(160, 120))
    assert big.shape[0] == small.shape[0]
    down = big.reshape(big.shape[0], 120, 2, 160, 2, 3).mean((2, 4))
    assert np.abs(down - small).mean() < 12
    with pytest.raises(ValueError, match="even"):
        generate(tmp_path / "odd", classes=2, groups=2, clips=1, size=(161, 120))


def test_deterministic_for_a_seed(tmp_path):
    a = generate(tmp_path / "a", classes=2, groups=2, clips=1, seed=7, workers=1, progress=False)
    b = generate(tmp_path / "b", classes=2, groups=2, clips=1, seed=7, workers=1, progress=False)
    assert a["videos"] == b["videos"] == 4
    h = lambda r: sorted(hashlib.sha1(p.read_bytes()).hexdigest() for p in (r / "UCF-101").rglob("*.avi"))
    assert h(tmp_path / "a") == h(tmp_path / "b")
    assert not np.array_equal(render_clip("MoveLeft", 7, 0, 1, 1), render_clip("MoveLeft", 8, 0, 1, 1))
    # a rerun with other settings rewrites the videos; the same settings keep them
    before = h(tmp_path / "a")
    generate(tmp_path / "a", classes=2, groups=2, clips=1, seed=8, workers=1, progress=False)
    assert h(tmp_path / "a") != before
    p = next((tmp_path / "a" / "UCF-101").rglob("*.avi"))
    mtime = p.stat().st_mtime_ns
    generate(tmp_path / "a", classes=2, groups=2, clips=1, seed=8, workers=1, progress=False)
    assert p.stat().st_mtime_ns == mtime


def _centroid_x(frames):
    # the object is what moves: use frame differences
    d = np.abs(frames[1:].astype(int) - frames[:-1].astype(int)).sum(-1) > 60
    xs = [np.nonzero(m)[1].mean() for m in d if m.any()]
    return np.array(xs)


def test_reverse_pairs_are_time_reversals():
    assert all(REVERSE_OF[REVERSE_OF[c]] == c for c in CLASSES)
    assert all(MIRROR_OF[MIRROR_OF[c]] == c for c in CLASSES)
    left = _centroid_x(render_clip("MoveLeft", 0, 0, 1, 1))
    right = _centroid_x(render_clip("MoveRight", 0, 1, 1, 1))
    assert left[-1] < left[0] - 40 and right[-1] > right[0] + 40
    still = render_clip("StillSquare", 0, 3, 1, 1).astype(int)
    moving = render_clip("MoveRight", 0, 1, 1, 1).astype(int)
    # Still classes: consecutive frames differ by noise only
    assert np.abs(still[1:] - still[:-1]).mean() < 0.5 * np.abs(moving[1:] - moving[:-1]).mean() + 8
    # a reverse pair rendered from the same randomness is the exact time reversal (scene and noise aside)
    from vipar_lib.data.synth import _trajectory
    for a in ("MoveRight", "MoveDown", "Grow"):
        fwd = _trajectory(a, 40, np.random.default_rng(5), 40.0, 320, 240)
        bwd = _trajectory(REVERSE_OF[a], 40, np.random.default_rng(5), 40.0, 320, 240)
        assert all(np.allclose(f[::-1], b) for f, b in zip(fwd, bwd))


def test_groups_split_like_ucf101(synth_root):
    sp = S.vipriors_split(synth_root / "ucfTrainTestlist")
    assert {e.group for e in sp["test"]} == {1}
    assert {e.group for e in sp["train"]} | {e.group for e in sp["validation"]} == {2, 3, 4}


# -- the cue design: appearance and motion each carry part of the class ------------------------------
def test_cue_structure():
    assert set(SCENE_OF) == set(MOTION_OF) == set(CLASSES) == set(REVERSE_OF) == set(MIRROR_OF)
    for c in CLASSES:
        # classes whose playback or mirror is another class look the same: only motion separates them
        assert SCENE_OF[REVERSE_OF[c]] == SCENE_OF[c] and SCENE_OF[MIRROR_OF[c]] == SCENE_OF[c]
    assert cue_ceilings(CLASSES[:10]) == {"chance": 0.1, "appearance": 0.7, "motion": 0.7, "both": 1.0}
    assert cue_ceilings() == {"chance": 1 / 16, "appearance": 10 / 16, "motion": 13 / 16, "both": 1.0}


def _appearance(frames):
    """One frame only: a 3x3x3 colour histogram, mean/std colour and edge energy along x and y."""
    f = frames[0].astype(np.float32) / 255
    q = np.minimum((f * 3).astype(int), 2)
    hist = np.bincount((q[..., 0] * 9 + q[..., 1] * 3 + q[..., 2]).ravel(), minlength=27) / q[..., 0].size
    g = f.mean(-1)
    return np.concatenate([np.sqrt(hist), f.mean((0, 1)), f.std((0, 1)),
                           [np.abs(np.diff(g, axis=1)).mean(), np.abs(np.diff(g, axis=0)).mean()]])


def _motion(frames):
    """Frame differences only: changed area, its trend, and the path of the change's centroid."""
    f = frames.astype(np.float32).mean(-1) / 255
    d = np.abs(f[1:] - f[:-1])
    w = d * (d > 0.08)
    area = (w > 0).reshape(len(w), -1).mean(1)
    yy, xx = np.mgrid[0:f.shape[1], 0:f.shape[2]]
    s = w.sum((1, 2))
    ok = s > 0
    cx = (w * xx).sum((1, 2))[ok] / s[ok] / f.shape[2]
    cy = (w * yy).sum((1, 2))[ok] / s[ok] / f.shape[1]
    vx, vy = (np.diff(cx), np.diff(cy)) if len(cx) > 1 else (np.zeros(1), np.zeros(1))
    turns = np.mean(np.diff(np.sign(vx)) != 0) if len(vx) > 1 else 0.0
    da = np.diff(area)
    return np.array([np.log(area.mean() + 1e-4), np.median(vx), np.median(vy), np.median(np.abs(vx)),
                     np.median(np.abs(vy)), turns, np.mean(da > 0) - np.mean(da < 0), np.std(cx) if len(cx) else 0.0])


def _nearest_centroid_scores(xtr, ytr, xte, n):
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    c = np.stack([((xtr - mu) / sd)[ytr == k].mean(0) for k in range(n)])
    s = -((((xte - mu) / sd)[:, None] - c[None]) ** 2).sum(-1)
    return (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-9)


@pytest.fixture(scope="module")
def probe_data():
    """The demo's 10 classes, 8 groups x 2 clips at 80x60; groups 1-3 held out, as test groups are."""
    classes = CLASSES[:10]
    app, mot, y, grp = [], [], [], []
    for ci, c in enumerate(classes):
        for g in range(1, 9):
            for k in (1, 2):
                fr = render_clip(c, 0, ci, g, k, size=(80, 60))
                app.append(_appearance(fr))
                mot.append(_motion(fr))
                y.append(ci)
                grp.append(g)
    y, grp = np.array(y), np.array(grp)
    tr, te = grp > 3, grp <= 3
    out = {"y": y[te], "classes": classes}
    for name, x in (("appearance", np.array(app)), ("motion", np.array(mot))):
        out[name] = _nearest_centroid_scores(x[tr], y[tr], x[te], len(classes))
    return out


def test_appearance_alone_and_motion_alone_each_carry_part_of_the_class(probe_data):
    y, classes = probe_data["y"], probe_data["classes"]
    scene = np.array([SCENE_OF[c] for c in classes])
    motion = np.array([MOTION_OF[c] for c in classes])
    acc = {k: float(np.mean(probe_data[k].argmax(1) == y)) for k in ("appearance", "motion")}
    pa, pm = probe_data["appearance"].argmax(1), probe_data["motion"].argmax(1)
    # each cue alone: well above chance (10%), well below solving the task (ceilings 70% / 70%)
    for k in acc:
        assert 0.35 <= acc[k] <= 0.8, acc
    # what each one knows: one frame finds the scene, frame differences find the motion ...
    assert np.mean(scene[pa] == scene[y]) >= 0.85
    assert np.mean(motion[pm] == motion[y]) >= 0.7
    # ... and what each one misses: appearance confuses pairs that share a scene (MoveLeft/MoveRight),
    # motion confuses the Still classes, which share "no motion"
    same_scene = [i for i in range(len(y)) if (scene == scene[y[i]]).sum() > 1]
    still = [i for i in range(len(y)) if classes[y[i]].startswith("Still")]
    assert np.mean(pa[same_scene] == y[same_scene]) <= 0.75
    assert np.mean(pm[still] == y[still]) <= 0.5
    # together they do clearly better than either (a sum of the two probes' standardised scores)
    both = float(np.mean((probe_data["appearance"] + probe_data["motion"]).argmax(1) == y))
    assert both >= max(acc.values()) + 0.08, (both, acc)
