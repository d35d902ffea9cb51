import math

import pytest

from vipar_lib.data import splits as S


def _ref(shared, name):
    return [tuple(l.split()) for l in (shared / "vipriors2020" / f"mod-ucf101-{name}.txt").read_text().splitlines() if l.strip()]


def test_vipriors_split_reproduces_challenge_files_exactly(shared_data):
    sp = S.vipriors_split(shared_data / "ucfTrainTestlist")
    assert sp.counts() == {"train": 4795, "validation": 4742, "test": 3783}
    for name in ("train", "validation"):
        mine = [(e.video_id, str(sp.class_ids[e.label])) for e in sp[name]]
        assert mine == _ref(shared_data, name)
    assert [(e.video_id,) for e in sp["test"]] == _ref(shared_data, "test")
    # challenge class ids, and HandstandPushups folder with v_HandStandPushups files
    ids = S.read_class_index(shared_data / "vipriors2020" / "mod-ucf101-classInd.txt")
    assert [ids[c] for c in sp.classes] == sp.class_ids
    hs = [e for e in sp["train"] if e.class_dir == "HandstandPushups"]
    assert hs and all("v_HandStandPushups_" in e.path for e in hs)


def test_write_and_reload_roundtrip(shared_data, tmp_path):
    sp = S.vipriors_split(shared_data / "ucfTrainTestlist")
    S.write_split(sp, tmp_path)
    back = S.load_split_dir(tmp_path)
    assert back.classes == sp.classes and back.class_ids == sp.class_ids
    for s in S.SPLITS:
        assert [(e.path, e.label, e.video_id) for e in back[s]] == [(e.path, e.label, e.video_id) for e in sp[s]]
    first = (tmp_path / "train.txt").read_text().splitlines()[0]
    assert first == "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 100"


def test_group_leakage_and_disjoint_split(shared_data):
    sp = S.vipriors_split(shared_data / "ucfTrainTestlist")
    leak = S.group_leakage(sp)
    assert 50 < leak["classes_leaking"] <= 101          # "most classes"
    d = S.vipriors_split(shared_data / "ucfTrainTestlist", group_disjoint=True)
    assert S.group_leakage(d)["classes_leaking"] == 0
    assert len(d["train"]) + len(d["validation"]) == 9537
    # each class keeps roughly half its clips in validation
    for ci in range(d.num_classes):
        n_tr = sum(e.label == ci for e in d["train"])
        n_va = sum(e.label == ci for e in d["validation"])
        assert n_tr > 0 and n_va > 0 and abs(n_va - (n_tr + n_va) / 2) <= 8


def test_own_classes_for_other_lists(synth_root):
    sp = S.vipriors_split(synth_root / "ucfTrainTestlist")
    assert sp.num_classes == 4 and sp.class_ids == [1, 2, 3, 4]
    n_train_list = len((synth_root / "ucfTrainTestlist" / "trainlist01.txt").read_text().splitlines())
    assert len(sp["train"]) == sum(math.ceil(n / 2) for n in [n_train_list // 4] * 4)


def test_unknown_class_and_bad_label_are_listed(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 A\r\n2 B\r\n")
    (tmp_path / "trainlist01.txt").write_text("A/v_A_g01_c01.avi 1\r\nC/v_C_g01_c01.avi 3\r\nD/v_D_g01_c01.avi 3\r\n")
    (tmp_path / "testlist01.txt").write_text("A/v_A_g02_c01.avi\r\n")
    with pytest.raises(S.SplitError) as e:
        S.vipriors_split(tmp_path)
    assert "trainlist01.txt" in str(e.value) and "C/v_C_g01_c01.avi" in str(e.value) and "D/v_D" in str(e.value)
    (tmp_path / "trainlist01.txt").write_text("A/v_A_g01_c01.avi 2\r\n")
    with pytest.raises(S.SplitError, match="label '2' does not match class 'A'"):
        S.vipriors_split(tmp_path)


def test_missing_files_are_listed(synth_split, synth_root, tmp_path):
    sp = S.load_split_dir(synth_split)
    S.validate_split(sp, synth_root / "UCF-101")
    with pytest.raises(S.SplitError, match="missing under") as e:
        S.validate_split(sp, tmp_path)
    assert sp["train"][0].path in str(e.value)


def test_challenge_layout(shared_data, tmp_path):
    ann = tmp_path / "mod-ucf101" / "annotations"
    ann.mkdir(parents=True)
    for f in (shared_data / "vipriors2020").iterdir():
        (ann / f.name).write_bytes(f.read_bytes())
    sp = S.read_challenge_layout(tmp_path / "mod-ucf101")
    assert sp.counts() == {"train": 4795, "validation": 4742, "test": 3783}
    assert sp["train"][0].path == "videos/video_train_0000001.avi"
    assert sp.class_ids[sp["train"][0].label] == 100 and sp["test"][0].label == -1
