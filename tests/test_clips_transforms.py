import numpy as np
import pytest
import torch

from vipar_lib.data.clips import clip_indices, eval_clip_indices, train_clip_indices
from vipar_lib.data.dataset import ClipDataset
from vipar_lib.data.splits import load_split_dir
from vipar_lib.data.transforms import AugmentConfig, ClipTransform, residual_frames, to_input


def eval_clip_indices_interval_and_short_policies():
    assert clip_indices(100, 5, 4, 2).tolist() == [5, 7, 9, 11]
    assert clip_indices(5, 0, 8, 1, short_policy="loop").tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert clip_indices(5, 0, 8, 1, short_policy="pad").tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    with pytest.raises(ValueError, match="allowed"):
        clip_indices(5, 0, 8, 1, short_policy="zero")
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = train_clip_indices(80, 16, 2, rng, extra=1)
        assert len(idx) == 17 and idx[-1] < 80 and np.all(np.diff(idx) == 2)


def test_test_clips_are_fixed_and_cover_the_video():
    clips = eval_clip_indices(100, 16, 1, 10)
    assert len(clips) == 10 and clips[0][0] == 0 and clips[-1][-1] == 99
    assert [c.tolist() for c in clips] == [c.tolist() for c in eval_clip_indices(100, 16, 1, 10)]
    r1 = eval_clip_indices(100, 16, 1, 3, positions="random", seed=1)
    r2 = eval_clip_indices(100, 16, 1, 3, positions="random", seed=1)
    assert [c.tolist() for c in r1] == [c.tolist() for c in r2]


def _ramp(t=4, h=20, w=30):
    # frame t has value 10*t, with a bright column at x=0 to see flips
    x = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        x[i] = 10 * i
    x[:, :, 5] = 255   # the left edge of the centre crop
    return x


@pytest.mark.parametrize("view", ["center", "flip", "random_crop", "reverse", "concat_reverse"])
def test_tta_views_do_what_their_name_says(view):
    frames = _ramp()
    tr = ClipTransform(crop_size=20, input_type="rgb", view=view)
    x = tr(frames, np.random.default_rng(0))          # C, T, H, W
    mean_t = x.mean(dim=(0, 2, 3))
    left, right = x[0, 0, :, 0], x[0, 0, :, -1]
    if view == "flip":
        assert (right > left).all()
    if view == "center":
        assert torch.all(mean_t[1:] > mean_t[:-1])
    if view == "reverse":
        assert torch.all(mean_t[1:] < mean_t[:-1])
    if view == "concat_reverse":
        assert x.shape[1] == 8 and torch.allclose(x[:, :4], x[:, 4:].flip(1))
    if view in ("center", "random_crop", "reverse"):
        assert x.shape == (3, 4, 20, 20)


def test_augmentations_are_consistent_across_frames():
    frames = np.repeat(np.random.default_rng(0).integers(0, 255, (1, 40, 50, 3), dtype=np.uint8), 6, 0)
    aug = AugmentConfig(multiscale=True, corner_crop=False, flip=True, lighting=0.3, contrast=0.3, reverse=True)
    tr = ClipTransform(crop_size=24, augment=aug)
    for seed in range(5):
        x = tr(frames, np.random.default_rng(seed))
        assert x.shape == (3, 6, 24, 24)
        assert torch.allclose(x[:, :1].expand_as(x), x, atol=1e-5)     # same op on every frame


def test_residual_frames_and_normalisation():
    f = torch.rand(5, 3, 8, 8)
    d = to_input(f, "diff")
    assert d.shape == (3, 4, 8, 8)
    assert torch.allclose(d[:, 0], (f[1] - f[0]) / 0.225)
    assert torch.allclose(residual_frames(torch.ones(3, 3, 2, 2)), torch.zeros(2, 3, 2, 2))
    with pytest.raises(ValueError, match="allowed"):
        to_input(f, "flow")


def test_dataset_train_and_test_items(synth_root, synth_split):
    sp = load_split_dir(synth_split)
    root = synth_root / "UCF-101"
    tr = ClipDataset(sp["train"], root, ClipTransform(crop_size=32, input_type="diff",
                     augment=AugmentConfig(intervals=(1, 2))), clip_len=8, train=True, short_side=40)
    x, y, v = tr[0]
    assert x.shape == (3, 8, 32, 32) and y == sp["train"][v].label
    te = ClipDataset(sp["test"], root, ClipTransform(crop_size=32, view="center"), clip_len=8,
                     train=False, short_side=40, num_clips=3)
    assert len(te) == 3 * len(sp["test"])
    a, b = te[0][0], te[0][0]
    assert torch.equal(a, b) and not torch.equal(te[0][0], te[1][0])


def test_training_dataset_skips_bad_videos_with_one_warning(synth_root, synth_split, bad_videos):
    import dataclasses
    sp = load_split_dir(synth_split)
    root = synth_root / "UCF-101"
    entries = list(sp["train"]) + [dataclasses.replace(sp["train"][0], path=str(bad_videos[k]))
                                   for k in ("missing", "empty", "corrupt")]
    with pytest.warns(UserWarning, match="skipping 3 unreadable") as rec:
        ds = ClipDataset(entries, root, ClipTransform(crop_size=32), clip_len=4, train=True, short_side=40)
    assert len(ds) == len(sp["train"]) and len(ds.bad_videos) == 3
    assert str(bad_videos["corrupt"]) in str(rec[0].message)
