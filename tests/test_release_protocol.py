"""The release reading's data, augmentation and test-clip options (xdw1995/123 @ 40c31aa; README: interpretation).

``tests/data/opencv_hls8.npz`` holds OpenCV's own answers for the 8-bit HLS conversions, made with
opencv-python-headless 5.0.0 (not a dependency of vipar)::

    rgb2hls = cv2.cvtColor(rgb[None], cv2.COLOR_RGB2HLS)[0]      # 4,512 colours: extremes, 1,500 colours
    hls2rgb = cv2.cvtColor(hls[None], cv2.COLOR_HLS2RGB)[0]      # where a float32 hue without FMA is off
                                                                 # by one, 3,000 random; 3,008 HLS triples
"""
import colorsys
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from test_engine import _cfg

from vipar_lib.data.clips import (
    clip_indices,
    eval_clip_indices,
    kept_frames,
    last_start,
    pingpong_length,
    train_clip_indices,
)
from vipar_lib.data.dataset import ClipDataset
from vipar_lib.data.splits import SplitError, load_split_dir
from vipar_lib.data.transforms import (
    HLS_AFFINE,
    NORMALIZATIONS,
    AugmentConfig,
    ClipTransform,
    hls8_to_rgb,
    hls_jitter,
    normalize_clips,
    resize_short_side,
    rgb_to_hls8,
)
from vipar_lib.engine.config import ConfigError, config_from_dict, config_hash
from vipar_lib.engine.evaluate import evaluate_run
from vipar_lib.engine.train import train
from vipar_lib.logits import load_logits
from vipar_lib.models import model_options
from vipar_lib.study import load_study, plan_study

OPENCV = Path(__file__).parent / "data" / "opencv_hls8.npz"
NO_COLOUR = dict(multiscale=False, corner_crop=False, flip=False, lighting=0.0, contrast=0.0)


# -- clip positions: ping-pong, window ---------------------------------------------------------------
def _release_buffer(n, t):
    """The release's extension, written as it reads (libb/dataset.py:56-57)."""
    buf = list(range(n))
    while len(buf) < t + 2:
        buf = buf + buf[::-1]
    return buf


def test_pingpong_is_the_release_palindrome_n28_t64():
    assert pingpong_length(28, 64) == 112 and last_start(28, 64, "pingpong") == 47
    first = clip_indices(28, 0, 64, 1, short_policy="pingpong").tolist()
    assert first == list(range(28)) + list(range(27, -1, -1)) + list(range(8))
    buf = _release_buffer(28, 64)
    assert len(buf) == 112
    for start in range(48):
        assert clip_indices(28, start, 64, 1, short_policy="pingpong").tolist() == buf[start:start + 64]
    # training clips are exactly the release's buffer[start:start + 64], start 0..47 (48 is never drawn)
    rng = np.random.default_rng(0)
    seen = {tuple(train_clip_indices(28, 64, 1, rng, short_policy="pingpong")) for _ in range(3000)}
    assert seen == {tuple(buf[s:s + 64]) for s in range(48)}
    # a Diff clip (65 frames) crossing a turn has a zero difference there: the turning frame repeats
    idx = clip_indices(28, 0, 64, 1, extra=1, short_policy="pingpong")
    assert idx[27] == idx[28] == 27 and idx[55] == idx[56] == 0
    # a long video is not extended; its last start is never drawn either (libb/dataset.py:143)
    assert pingpong_length(100, 64) == 100 and last_start(100, 64, "pingpong") == 35
    assert clip_indices(100, 35, 64, 1, short_policy="pingpong").tolist() == list(range(35, 99))


def test_window_keeps_at_most_n_frames_and_never_the_last():
    rng = np.random.default_rng(1)
    assert kept_frames(1000, 300) == 300 and kept_frames(50, 300) == 49 and kept_frames(1, 300) == 1
    assert kept_frames(1000, 0) == 1000
    lows, highs = set(), set()
    for _ in range(2000):
        idx = train_clip_indices(1000, 16, 1, rng, window=300)
        assert idx.max() <= 998 and idx.max() - idx.min() == 15
        lows.add(int(idx.min()))
        highs.add(int(idx.max()))
    assert min(lows) <= 20 and max(highs) >= 980                      # windows reach both ends of the video
    for _ in range(200):                                               # shorter than the window: frames 0..F-2
        idx = train_clip_indices(50, 64, 1, rng, window=300, short_policy="pingpong")
        assert idx.max() <= 48 and len(idx) == 64
    # test clips: one window per clip, drawn from the seeded RNG; same seed, same clips
    a = eval_clip_indices(1000, 16, 1, 10, positions="random", seed=7, window=300)
    b = eval_clip_indices(1000, 16, 1, 10, positions="random", seed=7, window=300)
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    assert len({int(x[0]) for x in a}) > 5 and max(int(x.max()) for x in a) <= 998
    # the default (no window) draws what it always drew
    plain = eval_clip_indices(1000, 16, 1, 4, positions="random", seed=7)
    starts = np.random.default_rng(7).integers(0, 1000 - 16 + 1, size=4)
    assert [int(x[0]) for x in plain] == starts.tolist()


def _dataset(synth_root, synth_split, clip_len, **aug):
    sp = load_split_dir(synth_split)
    tr = ClipTransform(crop_size=32, augment=AugmentConfig(**{**NO_COLOUR, **aug}))
    return ClipDataset(sp["train"][:2], synth_root / "UCF-101", tr, clip_len=clip_len, train=True, short_side=36)


def test_long_only_draws_interval_two_only_for_long_videos(synth_root, synth_split):
    ds = _dataset(synth_root, synth_split, 64, intervals=(1, 2), interval_rule="long_only")
    ds.frames = [130, 131]                       # 2T+2 = 130: the first is "short", the second long
    rng = np.random.default_rng(0)
    assert {ds._train_interval(0, rng) for _ in range(500)} == {1}
    assert {ds._train_interval(1, rng) for _ in range(500)} == {1, 2}
    ds.window = 120                              # the rule counts the frames the window keeps
    assert {ds._train_interval(1, rng) for _ in range(500)} == {1}
    ds.window = 0
    ds.extra = 1                                 # Diff: T counts the extra frame, 2*65+2 = 132
    assert {ds._train_interval(1, rng) for _ in range(500)} == {1}
    anyrule = _dataset(synth_root, synth_split, 64, intervals=(1, 2))
    anyrule.frames = [40, 40]
    assert {anyrule._train_interval(0, rng) for _ in range(500)} == {1, 2}


# -- the transform ----------------------------------------------------------------------------------
def _ramp(t=6, h=40, w=48):
    x = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        x[i] = 20 * i
    return x


@pytest.mark.parametrize("scheme", ["text", "release"])
def test_reverse_p_zero_and_one_are_exact(scheme):
    frames = _ramp()
    extra = dict(rescale_short=(36.0, 44.0), hls_p=0.0) if scheme == "release" else {}
    for p, direction in ((1.0, -1), (0.0, 1)):
        tr = ClipTransform(crop_size=32, augment=AugmentConfig(**NO_COLOUR, reverse=True, reverse_p=p, scheme=scheme,
                                                               **extra))
        for seed in range(20):
            x, _ = tr.clip(frames, np.random.default_rng(seed))
            m = x.float().mean(dim=(1, 2, 3))
            assert torch.all(direction * (m[1:] - m[:-1]) > 0), (p, seed)


def _coords(t=3, h=40, w=48):
    """Frames whose red channel is the x coordinate and green channel the y coordinate (times 4)."""
    x = np.zeros((t, h, w, 3), np.uint8)
    x[..., 0] = 4 * np.arange(w)[None, None, :]
    x[..., 1] = 4 * np.arange(h)[None, :, None]
    return x


def test_release_scheme_geometry_aspect_and_scale():
    aug = AugmentConfig(scheme="release", flip=False, rescale_short=(36.0, 44.0), hls_p=0.0)
    tr = ClipTransform(crop_size=32, augment=aug)
    frames = _coords()
    ratios, shorts = [], []
    for seed in range(300):
        x, a = tr.clip(frames, np.random.default_rng(seed))
        assert x.shape == (3, 32, 32, 3) and x.dtype == torch.uint8 and a.shape == (HLS_AFFINE,)
        assert torch.equal(x[0], x[1]) and torch.equal(x[0], x[2])          # one crop/scale for every frame
        f = x[0].float()
        # source pixels per output pixel along x and y: slopes of the coordinate ramps (inner part)
        sx = float((f[8:24, 24, 0] - f[8:24, 8, 0]).mean()) / 16 / 4
        sy = float((f[24, 8:24, 1] - f[8, 8:24, 1]).mean()) / 16 / 4
        ratios.append(sy / sx)                   # = (w'/32) / (h'/32) = r^2 of RandomScale
        shorts.append(32 / max(sx, sy))          # the short side the 32 crop was resized to
    ratios, shorts = np.array(ratios), np.array(shorts)
    assert ratios.min() >= 0.64 * 0.93 and ratios.max() <= 1.5625 * 1.07       # r^2 with r in [0.8, 1.25]
    assert (ratios < 0.8).any() and (ratios > 1.25).any()                       # r and 1/r both drawn
    assert shorts.min() >= 36 * 0.93 and shorts.max() <= 45 * 1.07              # int(U[36, 44] + 1)


def test_release_scheme_flip_and_hls_are_one_draw_per_clip():
    rng0 = np.random.default_rng(0)
    frame = rng0.integers(0, 256, (1, 40, 48, 3), dtype=np.uint8)
    frames = np.repeat(frame, 5, 0)
    aug = AugmentConfig(scheme="release", rescale_short=(36.0, 44.0), reverse=True)
    tr = ClipTransform(crop_size=32, augment=aug, normalize="imagenet")
    drawn = []
    for seed in range(40):
        x, a = tr.clip(frames, np.random.default_rng(seed))
        y = normalize_clips(x[None], a[None], "rgb", normalize="imagenet")[0]
        assert torch.equal(y[:, :1].expand_as(y), y)                    # the same shift on every frame
        on, *delta = a[2:].tolist()
        drawn.append(on)
        if on:
            assert abs(delta[0]) <= 15 and abs(delta[1]) <= 35 and abs(delta[2]) <= 25
            assert all(float(d).is_integer() for d in delta)
            want = hls_jitter(x.permute(0, 3, 1, 2), delta).permute(0, 2, 3, 1)
            assert torch.equal(normalize_clips(x[None], a[None], "rgb", normalize="imagenet")[0],
                               normalize_clips(want[None], a[None, :2], "rgb", normalize="imagenet")[0])
        else:
            assert a[3:].tolist() == [0.0, 0.0, 0.0]
    assert 0 < sum(drawn) < 40                                          # p = 0.8
    never = ClipTransform(crop_size=32, augment=AugmentConfig(scheme="release", rescale_short=(36.0, 44.0), hls_p=0))
    assert all(never.clip(frames, np.random.default_rng(s))[1][2] == 0 for s in range(10))


def test_release_scheme_ignores_the_text_pipeline_fields():
    frames = np.random.default_rng(0).integers(0, 256, (4, 40, 48, 3), dtype=np.uint8)
    base = dict(scheme="release", rescale_short=(36.0, 44.0))
    a = ClipTransform(crop_size=32, augment=AugmentConfig(**base))
    b = ClipTransform(crop_size=32, augment=AugmentConfig(**base, multiscale=False, corner_crop=False, lighting=0.0,
                                                          contrast=0.0, scale_range=(0.5, 0.6)))
    for seed in range(5):
        xa, aa = a.clip(frames, np.random.default_rng(seed))
        xb, ab = b.clip(frames, np.random.default_rng(seed))
        assert torch.equal(xa, xb) and torch.equal(aa, ab)
    with pytest.raises(ValueError, match="rescale_short"):
        ClipTransform(crop_size=112, augment=AugmentConfig(scheme="release", rescale_short=(100.0, 160.0)))


# -- 8-bit HLS ---------------------------------------------------------------------------------------
def test_hls_conversions_are_opencvs():
    z = np.load(OPENCV)
    rgb = torch.from_numpy(z["rgb"])[:, :, None, None]                  # (N, 3, 1, 1)
    assert np.array_equal(rgb_to_hls8(rgb)[:, :, 0, 0].numpy(), z["rgb2hls"])
    hls = torch.from_numpy(z["hls"])[:, :, None, None]
    assert np.array_equal(hls8_to_rgb(hls)[:, :, 0, 0].numpy(), z["hls2rgb"])
    # channels last gives the same
    assert np.array_equal(rgb_to_hls8(torch.from_numpy(z["rgb"]), dim=-1).numpy(), z["rgb2hls"])


def _colorsys_hls8(px):
    out = []
    for r, g, b in px:
        h, light, s = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
        out.append([round(h * 180), round(light * 255), round(s * 255)])
    return np.array(out)


def _colorsys_rgb8(hls):
    return np.array([[round(c * 255) for c in colorsys.hls_to_rgb(h / 180, light / 255, s / 255)]
                     for h, light, s in hls])


def test_hls_against_the_formula_within_one_unit():
    """Against Python's colorsys in float64 (rounded to 8 bits): within 1 unit (hue compared on the circle);
    the differences are ties (x.5) that float32 and float64 round differently."""
    px = np.random.default_rng(3).integers(0, 256, (3000, 3))
    mine = rgb_to_hls8(torch.from_numpy(px.astype(np.uint8)), dim=-1).numpy().astype(int)
    ref = _colorsys_hls8(px)
    d = mine - ref
    d[:, 0] = (d[:, 0] + 90) % 180 - 90
    assert np.abs(d).max() <= 1
    rng = np.random.default_rng(4)
    hls = np.stack([rng.integers(0, 181, 3000), *rng.integers(0, 256, (2, 3000))], 1)
    back = hls8_to_rgb(torch.from_numpy(hls.astype(np.uint8)), dim=-1).numpy().astype(int)
    assert np.abs(back - _colorsys_rgb8(hls)).max() <= 1
    # round trip (lossy in 8 bits, as OpenCV's: pure red comes back as (255, 1, 1)): greys exact, every
    # colour within 5 levels (the hue's 2-degree steps)
    v = torch.arange(0, 256, 5, dtype=torch.uint8)
    grid = torch.stack(torch.meshgrid(v, v, v, indexing="ij"), -1)
    assert (hls8_to_rgb(rgb_to_hls8(grid, -1), -1).int() - grid.int()).abs().max() <= 5
    greys = torch.arange(256, dtype=torch.uint8)[:, None].expand(256, 3)
    assert torch.equal(hls8_to_rgb(rgb_to_hls8(greys, -1), -1), greys)


def test_hls_jitter_adds_clips_and_matches_the_reference():
    px = np.random.default_rng(6).integers(0, 256, (400, 3))
    x = torch.from_numpy(px.astype(np.uint8))
    for delta in ([15, -35, 25], [-15, 35, -25], [7, 0, -3]):
        out = hls_jitter(x, delta, dim=-1).numpy().astype(int)
        ref_hls = _colorsys_hls8(px)
        shifted = np.minimum(np.maximum(ref_hls + delta, 0), [180, 255, 255])
        ref = _colorsys_rgb8(shifted)
        same = (rgb_to_hls8(x, -1).numpy().astype(int) == ref_hls).all(1)     # where the 8-bit HLS agree (most)
        assert same.mean() > 0.6 and np.array_equal(out[same], ref[same])
    # hue is clipped, not wrapped: a red of H=0 shifted by -15 stays red, a hue of 175 + 15 becomes 180 (= red)
    red = torch.tensor([[200, 10, 10]], dtype=torch.uint8)
    assert torch.equal(hls_jitter(red, [-15, 0, 0], dim=-1), red)
    magenta_red = hls8_to_rgb(torch.tensor([[175, 100, 200]], dtype=torch.uint8), -1)
    assert int(rgb_to_hls8(hls_jitter(magenta_red, [15, 0, 0], dim=-1), -1)[0, 0]) in (0, 180)
    assert int(rgb_to_hls8(hls_jitter(magenta_red, [-15, 0, 0], dim=-1), -1)[0, 0]) in (159, 160, 161)


# -- normalisation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels_last", [False, True])
def test_imagenet_normalisation_and_residual_identity(channels_last):
    clips = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 5, 6, 7, 3), dtype=np.uint8))
    aff = torch.tensor([[1 / 255, 0.0]] * 2)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1, 1) for v in NORMALIZATIONS["imagenet"])
    y01 = clips.permute(0, 4, 1, 2, 3).float() * torch.tensor(1 / 255, dtype=torch.float32)
    rgb = normalize_clips(clips, aff, "rgb", normalize="imagenet", channels_last=channels_last)
    assert torch.equal(rgb, (y01 - mean) / std)
    diff = normalize_clips(clips, aff, "diff", normalize="imagenet", channels_last=channels_last)
    assert diff.shape == (2, 3, 4, 6, 7)
    torch.testing.assert_close(diff, rgb[:, :, 1:] - rgb[:, :, :-1], rtol=0, atol=2e-6)   # differences of normalised
    assert torch.equal(diff, (y01[:, :, 1:] - y01[:, :, :-1]) / std)
    # kinetics: today's (y[t+1] - y[t]) / 0.225 and (y - 0.45) / 0.225, bit for bit
    k = normalize_clips(clips, aff, "diff", normalize="kinetics", channels_last=channels_last)
    assert torch.equal(k, normalize_clips(clips, aff, "diff", channels_last=channels_last))
    assert torch.equal(k, (y01[:, :, 1:] - y01[:, :, :-1]) / 0.225)
    with pytest.raises(ValueError, match=r"normalize='z'; allowed: \['kinetics', 'imagenet'\]"):
        normalize_clips(clips, aff, "rgb", normalize="z")


# -- short side range, test crops ------------------------------------------------------------------
def test_short_side_range_draws_one_side_per_clip():
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (6, 44, 58, 3), dtype=np.uint8))
    assert resize_short_side(frames, 36).shape == (6, 36, 47, 3)
    assert resize_short_side(frames, 44) is frames
    tr = ClipTransform(crop_size=32, view="center", short_side_range=(36, 44))
    sides = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        side = int(np.random.default_rng(seed).integers(36, 45))
        sides.add(side)
        x, _ = tr.clip(frames, rng, idx=np.array([1, 3, 5]))
        want = ClipTransform(crop_size=32, view="center").clip(resize_short_side(frames[[1, 3, 5]], side), rng)[0]
        assert torch.equal(x, want)
    assert len(sides) > 5


def test_random_test_crops_compose_with_the_views():
    frames = np.random.default_rng(0).integers(0, 256, (6, 40, 52, 3), dtype=np.uint8)
    common = dict(crop_size=32, short_side_range=(36, 40), crop="random")
    get = {v: [ClipTransform(view=v, **common).clip(frames, np.random.default_rng(s))[0] for s in range(6)]
           for v in ("center", "flip", "reverse", "random_crop")}
    for s in range(6):
        assert torch.equal(get["flip"][s], get["center"][s].flip(2))
        assert torch.equal(get["reverse"][s], get["center"][s].flip(0))
        assert torch.equal(get["random_crop"][s], get["center"][s])
    assert len({bytes(x.numpy()) for x in get["center"]}) == 6                  # positions and sizes vary per clip
    centre = ClipTransform(crop_size=32, view="center").clip(frames, np.random.default_rng(0))[0]
    assert torch.equal(centre, torch.from_numpy(frames[:, 4:36, 10:42]))        # eval.crop=center: as always


# -- config, hash, splits ------------------------------------------------------------------------------
@pytest.mark.parametrize("bad,msg", [
    ({"data": {"normalize": "coco"}}, r"data.normalize='coco'; allowed: \['kinetics', 'imagenet'\]"),
    ({"data": {"short_policy": "mirror"}}, r"data.short_policy='mirror'; allowed: \['loop', 'pad', 'pingpong'\]"),
    ({"data": {"short_side_range": [128]}}, r"data.short_side_range=\[128\] must be \[\] or \[lo, hi\]"),
    ({"data": {"short_side_range": [160, 128]}}, r"data.short_side_range=\[160, 128\] must be"),
    ({"data": {"window": -1}}, r"data.window=-1 must be >= 0"),
    ({"data": {"augment": {"scheme": "paper"}}}, r"data.augment.scheme='paper'; allowed: \['text', 'release'\]"),
    ({"data": {"augment": {"interval_rule": "short"}}}, r"data.augment.interval_rule='short'; allowed"),
    ({"data": {"augment": {"reverse_p": 1.5}}}, r"data.augment.reverse_p=1.5 must be >= 0 and <= 1"),
    ({"data": {"augment": {"hls": [200, 0, 0]}}}, r"hls must be \[dH, dL, dS\]"),
    ({"data": {"augment": {"scheme": "release", "rescale_short": [20, 40]}}},
     r"data.augment.rescale_short=\[20.0, 40.0\] must start at data.crop_size=32"),
    ({"eval": {"crop": "corner"}}, r"eval.crop='corner'; allowed: \['center', 'random'\]"),
])
def test_release_options_are_checked_at_the_edge(bad, msg, tmp_path):
    with pytest.raises(ConfigError, match=msg):
        config_from_dict(_cfg(tmp_path, tmp_path, tmp_path, **bad))


def test_run_hash_counts_what_changes_the_weights(tmp_path):
    def h(**over):
        return config_hash(config_from_dict(_cfg(tmp_path, tmp_path, tmp_path, **over)))
    base = h()
    defaults = {"normalize": "kinetics", "short_side_range": [], "window": 0, "allow_repeats": False,
                "augment": {"scheme": "text", "reverse_p": 0.5, "interval_rule": "any", "hls_p": 0.8}}
    assert h(data=defaults) == base                                  # the new fields at their defaults: old hashes
    assert h(data={"augment": {"hls_p": 0.1}}) == base               # ignored by scheme=text
    assert h(data={"augment": {"reverse_p": 1.0}}) == base           # ignored without reverse
    assert h(data={"augment": {"reverse": True, "reverse_p": 1.0}}) != h(data={"augment": {"reverse": True}})
    for over in ({"normalize": "imagenet"}, {"short_side_range": [36, 44]}, {"window": 20}, {"allow_repeats": True},
                 {"short_policy": "pingpong"}, {"augment": {"interval_rule": "long_only"}}):
        assert h(data=over) != base, over
    rel = {"scheme": "release", "rescale_short": [36, 44]}
    assert h(data={"augment": rel}) != base
    assert h(data={"augment": {**rel, "multiscale": False, "lighting": 0.0}}) == h(data={"augment": rel})
    assert h(data={"augment": {**rel, "hls_p": 0.5}}) != h(data={"augment": rel})
    assert h(data={"short_side_range": [36, 44], "short_side": 99}) == h(data={"short_side_range": [36, 44]})
    assert h(eval={"crop": "random"}) == base                        # evaluation only


def _repeat_line(split_dir, out, name, line=0):
    shutil.copytree(split_dir, out)
    lines = (out / f"{name}.txt").read_text().splitlines()
    (out / f"{name}.txt").write_text("\n".join(lines + [lines[line]]) + "\n")
    return out


def test_allow_repeats_is_for_the_training_split_only(synth_split, tmp_path):
    from vipar_lib.engine.build import load_split
    rep = _repeat_line(synth_split, tmp_path / "rep", "train")
    cfg = config_from_dict(_cfg(rep, tmp_path, tmp_path))
    with pytest.raises(SplitError, match="train.txt"):
        load_split(cfg)
    cfg = config_from_dict(_cfg(rep, tmp_path, tmp_path, data={"allow_repeats": True}))
    sp = load_split(cfg)
    assert len(sp["train"]) == len(load_split_dir(synth_split)["train"]) + 1
    for name in ("validation", "test"):
        bad = _repeat_line(synth_split, tmp_path / f"rep_{name}", name)
        with pytest.raises(SplitError, match=f"{name}.txt"):
            load_split(config_from_dict(_cfg(bad, tmp_path, tmp_path, data={"allow_repeats": True})))
    overlap = tmp_path / "overlap"
    shutil.copytree(synth_split, overlap)
    test_line = (overlap / "test.txt").read_text().splitlines()[0]
    with open(overlap / "train.txt", "a") as f:
        f.write(test_line + "\n")
    with pytest.raises(SplitError, match="more than one split"):
        load_split(config_from_dict(_cfg(overlap, tmp_path, tmp_path, data={"allow_repeats": True})))


# -- the release reading's plan: dropout, T1.7, reversal (issue 20) ------------------------------------
def _dropout(cfg) -> float:
    """The head dropout a run trains with: its option, else the model's default."""
    return cfg.model.options.get("dropout", model_options(cfg.model.name)["dropout"].default)


@pytest.mark.parametrize("profile", ["ucf101-release", "demo-release"])
def test_release_plan_dropout_per_row_and_t1_7_non_local(profile):
    """r1c7's 0.5 for the bases and T1.1 (r1c7:55); the release file's 0.6 (release:76) for T1.2-T1.8 and Table 2;
    T1.7 as the release's lines run: the 3x3x3 branch in the non-local block (release:25-27, 44-47, 55-56)."""
    plan = plan_study(load_study(profile))
    t1 = {r.id: plan.runs[r.run].config for r in plan.rows["table1"]}
    assert _dropout(t1["T1.1"]) == 0.5
    assert {rid: _dropout(cfg) for rid, cfg in t1.items() if rid != "T1.1"} == {f"T1.{i}": 0.6 for i in range(2, 9)}
    for r in plan.rows["table2"]:
        cfg = plan.runs[r.run].config
        assert _dropout(cfg) == (0.6 if r.info["family"] == "slowfast" else 0.8), r.id    # TSM.py:124
    assert all(_dropout(run.config) == 0.5 for run in plan.runs.values() if run.role == "base")
    t17 = t1["T1.7"].model.options
    assert (t17["conv_a"], t17["st_attention"], t17["activation"], t17["downsample"]) == ("t+s+st", True, "elu", "pool")


def _reversal(cfg):
    a = cfg.data.augment
    return (True, a.reverse_p) if a.reverse else (False, None)


def test_release_plan_reverses_at_random_only_the_diff_clips():
    """RGB: libb/dataset.py:62 reverses every clip in every mode (never at random); Diff: p 0.5
    (lastdataset.py:215-216); TSM: never (lastdataset.py:60-61). p 0.5 for RGB is the named alternative."""
    def kinds(plan):
        out = {}
        for run in plan.runs.values():
            cfg = run.config
            kind = f"{run.family}/{cfg.data.input_type}"
            out.setdefault(kind, set()).add(_reversal(cfg))
        return out
    assert kinds(plan_study(load_study("ucf101-release"))) == {
        "slowfast/rgb": {(False, None)}, "slowfast/diff": {(True, 0.5)}, "tsm/rgb": {(False, None)}}
    alt = plan_study(load_study("ucf101-release", {"data": {"augment": {"reverse": True}}}))
    assert kinds(alt) == {"slowfast/rgb": {(True, 0.5)}, "slowfast/diff": {(True, 0.5)}, "tsm/rgb": {(False, None)}}
    demo = plan_study(load_study("demo-release"))    # synthetic direction classes: no reversal, no flip
    assert kinds(demo) == {k: {(False, None)} for k in ("slowfast/rgb", "slowfast/diff", "tsm/rgb")}
    for run in demo.runs.values():                   # the release's Diff and TSM crops draw no interval 2
        assert run.config.data.augment.intervals == ((1, 2) if run.config.data.input_type == "rgb"
                                                     and run.family == "slowfast" else (1,)), run.name


def test_vipar_plan_shows_the_release_settings(release, capsys):
    """``vipar plan --profile ucf101-release`` prints each run's dropout, T1.7's non-local wrap and the reversal."""
    from vipar_lib.cli.main import main
    assert main(["plan", "--profile", "ucf101-release", "--set", f"release.dir={release}"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    lines = {ln.split()[0]: ln for ln in rows if ln.startswith(("t1_", "t2_", "base_"))}
    assert lines["t1_T1_1"].endswith("  dropout=0.5 no reverse")
    assert lines["t1_T1_7"].endswith("activation=elu downsample=pool conv_a=t+s+st st_attention=true dropout=0.6 "
                                     "no reverse")
    assert lines["t2_slowfast_release_r50_rgb"].endswith("conv_a=t+s dropout=0.6 no reverse")
    assert lines["t2_slowfast_release_r50_diff"].endswith("conv_a=t+s dropout=0.6 reverse p=0.5")
    assert "dropout=0.8 no reverse" in lines["t2_tsm_r50_shift"]


# -- end to end ---------------------------------------------------------------------------------------
RELEASE_DATA = {"normalize": "imagenet", "short_side_range": [36, 44], "short_policy": "pingpong", "window": 40,
                "allow_repeats": True,
                "augment": {"scheme": "release", "rescale_short": [36, 44], "reverse": True, "reverse_p": 1.0,
                            "intervals": [1, 2], "interval_rule": "long_only"}}


def test_training_and_evaluation_with_every_release_option(synth_root, synth_split, tmp_path):
    split = _repeat_line(synth_split, tmp_path / "split", "train")
    # 48 frames (49 with the Diff frame) from windows of at most 40: every clip is a ping-pong clip
    d = _cfg(split, synth_root, tmp_path / "runs", data={**RELEASE_DATA, "input_type": "diff", "clip_len": 48},
             model={"name": "slowfast_release_r50", "options": {"width": 8, "depths": [1, 1, 1, 1], "alpha": 4,
                                                                  "beta": 2}},
             train={"epochs": 2, "batch_size": 8},
             eval={"num_clips": 3, "batch_size": 4, "positions": "random", "crop": "random"})
    run = train(config_from_dict(d))
    final = (run / "final.json").read_text()
    assert '"epochs": 2' in final
    paths = evaluate_run(run, views=["center", "flip"], progress=False, checkpoint="last")
    first = {p: load_logits(p) for p in paths}
    for lf in first.values():
        assert np.isfinite(lf.logits).all() and lf.meta["crop"] == "random" and lf.meta["positions"] == "random"
    again = evaluate_run(run, views=["center", "flip"], progress=False, checkpoint="last", force=True)
    for p in again:
        assert np.array_equal(load_logits(p).logits, first[p].logits)         # same seed, same logits
    # a centre-crop evaluation is not taken for the random-crop one (and back)
    (c,) = evaluate_run(run, views=["center"], progress=False, checkpoint="last", crop="center")
    assert load_logits(c).meta["crop"] == "center" and not np.array_equal(load_logits(c).logits,
                                                                             first[paths[0]].logits)
