import struct
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
RELEASE = REPO.parent / "shared" / "deepblue-release"


@pytest.fixture(scope="session")
def shared_data():
    if not (SHARED_DATA / "ucfTrainTestlist" / "trainlist01.txt").is_file():
        pytest.skip(f"shared reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def release():
    """The authors' released logits (a copy of xdw1995/123's data files beside the repository)."""
    if not any((RELEASE / "logits").glob("*.txt")):
        pytest.skip(f"the authors' released logits not found at {RELEASE}")
    return RELEASE


@pytest.fixture(scope="session")
def smoke_reports(tmp_path_factory):
    """``vipar reproduce --profile smoke`` into a temporary reports folder, once per session: (result, folder)."""
    from vipar_lib.report.runner import reproduce
    tmp = tmp_path_factory.mktemp("reports")
    res = reproduce("smoke", reports_dir=tmp, log=lambda *a: None)
    return res, tmp / "smoke"


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    """A small synthetic dataset in UCF101 layout (4 classes x 4 groups x 2 clips)."""
    from vipar_lib.data.synth import generate
    root = tmp_path_factory.mktemp("synth")
    generate(root, classes=4, groups=4, clips=2, seed=3, workers=2, progress=False)
    return root


@pytest.fixture(scope="session")
def synth_split(synth_root, tmp_path_factory):
    from vipar_lib.data.splits import vipriors_split, write_split
    out = tmp_path_factory.mktemp("split")
    write_split(vipriors_split(synth_root / "ucfTrainTestlist"), out)
    return out


def _video_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the video chunks (``00dc``) in an AVI's ``movi`` list."""
    movi, idx1 = data.find(b"movi"), data.find(b"idx1")
    chunks, pos = [], movi + 4
    while pos + 8 <= idx1:
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if tag[2:] in (b"dc", b"db"):
            chunks.append((pos, size))
        pos += 8 + size + (size & 1)
    return chunks


def zero_payloads_from(data: bytes, first: int | None = None) -> bytes:
    """An AVI whose headers and index are intact but whose video chunks from number ``first``
    (default: the middle one) on hold zeros: it opens, claims and indexes all its frames, decodes
    its first frames, and fails while the later ones are decoded (a disk or copy error mid-file)."""
    chunks = _video_chunks(data)
    first = len(chunks) // 2 if first is None else first
    out = bytearray(data)
    for pos, size in chunks[first:]:
        out[pos + 8:pos + 8 + size] = bytes(size)
    return bytes(out)


@pytest.fixture
def bad_videos(tmp_path, synth_root):
    """Missing, empty, garbage, truncated and mid-stream-corrupt videos."""
    good = min((synth_root / "UCF-101").rglob("*.avi"))                # the same video on every filesystem
    data = good.read_bytes()
    (tmp_path / "empty.avi").write_bytes(b"")
    (tmp_path / "garbage.avi").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "truncated.avi").write_bytes(data[: len(data) // 2])
    (tmp_path / "midstream.avi").write_bytes(zero_payloads_from(data))
    return {"missing": tmp_path / "missing.avi", "empty": tmp_path / "empty.avi",
            "corrupt": tmp_path / "garbage.avi", "truncated": tmp_path / "truncated.avi",
            "midstream": tmp_path / "midstream.avi", "good": good}
