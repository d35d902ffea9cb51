"""A full-size dry run of a profile: every notebook, the real models and clip geometry, almost no data.

``vipar reproduce --profile ucf101 --dry-run`` catches shape, memory and config errors before a
user spends GPU hours. It keeps everything that decides what the models compute — models and
their options, the reading, frames per clip (64 for SlowFast, 16 for TSM), crop and decode sizes,
test clips per video (10), test-time views, the staged-training protocol — and shrinks only the
amount of work::

    dataset   a generated UCF101-layout set of 320x240 XviD AVIs: 2 classes x 3 groups x 1 clip
              -> 2 training videos, 2 validation videos, 2 test videos (group 1 is the test group)
    training  1 epoch per stage, a global batch of 2 clips in micro-batches of 1: one optimisation
              step per run, gradient accumulation exercised; one seed (seeds change no shape; the smoke
              profile with 2 seeds tests the seed axis end to end)
    reports   runs/dryrun-<profile>/ and reports/dryrun-<profile>/: the real run store is untouched

Numbers from a dry run mean nothing; its reports say "dry run" in the profile name.
"""
from __future__ import annotations

from .config import StudyConfig

__all__ = ["dry_run_overrides", "DRY_RUN_DATASET"]

DRY_RUN_DATASET = {"kind": "synthetic", "root": "data/dryrun", "classes": 2, "groups": 3, "clips": 1, "seed": 0,
                   "size": [320, 240]}


def dry_run_overrides(study: StudyConfig) -> dict:
    """Overrides that turn ``study`` into its dry run (merge them over the profile's file)."""
    name = f"dryrun-{study.profile}"
    # generated videos cannot carry the release's train22.txt names: keep "no validation" with train + validation
    train_list = "challenge" if study.dataset.train_list == "challenge" else "train+validation"
    return {
        "profile": name,
        "dataset": {**DRY_RUN_DATASET, "train_list": train_list, "prepared": ""},   # generated videos, not a copy
        "runs_dir": f"runs/{name}",
        "reports_dir": f"reports/{name}",
        "epochs": {"base": 1, "finetune": 1, "tsm_single": 1},
        "train": {"batch_size": 2, "micro_batch": 1, "val_every": 1, "val_clips": 1},
        "data": {"workers": min(study.data.workers, 1), "cache_decoded": False},
        "bootstrap": 10,
        "seeds": 1,
    }
