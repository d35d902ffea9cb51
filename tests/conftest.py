from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    if not (SHARED_DATA / "ucfTrainTestlist" / "trainlist01.txt").is_file():
        pytest.skip(f"shared reference data not found at {SHARED_DATA}")
    return SHARED_DATA


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


@pytest.fixture
def bad_videos(tmp_path, synth_root):
    """Missing, empty, garbage and truncated videos."""
    good = next((synth_root / "UCF-101").rglob("*.avi"))
    data = good.read_bytes()
    (tmp_path / "empty.avi").write_bytes(b"")
    (tmp_path / "garbage.avi").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "truncated.avi").write_bytes(data[: len(data) // 2])
    return {"missing": tmp_path / "missing.avi", "empty": tmp_path / "empty.avi",
            "corrupt": tmp_path / "garbage.avi", "truncated": tmp_path / "truncated.avi", "good": good}
