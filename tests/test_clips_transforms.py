import numpy as np
import pytest
import torch

from vipar_lib.data.clips import clip_indices, eval_clip_indices, train_clip_indices
from vipar_lib.data.dataset import ClipDataset
from vipar_lib.data.splits import load_split_dir
from vipar_lib.data.transforms import (
    MEAN,
    STD,
    AugmentConfig,
    ClipTransform,
    normalize_clips,
    residual_frames,
    to_input,
)


def test_clip_indices_interval_and_short_policies():
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
    item = tr[0]
    # uint8 clip (T+1 frames for residual input), channels last; normalised later on the device
    assert item["clip"].shape == (9, 32, 32, 3) and item["clip"].dtype == torch.uint8
    assert item["affine"].shape == (2,) and item["label"] == sp["train"][item["video"]].label
    assert item["failed"] == ""
    x = normalize_clips(item["clip"][None], item["affine"][None], "diff")[0]
    assert x.shape == (3, 8, 32, 32) and x.dtype == torch.float32
    # the epoch travels with the index (persistent workers never see set_epoch)
    tr.set_epoch(3)
    assert torch.equal(tr[(3, 0, ())]["clip"], tr[0]["clip"])
    te = ClipDataset(sp["test"], root, ClipTransform(crop_size=32, view="center"), clip_len=8,
                     train=False, short_side=40, num_clips=3)
    assert len(te) == 3 * len(sp["test"])
    a, b = te[0]["clip"], te[0]["clip"]
    assert torch.equal(a, b) and not torch.equal(te[0]["clip"], te[1]["clip"])


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


def _former_float_input(x, gain, contrast, input_type, diff_std=STD):
    """The CPU worker's float conversion before issue #12, verbatim: the reference for the device path."""
    y = x.permute(1, 0, 2, 3).contiguous().float()
    scale = gain / 255.0
    if contrast != 1.0:
        m = float(x[:, :, ::4, ::4].float().mean()) * scale
        y.mul_(scale * contrast).add_(m * (1.0 - contrast))
    else:
        y.mul_(scale)
    if gain != 1.0 or contrast != 1.0:
        y.clamp_(0, 1)
    if input_type == "rgb":
        return y.sub_(MEAN).div_(STD)
    return (y[:, 1:] - y[:, :-1]).div_(diff_std)


class _Recorder(ClipTransform):
    """Keeps the uint8 geometry output and the gain/contrast drawn, to feed the former conversion."""

    def apply(self, x, p, idx=None):
        out = super().apply(x, p, idx)
        self.seen = out, float(p[11]), float(p[12])
        return out


@pytest.mark.parametrize("input_type", ["rgb", "diff"])
def test_device_normalisation_is_the_former_cpu_conversion_bit_for_bit(input_type):
    frames = np.random.default_rng(0).integers(0, 256, (9, 60, 80, 3), dtype=np.uint8)
    aug = AugmentConfig(multiscale=True, corner_crop=False, flip=True, lighting=0.3, contrast=0.3, reverse=True)
    tr = _Recorder(crop_size=40, input_type=input_type, augment=aug)
    clips, affines, former = [], [], []
    for seed in range(12):
        x, a = tr.clip(frames, np.random.default_rng(seed))
        geo, gain, contrast = tr.seen
        assert torch.equal(x, geo.permute(0, 2, 3, 1))                  # the uint8 clip is the geometry's output
        former.append(_former_float_input(geo, gain, contrast, input_type))
        clips.append(x)
        affines.append(a)
    batch = normalize_clips(torch.stack(clips), torch.stack(affines), input_type)     # one batched pass
    assert batch.shape == (12, 3, 8 if input_type == "diff" else 9, 40, 40)
    for i in range(12):
        assert torch.equal(batch[i], former[i]), i
    # test views: no brightness/contrast, the clamp changes nothing
    for view in ("center", "flip", "concat_reverse"):
        tv = ClipTransform(crop_size=40, input_type=input_type, view=view)
        x, a = tv.clip(frames, np.random.default_rng(1))
        geo = tv.apply(torch.from_numpy(frames), tv.plan(60, 80, np.random.default_rng(1)))
        assert torch.equal(normalize_clips(x[None], a[None], input_type)[0], _former_float_input(geo, 1.0, 1.0,
                                                                                               input_type))


def test_clip_cut_from_a_longer_decode_equals_the_clip_alone():
    frames = np.random.default_rng(0).integers(0, 256, (20, 50, 70, 3), dtype=np.uint8)
    idx = np.array([3, 5, 7, 9, 11])
    aug = AugmentConfig(multiscale=True, corner_crop=True, flip=True, lighting=0.2, contrast=0.2, reverse=True)
    for tr in [ClipTransform(crop_size=32, augment=aug)] + [ClipTransform(crop_size=32, view=v)
                                                           for v in ("center", "random_crop", "concat_reverse")]:
        for seed in range(4):
            a = tr.clip(frames[idx], np.random.default_rng(seed))
            b = tr.clip(torch.from_numpy(frames), np.random.default_rng(seed), idx=idx)
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
