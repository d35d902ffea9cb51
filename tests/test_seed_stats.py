"""Seeds as a study axis: the plan, the statistics over seeds and test videos, and the power analysis."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from vipar_lib import metrics as M
from vipar_lib.logits import LogitsFile
from vipar_lib.report.tables import compare_table, result_row, style_table
from vipar_lib.study import load_study, plan_study
from vipar_lib.typed import ConfigError


def _simulate(rng, seeds: int, videos: int, delta: float, seed_sd: float, video_sd: float = 0.1):
    """Per-seed, per-video correctness of two rows with a known effect ``delta`` and seed noise ``seed_sd``.

    A video's chance of being right is p_v ± (delta + u_s + e_v) / 2: u_s is the seed's effect (what a rerun
    changes), e_v the video's (a fixed test set drawn from the population of videos). Averaged over seeds
    and the population of videos, the effect is ``delta``.
    """
    p = rng.uniform(0.35, 0.65, videos)
    e = rng.normal(0, video_sd, videos)
    u = rng.normal(0, seed_sd, seeds)
    shift = (delta + u[:, None] + e[None]) / 2
    a = rng.random((seeds, videos)) < np.clip(p + shift, 0, 1)
    b = rng.random((seeds, videos)) < np.clip(p - shift, 0, 1)
    return a.astype(float), b.astype(float)


def test_seed_aware_interval_covers_the_true_effect_and_the_test_only_one_does_not():
    """200 simulated studies of 3 seeds x 150 videos (the demo's size), seed noise dominating."""
    rng = np.random.default_rng(2026)
    delta, hits_seed, hits_test = 0.05, 0, 0
    for _ in range(200):
        a, b = _simulate(rng, 3, 150, delta, seed_sd=0.10)
        iv = M.seed_video_interval(a, b)
        assert iv.resamples == M.SEEDS_AND_VIDEOS and iv.seeds == 3
        hits_seed += iv.low <= delta <= iv.high
        lo, hi = M.bootstrap_mean(a[0] - b[0], 300)             # what the reports did: one run, videos only
        hits_test += lo <= delta <= hi
    assert hits_seed / 200 >= 0.90
    assert hits_test / 200 < 0.80                             # visibly under-covers


def test_interval_with_one_seed_is_the_video_bootstrap_and_says_so():
    rng = np.random.default_rng(1)
    a, b = _simulate(rng, 1, 200, 0.1, 0.0)
    iv = M.seed_video_interval(a, b, n_boot=500)
    lo, hi = M.bootstrap_mean(a[0] - b[0], 500)
    assert (iv.low, iv.high) == (lo, hi) and iv.resamples == M.VIDEOS_ONLY and np.isnan(iv.seed_sd)
    # more seed noise widens the seed-aware interval; the estimate is the mean of the per-seed values
    quiet = M.seed_video_interval(*_simulate(np.random.default_rng(3), 4, 200, 0.1, 0.0))
    noisy = M.seed_video_interval(*_simulate(np.random.default_rng(3), 4, 200, 0.1, 0.2))
    assert noisy.high - noisy.low > quiet.high - quiet.low
    assert noisy.estimate == pytest.approx(np.mean(noisy.per_seed))


def test_the_seed_variance_component_leaves_out_the_test_set_noise_in_the_seeds_spread():
    """With no seed effect the per-seed effects still spread (each seed's video draws differ); the variance
    component the power analysis plans with is ~0 there, and recovers a known seed SD where there is one."""
    rng = np.random.default_rng(7)
    none = [M.seed_video_interval(*_simulate(rng, 3, 200, 0.0, 0.0)) for _ in range(300)]
    raw = np.mean([iv.seed_sd ** 2 for iv in none])
    comp = np.mean([iv.seed_var for iv in none])
    assert raw > 0.002 and abs(comp) < raw / 10                  # 0.07² of test noise in the spread, ~0 left
    known = [M.seed_video_interval(*_simulate(rng, 5, 400, 0.0, 0.10)).seed_var for _ in range(300)]
    assert np.sqrt(np.mean(known)) == pytest.approx(0.10, rel=0.15)
    iv = M.seed_video_interval(*_simulate(rng, 3, 50, 0.0, 0.1))
    assert iv.scaled(100).seed_var == pytest.approx(1e4 * iv.seed_var)


def test_t_quantiles_and_discordance():
    assert [round(M.t_quantile(0.975, df), 3) for df in (1, 2, 5, 30, float("inf"))] == \
        [12.706, 4.303, 2.571, 2.042, 1.96]
    a = np.array([1, 1, 0, 0, 1] * 200, bool)
    b = np.array([1, 0, 1, 0, 1] * 200, bool)
    disc, hw = M.discordance_halfwidth(a, b)
    assert disc == pytest.approx(0.4)
    assert hw == pytest.approx(1.96 * np.sqrt(0.4 / 1000), rel=1e-3)


def test_power_grows_with_seeds_and_the_test_set_is_a_floor():
    se = 0.55 / 1.96
    assert M.power_of(2.0, 1.0, se, 10) > M.power_of(2.0, 1.0, se, 3) > M.power_of(2.0, 1.0, se, 2)
    assert M.seeds_needed(3.0, 1.0, se) is not None and M.seeds_needed(3.0, 1.0, se) >= 2
    assert M.seeds_needed(0.2, 1.0, se, max_seeds=50) is None            # below what the test set can resolve
    mde = [M.min_detectable_effect(1.0, se, s) for s in (3, 5, 10, 20)]
    assert mde == sorted(mde, reverse=True) and mde[-1] > (1.96 + 0.84) * se


def test_plan_has_one_run_per_row_and_seed_and_seed_zero_keeps_its_run():
    one = plan_study(load_study("smoke"))
    three = plan_study(load_study("smoke", {"seeds": 3}))
    assert len(three.runs) == 3 * len(one.runs)
    for name, run in one.runs.items():                       # seed 0: today's names and hashes
        assert three.runs[name].dir == run.dir and three.runs[name].config.train.seed == 0
    for name, run in three.runs.items():
        seed = run.config.train.seed
        assert name.endswith(f"_s{seed}") == (seed != 0)
        for need in run.needs:                                # a fine-tune of seed i starts from its base of seed i
            assert three.runs[need].config.train.seed == seed
            assert run.config.train.init_from == str(three.runs[need].dir)
    for t in ("table1", "table2", "table3"):
        assert all(r.seeds == (0, 1, 2) and len(r.runs) == 3 and len(set(r.runs)) == 3 for r in three.rows[t])
    assert all(r.seeds == (0, 1, 2) for r in three.rows["table4"])
    per = plan_study(load_study("smoke", {"seeds": {"table1": 2}}))
    assert per.rows["table1"][0].seeds == (0, 1) and per.rows["table2"][0].seeds == (0,)


@pytest.mark.parametrize("bad, key", [({"seeds": 0}, "seeds=0"), ({"seeds": {"table3": 2}}, "seeds.table3"),
                                      ({"seeds": {"table1": 0}}, "seeds.table1"), ({"seeds": "x"}, "seeds")])
def test_bad_seeds_are_refused_naming_the_key(bad, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_study("smoke", bad)


def test_vipar_plan_json_lists_each_run_with_its_seed_at_three_times_the_cost():
    def plan(*extra):
        out = subprocess.run([sys.executable, "-m", "vipar_lib.cli", "plan", "--profile", "smoke", "--json", *extra],
                             capture_output=True, text=True, timeout=300, check=True).stdout
        return json.loads(out)
    one, three = plan(), plan("--set", "seeds=3")
    assert len(three["runs"]) == 3 * len(one["runs"])
    assert sorted({r["seed"] for r in three["runs"]}) == [0, 1, 2]
    for r in one["runs"]:                                     # each run once per seed
        assert sorted(x["seed"] for x in three["runs"] if re.sub(r"_s\d+$", "", x["name"]) == r["name"]) == [0, 1, 2]
    for k in ("train_pflop", "eval_pflop", "decode_mframes"):
        assert three["total"][k] == pytest.approx(3 * one["total"][k])


def _lf(correct, seed):
    labels = np.arange(len(correct)) % 3
    logits = np.eye(3)[np.where(correct, labels, (labels + 1) % 3)]
    return LogitsFile(np.array([f"v{i:04d}" for i in range(len(correct))]), labels, logits.astype(np.float32),
                      {"seed": seed})


def test_tables_show_per_seed_values_and_judge_with_the_seed_aware_interval():
    rng = np.random.default_rng(0)
    ref = [_lf(rng.random(150) < 0.6, s) for s in range(3)]
    # B beats A on seed 0 by a wide margin and loses on the others: a single run would call it resolved
    b = [_lf(np.r_[np.ones(150, bool)], 0), _lf(rng.random(150) < 0.5, 1), _lf(rng.random(150) < 0.55, 2)]
    logits = {"A": ref, "B": b}
    rows = [result_row(k, k, p, v, n_boot=300) for (k, v), p in zip(logits.items(), (70.0, 71.0))]
    df = compare_table(rows, logits, "A", n_boot=300)
    assert df.loc[1, "seeds"] == 3 and len(df.loc[1, "run_seeds"]) == 3 and df.loc[1, "run_sd"] > 0
    assert df.loc[1, "effect"] == pytest.approx(np.mean(df.loc[1, "effect_seeds"]))
    assert df.loc[1, "effect_resamples"] == M.SEEDS_AND_VIDEOS
    single = compare_table([result_row(k, k, p, v[0], n_boot=300) for (k, v), p in zip(logits.items(), (70, 71))],
                           {k: v[0] for k, v in logits.items()}, "A", n_boot=300)
    assert single.loc[1, "resolved"] == "yes (single run)"            # seed 0 alone: resolved, on videos only
    assert df.loc[1, "resolved"] == "not resolved"                    # across seeds it is not
    html = style_table(df, "T", synthetic=True).to_html()
    assert "3 seeds per row" in html and "Δ per seed" in html and "seeds × videos" in html
    assert "single run" in style_table(single, "T").to_html()


@pytest.mark.parametrize("profile", ["demo", "ucf101"])
def test_vipar_power_answers_offline_for_every_finding(profile, tmp_path, release, shared_data):
    out = subprocess.run([sys.executable, "-m", "vipar_lib.cli", "power", "--profile", profile, "--json",
                          "--set", f"runs_dir={tmp_path}/runs"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert [f["id"] for f in r["findings"]] == [f"F{i}" for i in range(1, 18)]
    for f in r["findings"]:
        assert {"id", "paper_delta", "test_halfwidth", "test_pairs", "seed_sd", "seed_sd_source", "seeds_needed",
                "gpu_hours", "mde"} <= set(f)
        assert 0.3 < f["test_halfwidth"] < 2.0 and f["test_pairs"]              # UCF101's 3,783 videos
        assert f["seed_sd_source"].startswith("assumed")                      # an empty run store: nothing measured
        assert f["seeds_needed"] is None or (f["seeds_needed"] >= 2 and f["gpu_hours"] > 0)
    kinds = {f["id"]: f["kind"] for f in r["findings"]}
    assert kinds["F1"] == "models" and kinds["F13"] == "views" and kinds["F17"] == "ensembles"
    # the views of one model disagree less than two models: a narrower interval
    hw = {f["id"]: f["test_halfwidth"] for f in r["findings"]}
    assert hw["F13"] < hw["F1"] and hw["F14"] < hw["F12"]
    if profile == "demo":                          # a CPU-size study: its small cost is shown, not rounded to 0.0
        text = subprocess.run([sys.executable, "-m", "vipar_lib.cli", "power", "--profile", profile, "--set",
                               f"runs_dir={tmp_path}/runs"], capture_output=True, text=True, timeout=300).stdout
        assert "study: <0.1 GPU-hours per seed" in text and " 0.0 " not in text.replace("+0.0", "")
