import math

import pytest

from vipar_lib.data import splits as S


def _ref(shared, name):
    text = (shared / "vipriors2020" / f"mod-ucf101-{name}.txt").read_text()
    return [tuple(line.split()) for line in text.splitlines() if line.strip()]


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
    with pytest.raises(S.SplitError, match="label .2. does not match class .A."):
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


# -- duplicates, overlaps and labels that disagree with the class folder (issue #13) ---------------
def _lists(tmp_path, train, test):
    (tmp_path / "classInd.txt").write_text("1 A\r\n2 B\r\n")
    (tmp_path / "trainlist01.txt").write_text("".join(f"{line}\r\n" for line in train))
    (tmp_path / "testlist01.txt").write_text("".join(f"{line}\r\n" for line in test))
    return tmp_path


_TRAIN = ["A/v_A_g02_c01.avi 1", "A/v_A_g02_c02.avi 1", "A/v_A_g03_c01.avi 1", "B/v_B_g02_c01.avi 2",
          "B/v_B_g03_c01.avi 2"]
_TEST = ["A/v_A_g01_c01.avi", "B/v_B_g01_c01.avi"]


def test_clean_lists_split_without_overlap(tmp_path):
    sp = S.vipriors_split(_lists(tmp_path, _TRAIN, _TEST))
    paths = [e.path for s in S.SPLITS for e in sp[s]]
    assert len(paths) == len(set(paths)) == 7


def test_duplicated_list_lines_are_refused_naming_them(tmp_path):
    # the repeat would otherwise land in train (first half) and validation (second half)
    _lists(tmp_path, _TRAIN[:3] + ["A/v_A_g02_c01.avi 1"] + _TRAIN[3:], _TEST)
    with pytest.raises(S.SplitError) as e:
        S.vipriors_split(tmp_path)
    msg = str(e.value)
    assert "trainlist01.txt" in msg and "A/v_A_g02_c01.avi (lines 1, 4)" in msg and "\n" not in msg
    # a repeated test line too
    _lists(tmp_path, _TRAIN, _TEST + [_TEST[1]])
    with pytest.raises(S.SplitError,
                       match=r"testlist01.txt: 1 entries listed more than once: B/v_B_g01_c01.avi \(lines 2, 3\)"):
        S.vipriors_split(tmp_path)
    # a list that repeats videos on purpose (another protocol) can opt out
    _lists(tmp_path, _TRAIN + [_TRAIN[0]], _TEST)
    assert len(S.read_ucf_list(tmp_path / "trainlist01.txt", {"A": 1, "B": 2}, allow_duplicates=True)) == 6


def test_test_video_in_the_train_list_is_refused(tmp_path):
    _lists(tmp_path, _TRAIN + ["B/v_B_g01_c01.avi 2"], _TEST)
    with pytest.raises(S.SplitError) as e:
        S.vipriors_split(tmp_path)
    msg = str(e.value)
    assert "trainlist01.txt" in msg and "testlist01.txt" in msg and "\n" not in msg
    assert "B/v_B_g01_c01.avi (trainlist01.txt:6, testlist01.txt:2)" in msg


def test_many_offenders_are_counted_and_the_first_ten_shown(tmp_path):
    train = [f"A/v_A_g02_c{k:02d}.avi 1" for k in range(1, 16)]
    _lists(tmp_path, train + train, _TEST)
    with pytest.raises(S.SplitError, match="15 entries listed more than once") as e:
        S.vipriors_split(tmp_path)
    assert "c10.avi" in str(e.value) and "c11.avi" not in str(e.value) and "and 5 more" in str(e.value)


def test_wrong_labels_are_all_listed(tmp_path):
    _lists(tmp_path, ["A/v_A_g02_c01.avi 2", "A/v_A_g02_c02.avi 1", "B/v_B_g02_c01.avi 1"], _TEST)
    with pytest.raises(S.SplitError) as e:
        S.vipriors_split(tmp_path)
    msg = str(e.value)
    assert "2 labels disagree with the class folder" in msg and "line 1:" in msg and "line 3:" in msg
    assert "\n" not in msg


def _split_dir(tmp_path, **files):
    (tmp_path / "classInd.txt").write_text("1 A\n2 B\n")
    base = {"train": ["A/v_A_g02_c01.avi 1", "B/v_B_g02_c01.avi 2"], "validation": ["A/v_A_g03_c01.avi 1"],
            "test": ["A/v_A_g01_c01.avi 1", "B/v_B_g01_c01.avi 2"]}
    base.update(files)
    for s, lines in base.items():
        (tmp_path / f"{s}.txt").write_text("".join(f"{line}\n" for line in lines))
    return tmp_path


def test_split_dir_with_a_repeated_train_entry_is_refused(tmp_path):
    assert S.load_split_dir(_split_dir(tmp_path)).counts() == {"train": 2, "validation": 1, "test": 2}
    _split_dir(tmp_path, train=["A/v_A_g02_c01.avi 1", "B/v_B_g02_c01.avi 2", "A/v_A_g02_c01.avi 1"])
    with pytest.raises(S.SplitError,
                       match=r"train.txt: 1 entries listed more than once: A/v_A_g02_c01.avi \(lines 1, 3\)"):
        S.load_split_dir(tmp_path)
    assert len(S.load_split_dir(tmp_path, allow_duplicates=True)["train"]) == 3


def test_split_dir_with_a_video_in_two_splits_is_refused(tmp_path):
    _split_dir(tmp_path, validation=["A/v_A_g03_c01.avi 1", "B/v_B_g02_c01.avi 2"])
    with pytest.raises(S.SplitError) as e:
        S.load_split_dir(tmp_path)
    assert "B/v_B_g02_c01.avi (train.txt:2, validation.txt:2)" in str(e.value)
    assert "train/validation" in str(e.value)
    # reading only the splits that do not overlap is fine
    assert S.load_split_dir(tmp_path, ["test"]).counts() == {"test": 2}


def test_split_dir_label_that_disagrees_with_the_class_folder_is_refused(tmp_path):
    _split_dir(tmp_path, test=["A/v_A_g01_c01.avi 2", "B/v_B_g01_c01.avi 2"])
    with pytest.raises(S.SplitError) as e:
        S.load_split_dir(tmp_path)
    msg = str(e.value)
    assert "test.txt" in msg and "line 1: A/v_A_g01_c01.avi has class id 2, its folder 'A' is id 1" in msg


def test_challenge_layout_refuses_repeats_and_overlaps(tmp_path):
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "mod-ucf101-classInd.txt").write_text("1 A\n2 B\n")
    (ann / "mod-ucf101-train.txt").write_text("video_train_0000001.avi 1\nvideo_train_0000002.avi 2\n")
    (ann / "mod-ucf101-validation.txt").write_text("video_validation_0000001.avi 1\n")
    (ann / "mod-ucf101-test.txt").write_text("video_test_0000001.avi\n")
    sp = S.read_challenge_layout(tmp_path)
    assert sp.counts() == {"train": 2, "validation": 1, "test": 1} and sp["test"][0].label == -1
    (ann / "mod-ucf101-validation.txt").write_text("video_validation_0000001.avi 1\nvideo_train_0000002.avi 2\n")
    with pytest.raises(S.SplitError,
                       match=r"video_train_0000002.avi \(mod-ucf101-train.txt:2, mod-ucf101-validation.txt:2\)"):
        S.read_challenge_layout(tmp_path)
    (ann / "mod-ucf101-validation.txt").write_text("video_validation_0000001.avi 1\nvideo_validation_0000001.avi 1\n")
    with pytest.raises(S.SplitError, match="mod-ucf101-validation.txt: 1 entries listed more than once"):
        S.read_challenge_layout(tmp_path)


def test_unlabelled_videos_survive_write_and_reload(tmp_path):
    # the challenge layout's test split has no labels: written as id 0, read back as -1
    sp = S.Split(["A", "B"], {"train": [S.VideoEntry("videos/video_train_0000001.avi", 1)],
                             "test": [S.VideoEntry("videos/video_test_0000001.avi", -1)]}, [1, 2])
    S.write_split(sp, tmp_path)
    back = S.load_split_dir(tmp_path, ["train", "test"])
    assert [e.label for e in back["train"]] == [1] and [e.label for e in back["test"]] == [-1]
