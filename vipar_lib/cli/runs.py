"""Run commands: ``vipar train``, ``evaluate``, ``ensemble``, ``submit``, ``score``."""
from __future__ import annotations

import json
from pathlib import Path

from .registry import JSON, arg, command

VIEWS = ("center", "flip", "random_crop", "reverse", "concat_reverse")


@command("train", "train a run from a params YAML (also under torchrun for data parallelism)",
         arg("params", type=Path, help="a run's params YAML: name, runs_dir, data, model, train, eval "
                                       "(see vipar_lib/engine/config.py)"),
         arg("--force", action="store_true", help="retrain even if the run finished: clears the run folder "
                                                  "(refused while another process trains that run)"),
         arg("--resume-from", choices=("last", "best"), default="last",
             help="resume an unfinished run from last.pt (default) or from best.pt (use it when last.pt is damaged)"),
         arg("--runs-dir", type=Path, default=None, help="run store to use instead of the file's runs_dir"))
def train(a):
    import logging

    from ..engine.config import load_config, portable_config
    from ..engine.train import train as train_run
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(a.params)
    if a.runs_dir:
        cfg.runs_dir = str(a.runs_dir)
    cfg = portable_config(cfg, Path.cwd())       # the file's relative paths are relative to where you are
    print(train_run(cfg, force=a.force, resume_from=a.resume_from))
    return 0


@command("evaluate", "evaluate a run under test-time views; writes one logits .npz file per view",
         arg("run_dir", type=Path, help="a run directory (runs/<name>-<hash>)"),
         arg("--tta", nargs="+", choices=VIEWS, default=None, metavar="VIEW",
             help=f"views, any of {', '.join(VIEWS)} (default: the run's eval.views)"),
         arg("--clips", type=int, default=None, help="clips per video (default: the run's eval.num_clips)"),
         arg("--interval", type=int, choices=(1, 2), default=None, help="frame interval (default: the run's)"),
         arg("--split", choices=("train", "validation", "test"), default=None, help="which split (default: test)"),
         arg("--checkpoint", choices=("best", "last"), default="best",
             help="which checkpoint to evaluate (default best.pt: the best validation epoch); last.pt's logits files "
                  "end in -last.npz; a missing checkpoint is an error, never swapped for the other"),
         arg("--force", action="store_true", help="re-evaluate views whose logits file exists"), JSON)
def evaluate(a):
    from ..engine.evaluate import evaluate_run
    from ..logits import load_logits
    paths = evaluate_run(a.run_dir, views=a.tta, num_clips=a.clips, interval=a.interval, split=a.split,
                         force=a.force, progress=not a.json, checkpoint=a.checkpoint)
    rows = []
    for p in paths:
        lf = load_logits(p)
        rows.append({"file": str(p), "view": lf.meta["view"], "top1": lf.top1, "mean_class": lf.mean_class,
                     "bad_videos": lf.meta.get("bad_videos", [])})
    if a.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        print(f"{r['view']:15} top-1 {100 * r['top1']:6.2f}%  mean per-class {100 * r['mean_class']:6.2f}%  {r['file']}"
              + (f"  ({len(r['bad_videos'])} undecodable, counted wrong)" if r["bad_videos"] else ""))
    return 0


@command("ensemble", "sum the pre-softmax logits of several .npz files (videos by id, classes by name)",
         arg("files", nargs="+", type=Path, help="logits files written by `vipar evaluate`"),
         arg("--weights", nargs="+", type=float, default=None, help="one weight per file (default 1 each)"),
         arg("--out", type=Path, default=None, help="write the ensemble as a logits .npz file"), JSON)
def ensemble(a):
    from ..ensemble import ensemble_files
    from ..logits import save_logits
    lf = ensemble_files(a.files, a.weights)
    if a.out:
        save_logits(a.out, lf)
    res = {"members": [str(f) for f in a.files], "weights": a.weights or [1.0] * len(a.files),
           "videos": int(len(lf.video)), "top1": lf.top1, "mean_class": lf.mean_class, "out": str(a.out or "")}
    print(json.dumps(res, indent=1) if a.json else
          f"{len(a.files)} members, {res['videos']} videos: top-1 {100 * lf.top1:.2f}%, "
          f"mean per-class {100 * lf.mean_class:.2f}%" + (f" -> {a.out}" if a.out else ""))
    return 0


@command("submit", "write the challenge submission file (clip.avi c1 .. c5) from a logits .npz",
         arg("logits", type=Path, help="a logits .npz file (one view, or an ensemble)"),
         arg("--out", type=Path, required=True, help="submission file to write"))
def submit(a):
    from ..challenge import write_submission
    from ..logits import load_logits
    print(write_submission(load_logits(a.logits), a.out))
    return 0


@command("score", "challenge metric: top-1/3/5 mean per-class accuracy of a submission",
         arg("submission", type=Path, help="submission file: clip.avi c1 c2 c3 c4 c5 per line"),
         arg("ground_truth", type=Path, help="ground truth: clip.avi class_id per line (`vipar ground-truth` writes "
                                             "one), or a `vipar split` list such as splits/test.txt"),
         arg("--num-classes", type=int, default=None, help="default: the largest id in the ground truth"), JSON)
def score(a):
    from ..challenge import score_submission
    res = score_submission(a.submission, a.ground_truth, a.num_classes)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"top-1 {100 * res['top1']:.2f}%  top-3 {100 * res['top3']:.2f}%  top-5 {100 * res['top5']:.2f}% "
          f"(mean per-class; {res['videos']} videos, {res['missing']} missing)")
    notes = [(res["malformed_lines"], "malformed line(s), their videos counted wrong",
              [f"line {m['line']}: {m['problem']}" for m in res["malformed"]]),
             (res["duplicate_videos"], f"video(s) listed more than once ({res['duplicate_rule']})",
              [f"{v}: lines {ls}" for v, ls in list(res["duplicates"].items())]),
             (res["unknown"], "name(s) not in the ground truth, ignored", res["unknown_videos"]),
             (res["missing"], "video(s) of the ground truth missing, counted wrong", res["missing_videos"]),
             (res["out_of_range"], "class id(s) outside 1..C, counted wrong", [])]
    for n, what, examples in notes:
        if n:
            print(f"  {n} {what}" + (f": {', '.join(map(str, examples[:5]))}" + (" ..." if n > 5 else "")
                                     if examples else ""))
    return 0


@command("ground-truth", "write the challenge-format ground truth (video_<split>_NNNNNNN.avi class_id) of a split",
         arg("split_dir", type=Path, help="a `vipar split` folder, or an official ucfTrainTestlist/ folder"),
         arg("--split", default="test", choices=("train", "validation", "test"), help="which split (default test)"),
         arg("--out", type=Path, required=True, help="ground-truth file to write"))
def ground_truth(a):
    from ..challenge import write_split_ground_truth
    print(write_split_ground_truth(a.split_dir, a.split, a.out))
    return 0
