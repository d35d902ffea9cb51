"""#21: scoring breaks ties pessimistically: a tie with the true class is not a hit, so constant rows never score."""
from pathlib import Path

import numpy as np
import pytest

from vipar_lib import metrics as M
from vipar_lib import released as R
from vipar_lib.logits import LogitsFile

C, N = 101, 303
LABELS = np.arange(N) % C


def _release(**arrays) -> R.Release:
    classes = [f"c{i:03d}" for i in range(C)]
    video = np.array([f"video_test_{i:07d}.avi" for i in range(1, N + 1)])
    rel = R.Release(Path("."), Path("."), video, LABELS.copy(), classes, list(range(1, C + 1)))
    for name, x in arrays.items():
        rel.files[name] = LogitsFile(video, LABELS, x.astype(np.float32), {"classes": classes})
    return rel


def test_metrics_count_a_tie_with_the_true_class_as_wrong():
    zeros = np.zeros((N, C))
    assert M.top1(zeros, LABELS) == 0.0 and M.mean_class_accuracy(zeros, LABELS) == 0.0
    assert M.topk_accuracy(zeros, LABELS, 5) == 0.0 and M.topk_accuracy(zeros, LABELS, 1) == 0.0
    assert (M.predictions(zeros) == -1).all()
    assert M.confusion_matrix(zeros, LABELS, C).sum() == 0            # a tie predicts nothing
    # the true class tied with one other class at the top: not a top-1 hit, still a top-2 hit
    x = np.zeros((N, C))
    x[np.arange(N), LABELS] = 1.0
    x[np.arange(N), (LABELS + 1) % C] = 1.0
    assert M.top1(x, LABELS) == 0.0 and M.topk_accuracy(x, LABELS, 2) == 1.0
    # tied with five others in the top 5: not a top-5 hit
    y = np.zeros((N, C))
    for d in range(6):
        y[np.arange(N), (LABELS + d) % C] = 1.0
    assert M.topk_accuracy(y, LABELS, 5) == 0.0 and M.topk_accuracy(y, LABELS, 6) == 1.0
    # a clean win is still a hit, and a paired difference sees the tie as a loss
    win = np.eye(C)[LABELS]
    assert M.top1(win, LABELS) == M.topk_accuracy(win, LABELS, 5) == M.mean_class_accuracy(win, LABELS) == 1.0
    assert M.paired_difference(win, zeros, LABELS, n=50)[0] == 1.0
    # unknown labels (-1) never count as hits, whatever the scores
    assert M.topk_accuracy(win, np.full(N, -1), 5) == 0.0


def test_released_scorers_give_constant_rows_no_hit():
    tie = np.eye(C)[LABELS] + np.eye(C)[(LABELS + 3) % C]
    rel = _release(zeros=np.zeros((N, C)), perfect=np.eye(C)[LABELS], tie=tie)
    s = R.score_files(rel, n_boot=20)
    z = s["files"]["zeros"]
    assert z["top5"] == 0.0 and z["top1"] == 0.0 and z["mean_class"] == 0.0
    assert z["ci_high"] == 0.0
    assert s["files"]["perfect"]["top1"] == s["files"]["perfect"]["top5"] == 1.0
    t = s["files"]["tie"]
    assert t["top1"] == 0.0 and t["top5"] == 1.0
    pc = R.per_class(np.zeros((N, C)), LABELS, rel.classes)
    assert all(r["correct"] == 0 for r in pc["classes"])
    # a greedy selection never picks a member for its ties
    chosen = R.greedy_select([np.zeros((N, C)), np.eye(C)[LABELS]], LABELS, C)
    assert chosen == [1]


@pytest.mark.parametrize("k", [1, 5])
def test_metrics_and_released_scorers_agree_on_random_and_tied_logits(k):
    rng = np.random.default_rng(k)
    x = rng.integers(0, 3, size=(N, C)).astype(np.float32)          # many ties
    rel = _release(x=x)
    s = R.score_files(rel, n_boot=10)["files"]["x"]
    assert s["top1"] == pytest.approx(M.top1(x, LABELS))
    assert s["top5"] == pytest.approx(M.topk_accuracy(x, LABELS, 5))
    assert s["mean_class"] == pytest.approx(M.mean_class_accuracy(x, LABELS))
