import json

import numpy as np
import pytest

from vipar_lib.cli import main
from vipar_lib.data.video import VideoError, check_video, header_frames, probe, probe_checked, read_frames, truncation


@pytest.mark.parametrize("kind", ["missing", "empty", "corrupt", "truncated"])
def test_bad_video_errors_name_the_file(bad_videos, kind):
    p = bad_videos[kind]
    if kind == "truncated":
        info = probe(p)      # opens, but fewer frames decode than the header claims
        row = check_video(p)
        assert not row["ok"] and row["reason"].startswith("truncated") and row["frames"] < row["claimed_frames"]
        with pytest.raises(VideoError) as e:
            read_frames(p, [info.frames + 5])
    else:
        with pytest.raises(VideoError) as e:
            read_frames(p, [0])
        assert e.value.reason == kind
        assert check_video(p)["reason"].startswith(kind)
    assert str(p) in str(e.value)


def test_read_frames_resizes_in_reader_and_keeps_order(synth_root):
    p = next((synth_root / "UCF-101").rglob("*.avi"))
    info = probe(p)
    assert (info.width, info.height, info.fps) == (320, 240, 25.0)
    full = read_frames(p, [3, 1, 3])
    assert full.shape == (3, 240, 320, 3) and full.dtype == np.uint8
    assert np.array_equal(full[0], full[2]) and not np.array_equal(full[0], full[1])
    small = read_frames(p, [0, 1], short_side=64)
    assert small.shape == (2, 64, 85, 3)


def test_synth_then_check_videos_cli(synth_root, bad_videos, capsys):
    assert main(["check-videos", str(synth_root / "UCF-101"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bad"] == 0 and len(out["videos"]) == 32
    assert all(r["frames"] >= 36 and r["width"] == 320 and r["fps"] == 25.0 for r in out["videos"])
    # a split list works too, and bad files make it exit non-zero with the reason
    assert main(["check-videos", str(synth_root / "ucfTrainTestlist" / "testlist01.txt")]) == 0
    capsys.readouterr()
    rc = main(["check-videos", str(bad_videos["good"]), str(bad_videos["truncated"]), str(bad_videos["missing"])])
    text = capsys.readouterr().out
    assert rc == 1 and "truncated" in text and "missing" in text and "2 bad" in text


def test_truncated_and_midstream_corrupt_videos_count_as_bad(bad_videos):
    # truncated: decord indexes fewer frames than the header claims -> bad when the dataset probes it
    p = bad_videos["truncated"]
    assert probe(p).frames < header_frames(p)
    with pytest.raises(VideoError, match="truncated.*header claims") as e:
        probe_checked(p)
    assert str(p) in str(e.value)
    # the rule shared with check-videos: a frame or two short of the header is tolerated
    assert truncation(45, 46) == "" and truncation(12, 46) == "12 frames decode, header claims 46"
    # mid-stream corrupt: opens and claims every frame, then fails while decoding (one line, names the file)
    m, good = bad_videos["midstream"], bad_videos["good"]
    assert header_frames(m) == probe(good).frames
    try:
        info = probe_checked(m)
    except VideoError as e:           # decord's decode thread ran ahead into the zeroed chunks (a loaded machine):
        err = e                       # the probe's first frame already fails, the same one-line error
    else:
        assert info.frames == header_frames(m)
        with pytest.raises(VideoError) as e:
            read_frames(m, list(range(info.frames)))
        err = e.value
    assert err.reason == "corrupt" and "decoding failed" in str(err) and str(m) in str(err)
    assert "\n" not in str(err) and "[" not in err.detail[:1]
    assert not check_video(m)["ok"]
