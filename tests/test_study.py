"""The study layer: typed config from one params file per profile, and the pure planner."""
import pytest
import yaml

from vipar_lib.engine.runs import run_dir
from vipar_lib.paper import paper_rows
from vipar_lib.study import check_notebook_parameters, list_profiles, load_study, plan_study
from vipar_lib.study.config import PARAMS_DIR
from vipar_lib.typed import ConfigError

PROFILES = list_profiles()


def test_one_params_file_per_profile():
    assert {"smoke", "demo", "ucf101"} <= set(PROFILES)
    assert sorted(p.name for p in PARAMS_DIR.iterdir()) == sorted(f"{p}.yaml" for p in PROFILES)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_loads_and_plans_every_table(profile, tmp_path):
    study = load_study(profile)
    assert study.profile == profile
    plan = plan_study(study)
    assert [len(plan.rows[t]) for t in ("table1", "table2", "table3", "table4")] == [8, 8, 22, 4]
    # dependency order: every run comes after the runs it warm-starts from
    seen = set()
    for name, run in plan.runs.items():
        assert set(run.needs) <= seen, name
        seen.add(name)
        if run.needs:
            assert run.config.train.init_from == str(plan.runs[run.needs[0]].dir)
    # the protocols of the paper's tables
    t1 = {r.id: r for r in plan.rows["table1"]}
    t2 = {r.id: r for r in plan.rows["table2"]}
    r50 = "slowfast_release_r50" if study.reading == "release" else "slowfast_r50"
    # the text reading's final structure is T1.7's; the release reading's is the released network, not T1.7 (t+s+st)
    assert (t2["T2.1"].run == t1["T1.7"].run) == (study.reading == "text")
    assert all(plan.runs[r.run].needs == (f"base_{r50}_rgb",) for r in t1.values())
    assert plan.runs[t2["T2.5"].run].needs == ("tsm_single_tsm_r50",)
    assert plan.runs["tsm_single_tsm_r50"].config.data.clip_len == 1
    assert plan.runs[t2["T2.3"].run].config.data.input_type == "diff"
    for r in plan.rows["table3"]:
        assert r.run == t2[{"rgb": "T2.1", "diff": "T2.3"}[r.info["input"]] if r.info["network"] == "slowfast"
                           else "T2.5"].run
        assert r.eval.view == r.info["view"] and r.eval.interval == r.info["interval"]
    # Table 4 reads Table 3 on test and validation
    reqs = plan.requests(["table4"])
    splits = {"test", "validation"} if plan.has_validation else {"test"}      # nothing is chosen without validation
    seeds = study.seed_count("table3")                                    # one logits file per row and seed
    assert len(reqs) == len(splits) * 22 * seeds and {q.split for q in reqs} == splits
    assert plan.runs_for(["table1"])[0].name == f"base_{r50}_rgb"
    assert all(run.dir == run_dir(run.config) or run.dir.is_absolute() for run in plan.runs.values())


def test_planning_is_pure(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({"profile": "x", "dataset": {"kind": "synthetic", "root": str(tmp_path / "data")},
                                 "runs_dir": str(tmp_path / "runs")}))
    plan = plan_study(load_study(str(p)))
    assert len(plan.runs) == 21
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()     # nothing read or written


def _write(tmp_path, d):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(d))
    return str(p)


@pytest.mark.parametrize("bad,msg", [
    ({"traning": {}}, r"bad.yaml: unknown key\(s\) \['traning'\]; allowed in the top level: \['profile'"),
    ({"train": {"lrr": 0.1}}, r"unknown key\(s\) \['train.lrr'\]; allowed in train: \[.*'lr'"),
    ({"epochs": {"bse": 3}},
     r"unknown key\(s\) \['epochs.bse'\]; allowed in epochs: \['base', 'finetune', 'tsm_single'\]"),
    ({"epochs": {"base": "ten"}}, "epochs.base: expected an integer"),
    ({"dataset": {"kind": "kinetics"}}, r"dataset.kind='kinetics'; allowed: \['synthetic', 'ucf101', 'challenge'\]"),
    ({"data": {"input_type": "diff"}}, "data.input_type is set per table row by the planner"),
    ({"train": {"lr": float("nan")}}, "train.lr=nan must be a finite number"),
    ({"models": {"slowfast_r18": {}}}, r"models.slowfast_r18: unknown model; registered: \["),
    ({"models": {"slowfast_r50": {"conv": "2+1d"}}}, r"models.slowfast_r50: .*conv='2\+1d' not allowed"),
    ({"bootstrap": 0}, "bootstrap=0 must be >= 10"),
])
def test_params_errors_name_file_key_and_allowed_values(tmp_path, bad, msg):
    with pytest.raises(ConfigError, match=msg):
        load_study(_write(tmp_path, bad))


def test_overrides_merge_and_are_checked():
    s = load_study("smoke", {"epochs": {"base": 7}, "train": {"lr": 0.5}})
    assert s.epochs.base == 7 and s.epochs.finetune == load_study("smoke").epochs.finetune and s.train.lr == 0.5
    with pytest.raises(ConfigError, match=r"overrides: unknown key\(s\) \['epoch'\]"):
        load_study("smoke", {"epoch": {"base": 7}})
    with pytest.raises(ConfigError, match=r"\+ overrides: unknown key\(s\) \['epochs.bse'\]"):
        load_study("smoke", {"epochs": {"bse": 7}})
    with pytest.raises(ConfigError, match=r"profile 'smok': no .*smok.yaml; profiles: \["):
        load_study("smok")


def test_notebook_parameters_are_checked():
    check_notebook_parameters({"profile": "demo", "overrides": {}, "In": [], "_ih": [], "yaml": yaml})
    with pytest.raises(ConfigError, match=r"unknown notebook parameter\(s\) \['trian'\]; allowed: \['profile', "
                                          r"'overrides'\]"):
        check_notebook_parameters({"profile": "demo", "overrides": {}, "trian": 5})


@pytest.mark.parametrize("profile", PROFILES)
def test_no_two_table1_rows_build_the_same_network(profile):
    """An ablation that changes nothing at the profile's depth would be a silent no-op row."""
    from vipar_lib.models import ModelOptionError, create_model
    plan = plan_study(load_study(profile))
    signatures = {}
    for r in plan.rows["table1"]:
        cfg = plan.runs[r.run].config
        try:
            m = create_model(cfg.model.name, num_classes=4, **cfg.model.options)
        except ModelOptionError:
            continue                         # refused at this depth: not silent
        sig = tuple((type(mod).__name__, tuple(p.shape)) for _, mod in m.named_modules()
                    for p in mod.parameters(recurse=False)) + tuple(type(mod).__name__ for mod in m.modules())
        signatures[r.id] = sig
    ids = list(signatures)
    assert len(ids) >= len(paper_rows("table1")) - 2, f"{profile}: most rows must build"
    same = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:] if signatures[a] == signatures[b]]
    assert not same, f"{profile}: rows build identical networks: {same}"


def test_release_reading_builds_the_authors_models():
    from vipar_lib.models.slowfast_release import RELEASE_FINAL
    from vipar_lib.models.tsm import TSM_RELEASE
    plan = plan_study(load_study("ucf101", {"reading": "release"}))
    t1 = {r["id"]: r for r in paper_rows("table1")}
    for r in plan.rows["table1"]:
        cfg = plan.runs[r.run].config
        assert cfg.model.name == "slowfast_release_r50"
        assert {k: v for k, v in cfg.model.options.items() if k != "num_frames"} == t1[r.id]["release"]
    for r in plan.rows["table2"]:
        cfg = plan.runs[r.run].config
        if r.info["family"] == "slowfast":
            assert cfg.model.name == f"slowfast_release_r{r.info['depth']}"
            assert {k: cfg.model.options[k] for k in RELEASE_FINAL} == RELEASE_FINAL
        else:
            assert {k: cfg.model.options[k] for k in TSM_RELEASE} == TSM_RELEASE
    assert plan.row("table2", "T2.1").run != plan.row("table1", "T1.7").run     # T1.7 = t+s+st, T2.1 = released net


@pytest.mark.slow
def test_a_release_reading_row_trains_end_to_end_on_smoke_data(tmp_path):
    from vipar_lib.engine.evaluate import evaluate_run
    from vipar_lib.engine.train import train
    from vipar_lib.logits import load_logits
    from vipar_lib.study import prepare_data
    study = load_study("smoke", {"reading": "release", "runs_dir": str(tmp_path / "runs"),
                                 "dataset": {"root": str(tmp_path / "data")}})
    plan = plan_study(study)
    prepare_data(study, progress=False)
    row = plan.row("table1", "T1.3")                  # +2plus1D under the release reading: conv_a=t+s
    for name in (*plan.runs[row.run].needs, row.run):
        assert (train(plan.runs[name].config) / "final.json").is_file()
    (path,) = evaluate_run(plan.runs[row.run].dir, views=["center"], progress=False)
    lf = load_logits(path)
    assert lf.meta["model"] == "slowfast_release_r50" and lf.logits.shape == (len(lf.video), 4)
    assert not (lf.logits != lf.logits).any()         # no NaN: every test video was scored


def test_cost_plan_adds_up():
    from vipar_lib.study.cost import ASSUMED_TFLOPS, cost_plan, format_cost
    plan = plan_study(load_study("ucf101"))
    c = cost_plan(plan)
    assert c["split_sizes"]["train"] in (4795, 4795)            # published sizes or the official lists
    base = next(r for r in c["runs"] if r["name"] == "base_slowfast_r50_rgb")
    cfg = plan.runs["base_slowfast_r50_rgb"].config
    assert base["frames"] == 64 and base["epochs"] == cfg.train.epochs
    assert base["train_clips"] == (4795 // 128) * 128
    assert 25 < base["fwd_gflops"] < 35                         # SlowFast-R50 at 64x112x112 (2 per multiply-add)
    val = 4742 * (cfg.train.epochs // cfg.train.val_every)
    assert base["train_pflop"] == pytest.approx((3 * cfg.train.epochs * base["train_clips"] + val)
                                                * base["fwd_gflops"] / 1e6)
    assert base["eval_pflop"] == 0                              # bases are not evaluated on test
    t17 = next(r for r in c["runs"] if r["name"] == "t1_T1_7")
    assert t17["eval_pflop"] > 0 and t17["fwd_gflops"] > base["fwd_gflops"]   # Table 3 evaluates T1.7 = T2.1
    assert c["total"]["train_pflop"] == pytest.approx(sum(r["train_pflop"] for r in c["runs"]))
    assert c["gpu_hours"]["all"] == pytest.approx(
        (c["total"]["train_pflop"] + c["total"]["eval_pflop"]) * 1e3 / ASSUMED_TFLOPS / 3600)
    text = format_cost(c)
    assert "assumed" in text and "not measured" in text and "t2_tsm_r50_shift" in text
    assert cost_plan(plan, throughput_tflops=100)["throughput_source"] == "given"


def test_release_profile_per_model_settings_and_no_validation():
    plan = plan_study(load_study("ucf101-release"))
    assert not plan.has_validation and {q.split for q in plan.requests()} == {"test"}
    diff = plan.runs["t2_slowfast_release_r50_diff"].config
    tsm = plan.runs["t2_tsm_r50_shift"].config
    rgb = plan.runs["t2_slowfast_release_r50_rgb"].config
    assert diff.data.augment.intervals == (1,) and rgb.data.augment.intervals == (1, 2)
    assert tsm.train.batch_size == 16 and tsm.data.augment.reverse is False and rgb.train.batch_size == 32
    for cfg in (diff, tsm, rgb):
        assert cfg.data.val_split == "" and cfg.data.allow_repeats and cfg.data.normalize == "imagenet"
        assert cfg.eval.crop == "random" and cfg.data.augment.scheme == "release"
    with pytest.raises(ConfigError, match=r"by_model.tsm/flow: unknown kind of run; allowed: \['slowfast/rgb'"):
        load_study("ucf101-release", {"by_model": {"tsm/flow": {}}})
    with pytest.raises(ConfigError, match=r"by_model.tsm/rgb.train.lrr"):
        load_study("ucf101-release", {"by_model": {"tsm/rgb": {"train": {"lrr": 1}}}})


def test_the_release_training_list_is_train_plus_validation_with_its_repeats(shared_data, tmp_path):
    from vipar_lib.study import prepare_data
    release = shared_data.parent / "deepblue-release"
    if not (release / "lists" / "train22.txt").is_file():
        pytest.skip("the release's lists are not beside the repository")
    study = load_study("ucf101-release", {"runs_dir": str(tmp_path), "release": {"dir": str(release)},
                                          "dataset": {"lists": str(shared_data / "ucfTrainTestlist")}})
    sp = prepare_data(study, progress=False).split
    names = [e.video_id for e in sp["train"]]
    assert len(names) == 12818 and len(set(names)) == 9537 and sp["validation"] == [] and len(sp["test"]) == 3783
    assert {n.split("_")[1] for n in names} == {"train", "validation"}
