"""Evaluation decodes each video once for all test-time views (issue #12): same clips, same numbers."""
import numpy as np
import pytest
import torch
from test_engine import _cfg

from vipar_lib.data.dataset import ClipDataset, MultiViewDataset
from vipar_lib.data.splits import load_split_dir
from vipar_lib.data.transforms import TTA_VIEWS, ClipTransform
from vipar_lib.data.video import DECODE_STATS
from vipar_lib.engine.config import config_from_dict
from vipar_lib.engine.evaluate import evaluate_run
from vipar_lib.engine.train import train
from vipar_lib.logits import load_logits

# the release's test clips (libb/dataset.py:43,96-111,143-146): a random size, window, start and crop per clip
RELEASE = dict(short_side_range=(36, 44), crop="random", window=20, short_policy="pingpong")


@pytest.mark.parametrize("input_type,positions,interval,release", [("rgb", "uniform", 1, False),
                                                                   ("diff", "random", 2, False),
                                                                   ("rgb", "random", 1, True),
                                                                   ("diff", "uniform", 2, True)])
def test_views_from_one_decode_are_the_per_view_clips_bit_for_bit(synth_root, synth_split, input_type, positions,
                                                                   interval, release):
    sp = load_split_dir(synth_split)
    root = synth_root / "UCF-101"
    entries = sp["test"][:6]
    common = dict(short_side=40, interval=interval, num_clips=3, positions=positions, seed=5)
    extra = {}
    if release:
        common.update(short_side=44, window=RELEASE["window"], short_policy=RELEASE["short_policy"])
        extra = dict(short_side_range=RELEASE["short_side_range"], crop=RELEASE["crop"], normalize="imagenet")
    trs = [ClipTransform(crop_size=32, input_type=input_type, view=v, **extra) for v in TTA_VIEWS]
    multi = MultiViewDataset(entries, root, trs, clip_len=8, **common)
    singles = [ClipDataset(entries, root, t, clip_len=8, train=False, **common) for t in trs]
    for v in range(len(multi)):
        before = dict(DECODE_STATS)
        item = multi[v]
        assert DECODE_STATS["reads"] - before["reads"] == 1          # one read per video for all views
        assert item["failed"] == "" and len(item["views"]) == len(TTA_VIEWS)
        for ds, (clips, affines) in zip(singles, item["views"]):
            assert len(clips) == 3
            for k in range(3):
                one = ds[v * 3 + k]
                assert torch.equal(clips[k], one["clip"]) and torch.equal(affines[k], one["affine"])


@pytest.mark.parametrize("release", [False, True])
def test_decode_once_gives_the_per_view_numbers(synth_root, synth_split, tmp_path, release):
    data, ev = {"input_type": "diff"}, {"num_clips": 3, "batch_size": 5, "positions": "random"}
    if release:
        data.update(normalize="imagenet", short_side_range=[36, 44], window=20, short_policy="pingpong")
        ev.update(crop="random")
    d = _cfg(synth_split, synth_root, tmp_path, train={"epochs": 1}, data=data, eval=ev)
    run = train(config_from_dict(d))
    views = list(TTA_VIEWS)
    once = evaluate_run(run, views=views, progress=False, checkpoint="last")
    saved = {p: load_logits(p) for p in once}
    per_view = evaluate_run(run, views=views, progress=False, checkpoint="last", decode="per_view", force=True)
    assert [p.name for p in once] == [p.name for p in per_view]
    for p in per_view:
        a, b = saved[p], load_logits(p)
        assert (a.video == b.video).all() and (a.label == b.label).all() and a.meta == b.meta
        # the clips are bit-identical (test above); the logits may differ in the last bits only because
        # batches mix views and videos differently (CPU convolutions block by batch size)
        np.testing.assert_allclose(a.logits, b.logits, rtol=1e-6, atol=1e-6)
        assert not np.isnan(a.logits).any()
    if release:                                     # random test clips: the same seed gives the same logits
        again = evaluate_run(run, views=views, progress=False, checkpoint="last", force=True)
        for p in again:
            assert np.array_equal(load_logits(p).logits, saved[p].logits)
