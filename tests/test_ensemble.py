import numpy as np
import pytest

from vipar_lib.cli import main
from vipar_lib.ensemble import EnsembleError, combine, greedy_search
from vipar_lib.logits import LogitsFile, load_logits, save_logits
from vipar_lib.metrics import mean_class_accuracy, top1

RNG = np.random.default_rng(0)
VIDEOS = np.array([f"video_test_{i:07d}.avi" for i in range(1, 13)])
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3])


def _lf(logits, order=None, meta=None):
    order = np.arange(len(VIDEOS)) if order is None else order
    return LogitsFile(VIDEOS[order], LABELS[order], logits[order].astype(np.float32),
                      meta or {"class_ids": [7, 3, 9, 1], "classes": list("abcd"), "split": "test"})


def test_combine_matches_numpy_and_aligns_by_video_id(tmp_path):
    a, b = RNG.normal(size=(12, 4)), RNG.normal(size=(12, 4))
    perm = RNG.permutation(12)
    e = combine([_lf(a), _lf(b, perm)], weights=[2.0, 0.5])
    expect = 2.0 * a + 0.5 * b                                      # same videos, ids sorted
    assert np.allclose(e.logits, expect[np.argsort(VIDEOS)], atol=1e-5)
    assert e.top1 == pytest.approx(np.mean(expect.argmax(1) == LABELS))
    per_class = [np.mean(expect.argmax(1)[LABELS == c] == c) for c in range(4)]
    assert e.mean_class == pytest.approx(np.mean(per_class))
    # CLI: the same numbers from files
    pa, pb = save_logits(tmp_path / "a.npz", _lf(a)), save_logits(tmp_path / "b.npz", _lf(b, perm))
    out = tmp_path / "e.npz"
    assert main(["ensemble", str(pa), str(pb), "--weights", "2", "0.5", "--out", str(out), "--json"]) == 0
    assert np.allclose(load_logits(tmp_path / "e.npz").logits, e.logits)


def test_combine_refuses_different_video_sets():
    a = _lf(RNG.normal(size=(12, 4)))
    b = _lf(RNG.normal(size=(12, 4)), np.arange(11))
    with pytest.raises(EnsembleError, match=r"1 only in the first \(e.g. \['video_test_0000012.avi'\]\)"):
        combine([a, b], names=["a.npz", "b.npz"])


def test_undecodable_rows_count_wrong():
    x = np.eye(4)[LABELS] * 5.0
    x[0] = np.nan
    assert top1(x, LABELS) == pytest.approx(11 / 12)
    assert mean_class_accuracy(x, LABELS) == pytest.approx(np.mean([2 / 3, 1, 1, 1]))


# the challenge's submission/ground-truth files and metric: tests/test_challenge.py


def test_greedy_search_chooses_on_validation_only():
    good = np.eye(4)[LABELS] * 3.0
    noisy = RNG.normal(size=(12, 4))
    val = {"good": _lf(good), "noise": _lf(noisy)}
    test = {"good": _lf(noisy), "noise": _lf(good)}     # test says the opposite; must not matter
    res = greedy_search(val, test)
    assert res["chosen"][0] == "good"
    assert res["steps"][0]["val_mean_class"] == pytest.approx(1.0)
    assert res["steps"][0]["test_mean_class"] == pytest.approx(mean_class_accuracy(noisy, LABELS))
