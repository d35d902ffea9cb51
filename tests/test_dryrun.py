"""The GPU profiles at full size, in the part of the dry run that fits CI (`make test-full` runs all of it)."""
import numpy as np
import pytest

from vipar_lib.engine.evaluate import evaluate_run
from vipar_lib.engine.train import train
from vipar_lib.logits import load_logits
from vipar_lib.study import load_study, plan_study, prepare_data
from vipar_lib.study.dryrun import dry_run_overrides
from vipar_lib.typed import merge


@pytest.mark.slow
@pytest.mark.parametrize("profile,row", [("ucf101", "T2.1"), ("ucf101-release", "T2.3")])
def test_a_full_size_row_of_each_gpu_profile_trains_and_evaluates(profile, row, tmp_path):
    """The heaviest R50 row of each reading: real model, 64x112x112 clips, 10 test clips, one optimisation step."""
    over = merge(dry_run_overrides(load_study(profile)), {"runs_dir": str(tmp_path / "runs"),
                                                          "dataset": {"root": str(tmp_path / "data")}})
    study = load_study(profile, over)
    plan = plan_study(study)
    prep = prepare_data(study, progress=False)
    assert len(prep.split["test"]) == 2 and len(prep.split["train"]) >= 2
    r = plan.row("table2", row)
    cfg = plan.runs[r.run].config
    assert cfg.data.clip_len == 64 and cfg.data.crop_size == 112 and cfg.eval.num_clips == 10
    for name in (*plan.runs[r.run].needs, r.run):
        assert (train(plan.runs[name].config) / "final.json").is_file()
    (path,) = evaluate_run(plan.runs[r.run].dir, views=["center"], num_clips=10, progress=False,
                           positions=study.eval.positions, crop=study.eval.crop)
    lf = load_logits(path)
    assert lf.logits.shape == (2, prep.split.num_classes) and np.isfinite(lf.logits).all()
    assert lf.meta["clips"] == 10 and lf.meta["clip_len"] == 64
