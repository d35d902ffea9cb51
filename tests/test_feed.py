"""The device feed (issue #18): planes decoded at source size, clips made on the device, one decoder open per clip.

The host path (decord RGB at the decode size, the geometry in the worker) is the reference: it is
today's output. The device path must give the same clips from the same random draws, within the
rounding of the colour conversion and resizes: >= 40 dB PSNR on the synthetic XviD AVIs, for the
colour conversion and for every augmentation and view."""
import json

import numpy as np
import pytest
import torch

from vipar_lib.data.dataset import ClipDataset, MultiViewDataset
from vipar_lib.data.decode import VideoIndexStore, index_video, read_planes
from vipar_lib.data.device import batch_clips, batch_input, collate_device, frames_to_rgb, item_views, planes_source
from vipar_lib.data.splits import load_split_dir
from vipar_lib.data.transforms import NORMALIZATIONS, TTA_VIEWS, AugmentConfig, ClipTransform, normalize_clips
from vipar_lib.data.video import DECODE_STATS, read_frames, resized_shape

MIN_PSNR = 40.0


def psnr(a, b) -> float:
    mse = float(((torch.as_tensor(a).double() - torch.as_tensor(b).double()) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _videos(synth_root, n=4):
    return sorted((synth_root / "UCF-101").rglob("*.avi"))[:n]


@pytest.mark.parametrize("short_side", [240, 128, 36])
def test_colour_conversion_matches_the_decoders_rgb(synth_root, short_side):
    """YUV 4:2:0 planes -> RGB at the decode size on the device, against decord's frames (today's)."""
    for path in _videos(synth_root, 3):
        info = index_video(path)
        w, h = resized_shape(info.width, info.height, short_side)
        ref = torch.from_numpy(read_frames(path, range(8), short_side))
        planes, _ = read_planes(path, range(8), info)
        rgb = frames_to_rgb(torch.from_numpy(planes.data), planes_source(planes, w, h))
        assert rgb.shape == ref.shape and rgb.dtype == torch.uint8
        assert psnr(rgb, ref) >= MIN_PSNR, (path.name, short_side, psnr(rgb, ref))


TEXT = {"multiscale": dict(multiscale=True), "corner_crop": dict(corner_crop=True), "flip": dict(flip=True),
        "lighting": dict(lighting=0.3), "contrast": dict(contrast=0.3), "reverse": dict(reverse=True),
        "intervals": dict(intervals=(1, 2)), "all": dict(multiscale=True, corner_crop=True, flip=True, lighting=0.2,
                                                           contrast=0.2, reverse=True, intervals=(1, 2))}
RELEASE = dict(scheme="release", flip=True, reverse=True, hls_p=1.0, intervals=(1, 2))


def _denormalised(x: torch.Tensor, normalize: str) -> torch.Tensor:
    """RGB model input (B, 3, T, H, W) back to grey levels (0..255), to compare inputs as images."""
    mean, std = (torch.tensor(v).view(1, 3, 1, 1, 1) for v in NORMALIZATIONS[normalize])
    return (x * std + mean) * 255


def _both_feeds(synth_root, synth_split, transform, short_side, train=True, n=6, **kw):
    sp = load_split_dir(synth_split)
    entries = sp["train"][:n]
    root = synth_root / "UCF-101"
    common = dict(clip_len=8, train=train, short_side=short_side, num_clips=1 if train else 2, **kw)
    host = ClipDataset(entries, root, transform, **common)
    dev = ClipDataset(entries, root, transform, feed="device", **common)
    items = range(len(host))
    h = torch.utils.data.default_collate([host[i] for i in items])
    d = collate_device([dev[i] for i in items])
    return h, d


def _compare(h, d, transform):
    clips, affine = batch_clips(d, transform, "cpu")
    assert clips.shape == h["clip"].shape and clips.dtype == torch.uint8
    assert psnr(clips, h["clip"]) >= MIN_PSNR, psnr(clips, h["clip"])
    # the same draws: gains, contrasts and HLS shifts equal; the contrast offset follows the clip's mean grey level
    np.testing.assert_allclose(affine[:, [0, *range(2, affine.shape[1])]].numpy(),
                               h["affine"][:, [0, *range(2, affine.shape[1])]].numpy(), rtol=1e-6)
    np.testing.assert_allclose(affine[:, 1].numpy(), h["affine"][:, 1].numpy(), atol=3e-3)
    ref = normalize_clips(h["clip"], h["affine"], "rgb", normalize=transform.normalize)
    x = batch_input(d, transform, "cpu")
    assert x.shape == ref.shape and x.dtype == torch.float32
    got, want = _denormalised(x, transform.normalize), _denormalised(ref, transform.normalize)
    assert psnr(got, want) >= MIN_PSNR, psnr(got, want)


@pytest.mark.parametrize("geometry", [(128, 112), (36, 32)], ids=["ucf101", "demo"])
@pytest.mark.parametrize("aug", list(TEXT))
def test_each_text_augmentation_matches_the_host_path(synth_root, synth_split, geometry, aug):
    short_side, crop = geometry
    a = AugmentConfig(**{**dict(AugmentConfig.none().__dict__), **TEXT[aug]})
    tr = ClipTransform(crop_size=crop, augment=a)
    h, d = _both_feeds(synth_root, synth_split, tr, short_side)
    _compare(h, d, tr)


@pytest.mark.parametrize("part", ["geometry", "hls", "short_side_range"])
def test_the_release_augmentation_matches_the_host_path(synth_root, synth_split, part):
    """crop, aspect jitter + rescale, crop, flip, reverse; the OpenCV-exact HLS jitter; a random short side."""
    extra = {"short_side_range": (112, 128)} if part == "short_side_range" else {}
    a = AugmentConfig(**{**RELEASE, "hls_p": 1.0 if part == "hls" else 0.0})
    tr = ClipTransform(crop_size=96, augment=a, normalize="imagenet", **extra)
    h, d = _both_feeds(synth_root, synth_split, tr, 128)
    _compare(h, d, tr)
    if part == "hls":
        assert h["affine"].shape[1] == 6 and bool((h["affine"][:, 2] == 1).all())


@pytest.mark.parametrize("view", TTA_VIEWS)
@pytest.mark.parametrize("crop", ["center", "random"])
def test_each_view_matches_the_host_path(synth_root, synth_split, view, crop):
    tr = ClipTransform(crop_size=112, view=view, crop=crop)
    h, d = _both_feeds(synth_root, synth_split, tr, 128, train=False, n=3, positions="random")
    _compare(h, d, tr)


def test_the_plan_is_the_host_transforms_draws_bit_for_bit():
    """plan (a worker, from the frame size) + apply (the device) is clip() (the host) on the same frames."""
    frames = np.random.default_rng(0).integers(0, 256, (12, 60, 80, 3), dtype=np.uint8)
    idx = np.array([1, 3, 5, 7, 9, 11])
    trs = [ClipTransform(crop_size=32, augment=AugmentConfig(**TEXT["all"])),
           ClipTransform(crop_size=32, augment=AugmentConfig(**{**RELEASE, "rescale_short": (36, 40)}),
                         short_side_range=(48, 60)),
           *(ClipTransform(crop_size=32, view=v, crop="random") for v in TTA_VIEWS)]
    for tr in trs:
        for seed in range(6):
            want, aff = tr.clip(frames, np.random.default_rng(seed), idx=idx)
            p = tr.plan(60, 80, np.random.default_rng(seed))
            got = tr.apply(torch.from_numpy(frames), p, idx=idx).permute(0, 2, 3, 1)
            assert torch.equal(got, want), (tr.view, tr.augment.scheme, seed)


def test_one_decoder_open_per_training_clip_and_per_test_video(synth_root, synth_split, tmp_path):
    sp = load_split_dir(synth_split)
    root = synth_root / "UCF-101"
    index_file = tmp_path / "videos.index.json"
    tr = ClipTransform(crop_size=32, augment=AugmentConfig(**TEXT["all"]))
    before = DECODE_STATS["opens"]
    ds = ClipDataset(sp["train"], root, tr, clip_len=8, train=True, short_side=36, feed="device",
                     index=VideoIndexStore(index_file))
    assert DECODE_STATS["opens"] - before == len(sp["train"])       # the probes, once per video
    stored = json.loads(index_file.read_text())["videos"]
    assert len(stored) == len(sp["train"]) and all(r["index"]["keyframes"] for r in stored.values())
    # a later dataset (another run, a worker process) reads the index: no probe
    before = DECODE_STATS["opens"]
    ds = ClipDataset(sp["train"], root, tr, clip_len=8, train=True, short_side=36, feed="device",
                     index=VideoIndexStore(index_file))
    assert DECODE_STATS["opens"] == before
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate_device)
    for epoch in range(2):
        ds.set_epoch(epoch)
        before = DECODE_STATS["opens"]
        clips = sum(len(b["label"]) for b in loader)
        assert clips == len(ds) and DECODE_STATS["opens"] - before == clips        # one open per clip
    views = [ClipTransform(crop_size=32, view=v) for v in ("center", "flip", "concat_reverse")]
    for interval in (1, 2):
        mv = MultiViewDataset(sp["test"], root, views, clip_len=8, short_side=36, interval=interval, num_clips=3,
                              feed="device", index=VideoIndexStore(index_file))
        before = DECODE_STATS["opens"]
        for v in range(len(mv)):
            out = item_views(mv[v], views, "cpu")
            assert [c.shape[0] for c, _ in out] == [3, 3, 3] and out[2][0].shape[1] == 16
        assert DECODE_STATS["opens"] - before == len(mv)                           # one per video and interval


def test_decode_once_device_views_are_the_per_clip_device_clips(synth_root, synth_split):
    """Evaluation's one-decode items give each view's clips exactly as the per-clip device items do."""
    sp = load_split_dir(synth_split)
    root = synth_root / "UCF-101"
    entries = sp["test"][:4]
    trs = [ClipTransform(crop_size=32, view=v, crop="random") for v in TTA_VIEWS]
    common = dict(clip_len=8, short_side=40, num_clips=2, positions="random", seed=3, feed="device")
    mv = MultiViewDataset(entries, root, trs, **common)
    for v in range(len(mv)):
        out = item_views(mv[v], trs, "cpu")
        for tr, (clips, _) in zip(trs, out):
            single = ClipDataset(entries, root, tr, train=False, **common)
            b = collate_device([single[v * 2 + k] for k in range(2)])
            assert torch.equal(batch_clips(b, tr, "cpu")[0], clips)


def test_plan_uses_the_measured_decode_rate_of_the_configured_feed(capsys):
    from vipar_lib.cli import main
    from vipar_lib.study import load_study, plan_study
    from vipar_lib.study.cost import RATE_FILE, cost_plan, decode_rate, feed_path
    stored = json.loads(RATE_FILE.read_text())["frames_per_cpu_second"]
    study = load_study("ucf101")
    assert study.dataset.prepared and feed_path(study) == "device_prepared"
    c = cost_plan(plan_study(study))
    assert c["decode_fps_per_core"] == stored["device_prepared"] and "measured" in c["decode_source"]
    assert c["decode_hours"]["all"] == pytest.approx(c["total"]["decode_mframes"] * 1e6
                                                     / (stored["device_prepared"] * study.data.workers) / 3600)
    assert c["decode_hours"]["all"] <= c["gpu_hours"]["all"]          # the GPU does not wait (issue #18)
    for over, path in (({"dataset": {"prepared": ""}}, "device_original"), ({"data": {"feed": "host"}}, "host")):
        assert decode_rate(load_study("ucf101", over))[0] == stored[path]
    assert main(["plan", "--profile", "ucf101", "--decode-rate", "1000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decode_fps_per_core"] == 1000 and "given" in out["decode_source"]
    assert out["decode_hours"]["all"] == pytest.approx(c["decode_hours"]["all"] * stored["device_prepared"] / 1000)


def test_prepare_videos_same_layout_same_frames_idempotent_and_bad_sources_named(synth_root, bad_videos, tmp_path,
                                                                                  capsys):
    import shutil

    from vipar_lib.cli import main
    from vipar_lib.data.prepare import MANIFEST, prepared_info
    src = tmp_path / "src"
    for p in _videos(synth_root, 3):
        (src / p.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, src / p.parent.name / p.name)
    shutil.copy(bad_videos["truncated"], src / "MoveLeft" / "v_MoveLeft_g09_c01.avi")
    dst = tmp_path / "dst"
    assert main(["prepare-videos", str(src), str(dst), "--short-side", "64", "--workers", "2"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len([ln for ln in out if ln.startswith("bad source:")]) == 1
    assert "v_MoveLeft_g09_c01.avi: truncated" in out[0] and "3 prepared now" in out[-1]
    for p in _videos(synth_root, 3):
        q = dst / p.parent.name / p.name                                      # the same layout
        a, b = index_video(p), index_video(q)
        assert b.frames == a.frames and (b.width, b.height) == (85, 64) and b.pix_fmt == "yuv420p"
        ref = torch.from_numpy(read_frames(p, range(8), 64))
        planes, _ = read_planes(q, range(8), b)
        # the same pictures: 4:2:0 at 85x64 halves the colour resolution of today's RGB at that size, which the
        # synthetic set's saturated edges show most (~27 dB here; a real camera clip at 171x128: ~43 dB, benchmark)
        assert psnr(frames_to_rgb(torch.from_numpy(planes.data), planes_source(planes, 85, 64)), ref) > 24
    assert not (dst / "MoveLeft" / "v_MoveLeft_g09_c01.avi").exists()
    assert prepared_info(dst)["short_side"] == 64 and len(json.loads((dst / MANIFEST).read_text())["videos"]) == 3
    stamps = {p: p.stat().st_mtime_ns for p in dst.rglob("*.avi")}
    (src / "MoveLeft" / "v_MoveLeft_g09_c01.avi").unlink()
    assert main(["prepare-videos", str(src), str(dst), "--short-side", "64", "--json"]) == 0          # idempotent
    res = json.loads(capsys.readouterr().out)
    assert res["skipped"] == 3 and res["prepared"] == 0 and {p: p.stat().st_mtime_ns for p in stamps} == stamps
    next(dst.rglob("*.avi")).unlink()                                                                   # resumable
    assert main(["prepare-videos", str(src), str(dst), "--short-side", "64", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prepared"] == 1
    assert main(["prepare-videos", str(src), str(dst), "--short-side", "128"]) == 2                    # refused
    err = capsys.readouterr().err
    assert "prepared at short side 64" in err and len(err.strip().splitlines()) == 1


def test_a_prepared_root_enters_the_run_hash_and_is_refused_below_the_decode_size(synth_root, tmp_path):
    from vipar_lib.data.prepare import prepare_videos
    from vipar_lib.engine.build import feed_options
    from vipar_lib.engine.config import config_hash
    from vipar_lib.study import load_study, plan_study
    from vipar_lib.typed import ConfigError
    prepared = tmp_path / "prepared"
    prepare_videos(synth_root / "UCF-101", prepared, short_side=30, progress=False)
    plain = plan_study(load_study("smoke"))
    prep = plan_study(load_study("smoke", {"dataset": {"prepared": str(prepared)}}))
    a, b = plain.runs["base_slowfast_r50_rgb"].config, prep.runs["base_slowfast_r50_rgb"].config
    assert "prepared copy" in b.data.dataset_id and "short side 30" in b.data.dataset_id
    assert config_hash(a) != config_hash(b) and b.data.video_root.endswith("prepared")
    with pytest.raises(ConfigError, match="prepared at short side 30, but this run decodes at 36"):
        feed_options(b)
