"""Model, engine and report commands of ``vipar`` (registered into :mod:`vipar_lib.cli`)."""
from __future__ import annotations

import json
from pathlib import Path

from .cli import command, register


def _parse_opts(pairs):
    """``key=value`` pairs; values parsed as YAML scalars/lists (``depths=[1,1,1,1]``)."""
    import yaml
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise SystemExit(f"option {p!r} must be key=value")
        k, v = p.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


@command("models", "list the registered models")
def cmd_models(a):
    from .models import list_models, model_spec
    rows = [{"name": n, "family": model_spec(n).family, "frames": model_spec(n).default_frames,
             "options": sorted(model_spec(n).options), "description": model_spec(n).description}
            for n in list_models()]
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'model':15} {'family':10} {'T':>3}  description")
        for r in rows:
            print(f"{r['name']:15} {r['family']:10} {r['frames']:3d}  {r['description']}")
    return 0


register("models", lambda p: p.add_argument("--json", action="store_true"))


@command("model-info", "parameters, GFLOPs and input shape of a model")
def cmd_model_info(a):
    from .models.info import model_info
    info = model_info(a.name, a.num_classes, a.frames, a.size, **_parse_opts(a.option))
    if a.json:
        print(json.dumps(info, indent=1))
    else:
        print(f"{info['name']}: {info['params']:,} parameters, {info['gflops']:.2f} GFLOPs "
              f"(torch.utils.flop_counter, 2 per multiply-add) at input {tuple(info['input_shape'])}")
        print("options: " + ", ".join(f"{k}={v}" for k, v in info["options"].items()))
    return 0


def _add_model_info(p):
    p.add_argument("name")
    p.add_argument("--num-classes", type=int, default=101)
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("-o", "--option", action="append", help="model option key=value (repeatable)")
    p.add_argument("--json", action="store_true")


register("model-info", _add_model_info)


# --- engine -------------------------------------------------------------------------------
@command("train", "train a run from a params YAML (also under torchrun for data parallelism)")
def cmd_train(a):
    import logging
    from .engine.config import load_config
    from .engine.train import train
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(a.params)
    if a.runs_dir:
        cfg.runs_dir = str(a.runs_dir)
    run = train(cfg, force=a.force)
    print(run)
    return 0


def _add_train(p):
    p.add_argument("params", type=Path)
    p.add_argument("--force", action="store_true", help="retrain even if the run finished")
    p.add_argument("--runs-dir", type=Path, default=None)


register("train", _add_train)


@command("evaluate", "evaluate a run under test-time views; writes logits .npz files")
def cmd_evaluate(a):
    from .engine.evaluate import evaluate_run
    from .logits import load_logits
    paths = evaluate_run(a.run_dir, views=a.tta, num_clips=a.clips, interval=a.interval, split=a.split,
                         force=a.force, progress=not a.json)
    rows = []
    for p in paths:
        lf = load_logits(p)
        rows.append({"file": str(p), "view": lf.meta["view"], "top1": lf.top1, "mean_class": lf.mean_class,
                     "bad_videos": lf.meta.get("bad_videos", [])})
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['view']:15} top-1 {100 * r['top1']:6.2f}%  mean per-class {100 * r['mean_class']:6.2f}%  {r['file']}"
                  + (f"  ({len(r['bad_videos'])} undecodable, counted wrong)" if r["bad_videos"] else ""))
    return 0


def _add_evaluate(p):
    from .data.transforms import TTA_VIEWS
    p.add_argument("run_dir", type=Path)
    p.add_argument("--tta", nargs="+", choices=TTA_VIEWS, default=None, help="views (default: the run's eval.views)")
    p.add_argument("--clips", type=int, default=None)
    p.add_argument("--interval", type=int, choices=(1, 2), default=None)
    p.add_argument("--split", choices=("train", "validation", "test"), default=None)
    p.add_argument("--force", action="store_true")
    p.add_argument("--json", action="store_true")


register("evaluate", _add_evaluate)


@command("ensemble", "sum pre-softmax logits of several .npz files")
def cmd_ensemble(a):
    from .logits import save_logits
    from .ensemble import ensemble_files
    lf = ensemble_files(a.files, a.weights)
    if a.out:
        save_logits(a.out, lf)
    res = {"members": [str(f) for f in a.files], "weights": a.weights or [1.0] * len(a.files),
           "videos": int(len(lf.video)), "top1": lf.top1, "mean_class": lf.mean_class, "out": str(a.out or "")}
    print(json.dumps(res, indent=1) if a.json else
          f"{len(a.files)} members, {res['videos']} videos: top-1 {100 * lf.top1:.2f}%, "
          f"mean per-class {100 * lf.mean_class:.2f}%" + (f" -> {a.out}" if a.out else ""))
    return 0


def _add_ensemble(p):
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--weights", nargs="+", type=float, default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--json", action="store_true")


register("ensemble", _add_ensemble)


@command("submit", "write the challenge submission file from a logits .npz")
def cmd_submit(a):
    from .logits import load_logits
    from .ensemble import write_submission
    print(write_submission(load_logits(a.logits), a.out))
    return 0


def _add_submit(p):
    p.add_argument("logits", type=Path)
    p.add_argument("--out", type=Path, required=True)


register("submit", _add_submit)


@command("score", "challenge metric: top-1/3/5 mean per-class accuracy of a submission")
def cmd_score(a):
    from .ensemble import score_submission
    res = score_submission(a.submission, a.ground_truth, a.num_classes)
    print(json.dumps(res, indent=1) if a.json else
          f"top-1 {100 * res['top1']:.2f}%  top-3 {100 * res['top3']:.2f}%  top-5 {100 * res['top5']:.2f}% "
          f"(mean per-class; {res['videos']} videos, {res['missing']} missing)")
    return 0


def _add_score(p):
    p.add_argument("submission", type=Path)
    p.add_argument("ground_truth", type=Path)
    p.add_argument("--num-classes", type=int, default=None, help="default: the largest id in the ground truth")
    p.add_argument("--json", action="store_true")


register("score", _add_score)


# --- reports ------------------------------------------------------------------------------
@command("reproduce", "run every notebook of a profile with papermill and render HTML reports")
def cmd_reproduce(a):
    from .report.runner import reproduce
    res = reproduce(a.profile, only=a.only, force=a.force, reports_dir=a.reports_dir)
    if res["failed"]:
        print("failed notebooks:")
        for n, err in res["failed"].items():
            print(f"  {n}: {err}")
        return 1
    return 0


def _add_reproduce(p):
    from .report.runner import NOTEBOOKS, PROFILES
    p.add_argument("--profile", choices=PROFILES, default="demo")
    p.add_argument("--only", nargs="+", choices=NOTEBOOKS, default=None)
    p.add_argument("--force", action="store_true", help="re-execute notebooks whose reports exist")
    p.add_argument("--reports-dir", type=Path, default=None)


register("reproduce", _add_reproduce)
