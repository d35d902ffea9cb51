"""A cost plan, before any GPU hour is spent: what each run and evaluation of a plan will compute.

For every planned run::

    training   epochs × training clips × 3 × forward FLOPs      (forward + backward ≈ 3 forwards)
    validation (epochs / val_every) × validation videos × val_clips × forward FLOPs
    evaluation Σ over its logits files: videos × clips × forward FLOPs at the view's clip length
    decoding   frames the clips read: training clips × (T + extra); evaluation once per video and
               interval for all of a run's views: min(K clips × (T + extra), mean frames per video),
               the decode-once reader never reading a frame twice (the mean from the device feed's
               video index beside the split when there is one, else UCF101's published 27 hours
               over 13,320 clips at 25 fps = 182 frames, else K × (T + extra) for synthetic data)

Forward FLOPs are ``torch.utils.flop_counter`` counts (2 per multiply-add) of the real model at the
run's clip size, counted on the meta device. Split sizes come from the study's split folder when
it exists, else from the official lists, else from the challenge's published sizes (each labelled).
Hours come from a throughput: measured (``--throughput``, e.g. from ``benchmarks/train_step.py``
on the target GPU) or the stated assumption :data:`ASSUMED_TFLOPS`. Decode hours come from a
measured decode rate of the configured feed (:func:`decode_rate`): frames per CPU-second per worker
core of ``data.feed: host`` (today's path), the device feed on original videos, or on a prepared
copy (``dataset.prepared``), as ``benchmarks/data_pipeline.py --video CLIP --store`` measured and
stored them in :data:`RATE_FILE` (issue #18), or as given (``--decode-rate``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import REPO_DIR
from ..data.splits import load_split_dir, vipriors_split
from ..data.synth import list_sizes
from ..engine.runs import is_finished
from ..models.info import model_info
from ..paper import TABLES
from ..paths import resolve
from ..typed import ConfigError
from .config import StudyConfig
from .plan import Plan, release_list, split_dir

__all__ = ["RunCost", "cost_plan", "format_cost", "run_settings", "split_sizes", "decode_rate", "feed_path",
           "ASSUMED_TFLOPS", "RATE_FILE", "VIPRIORS_SIZES", "mean_video_frames", "UCF101_MEAN_FRAMES"]

#: the challenge split's sizes (shared/data/README.md), used when no list is at hand
VIPRIORS_SIZES = {"train": 4795, "validation": 4742, "test": 3783}
#: sustained training throughput assumed when none is measured: 25% of an H100's 989 TFLOP/s dense bf16
ASSUMED_TFLOPS = 0.25 * 989
#: UCF101's mean frames per video: 27 hours over 13,320 clips (Soomro et al. 2012) at 25 fps
UCF101_MEAN_FRAMES = 27 * 3600 / 13320 * 25
#: the stored result of ``benchmarks/data_pipeline.py --video CLIP --store``: frames per CPU-second per core
RATE_FILE = REPO_DIR / "benchmarks" / "results" / "decode_rate.json"
_PATH_NAMES = {"host": "today's path (decord RGB at the decode size, geometry in the workers)",
               "device_original": "the device feed on the original videos",
               "device_prepared": "the device feed on a prepared copy (vipar prepare-videos)"}


def feed_path(study: StudyConfig) -> str:
    """Which measured path the study's data take: ``host``, ``device_original`` or ``device_prepared``."""
    if study.data.feed == "host":
        return "host"
    return "device_prepared" if study.dataset.prepared else "device_original"


def decode_rate(study: StudyConfig, given: float | None = None, rate_file=None) -> tuple[float, str]:
    """(frames per CPU-second per core, where the figure comes from) for the study's feed path.

    ``given`` (``--decode-rate``) wins; otherwise the stored benchmark result (:data:`RATE_FILE`).
    Without either, one line says how to measure it."""
    path = feed_path(study)
    if given:
        return float(given), f"given (--decode-rate) for {_PATH_NAMES[path]}"
    f = resolve(rate_file) if rate_file else RATE_FILE
    try:
        stored = json.loads(f.read_text())
        rate = float(stored["frames_per_cpu_second"][path])
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{f}: no stored decode rate for {path}; measure it with python benchmarks/data_pipeline.py "
                          f"--video CLIP --store, or pass --decode-rate FRAMES_PER_CORE_SECOND") from None
    flag = ", PROVISIONAL: measured on a busy machine" if stored.get("provisional") else ""
    return rate, (f"{_PATH_NAMES[path]}: measured by benchmarks/data_pipeline.py on {Path(stored['video']).name} "
                  f"({stored['clip_len']}-frame windows, short side {stored['short_side']}, "
                  f"{stored['measured']}{flag})")


@dataclass
class RunCost:
    name: str
    seed: int                 # train.seed (the plan's seed axis)
    model: str
    input: str
    frames: int
    epochs: int
    train_clips: int          # clips per epoch
    fwd_gflops: float         # per clip, at the run's clip length
    params: int
    train_pflop: float        # training + validation
    eval_pflop: float         # the plan's evaluations of this run
    decode_mframes: float     # frames decoded, millions (training + evaluation)
    state: str                # finished | started | to train
    settings: str = ""        # model options beyond the model's defaults, head dropout, training reversal


def split_sizes(study: StudyConfig) -> tuple[dict[str, int], int, str]:
    """Videos per split (as trained: ``dataset.train_list``), the number of classes, and where the numbers come from."""
    sd = split_dir(study)
    if (sd / "train.txt").is_file():
        sp = load_split_dir(sd, allow_duplicates=study.dataset.train_list == "release")
        return sp.counts(), sp.num_classes, f"the study's split ({sd})"
    root = resolve(study.dataset.root)
    lists = resolve(study.dataset.lists) if study.dataset.lists else root.parent / "ucfTrainTestlist"
    ds = study.dataset
    if ds.kind == "ucf101" and (lists / "trainlist01.txt").is_file():
        sp = vipriors_split(lists)
        sizes, classes, source = sp.counts(), sp.num_classes, f"the official lists ({lists})"
    elif ds.kind in ("ucf101", "challenge"):
        sizes, classes, source = dict(VIPRIORS_SIZES), 101, "the challenge's published split sizes (no list found)"
    else:
        sizes, classes = list_sizes(ds.classes, ds.groups, ds.clips), ds.classes
        source = "the synthetic generator's lists (not generated yet)"
    if ds.train_list == "train+validation":
        sizes = {"train": sizes["train"] + sizes["validation"], "validation": 0, "test": sizes["test"]}
    elif ds.train_list == "release":
        lines = [ln for ln in release_list(resolve(study.release.dir)).read_text().splitlines() if ln.strip()]
        sizes = {"train": len(lines), "validation": 0, "test": sizes["test"]}
        source += " and the release's train22.txt"
    return sizes, classes, source


def _show(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(map(str, v)) + "]"
    return f"{v:g}" if isinstance(v, float) else str(v)


def run_settings(cfg) -> str:
    """One line of what sets a run apart: its model options that differ from the model's defaults (the
    planner's ``num_frames`` left out), its head dropout, and its training-time reversal."""
    from ..models import model_options
    defaults = {k: o.default for k, o in model_options(cfg.model.name).items()}
    opts = {**defaults, **cfg.model.options}
    parts = [f"{k}={_show(v)}" for k, v in opts.items()
             if k not in ("num_frames", "dropout") and v != defaults[k]]
    if "dropout" in opts:
        parts.append(f"dropout={_show(opts['dropout'])}")
    a = cfg.data.augment
    parts.append(f"reverse p={a.reverse_p:g}" if a.reverse else "no reverse")
    return " ".join(parts)


def mean_video_frames(study: StudyConfig) -> tuple[float | None, str]:
    """Mean frames per video (and where it comes from): the device feed's index beside the split, else UCF101's
    published mean for UCF101 data, else None (synthetic data before it is generated)."""
    from ..engine.build import INDEX_NAME
    f = split_dir(study) / INDEX_NAME
    if f.is_file():
        try:
            rows = json.loads(f.read_text())["videos"].values()
            frames = [r["index"]["frames"] for r in rows]
            if frames:
                return sum(frames) / len(frames), f"the video index ({f}, {len(frames)} videos)"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if study.dataset.kind in ("ucf101", "challenge"):
        return UCF101_MEAN_FRAMES, "UCF101's published length: 27 h over 13,320 clips at 25 fps"
    return None, "not known before the data exist: K clips x (T + extra) per video"


def _gflops(cache: dict, run, frames: int, num_classes: int) -> tuple[float, int]:
    cfg = run.config
    key = (cfg.model.name, repr(sorted(cfg.model.options.items())), frames, cfg.data.crop_size)
    if key not in cache:
        info = model_info(cfg.model.name, num_classes, frames, cfg.data.crop_size, **cfg.model.options)
        cache[key] = (info["gflops"], info["params"])
    return cache[key]


def cost_plan(plan: Plan, tables=TABLES, throughput_tflops: float | None = None,
              decode_cores: int | None = None, decode_fps: float | None = None) -> dict:
    """Per-run costs and totals of what ``tables`` need; nothing is trained or read but the split lists.
    ``decode_fps`` (frames per CPU-second per core) overrides the stored measured rate (:func:`decode_rate`)."""
    study = plan.study
    per_core, rate_source = decode_rate(study, decode_fps)
    mean_frames, frames_source = mean_video_frames(study)
    sizes, num_classes, source = split_sizes(study)
    runs = plan.runs_for(tables)
    reqs = plan.requests(tables)
    cache: dict = {}
    rows = []
    for run in runs:
        cfg = run.config
        extra = 1 if cfg.data.input_type == "diff" else 0
        t = cfg.data.clip_len
        fwd, params = _gflops(cache, run, t, num_classes)
        n_train = sizes[cfg.data.train_split]
        batch = min(cfg.train.batch_size, n_train)
        clips = (n_train // batch) * batch
        val_epochs = cfg.train.epochs // cfg.train.val_every + (cfg.train.epochs % cfg.train.val_every != 0)
        val = sizes.get(cfg.data.val_split, 0) * cfg.train.val_clips * val_epochs if cfg.data.val_split else 0
        train_pflop = (3 * cfg.train.epochs * clips + val) * fwd / 1e6
        eval_pflop, decode = 0.0, cfg.train.epochs * clips * (t + extra) + val * (t + extra)
        groups = set()
        for q in (q for q in reqs if q.run == run.name):
            frames = 2 * t if q.view == "concat_reverse" and cfg.eval.concat_mode == "double" else t
            g, _ = _gflops(cache, run, frames, num_classes)
            eval_pflop += sizes[q.split] * q.clips * g / 1e6
            groups.add((q.split, q.interval, q.clips))
        decode += sum(sizes[s] * min(k * (t + extra), mean_frames or k * (t + extra)) for s, _, k in groups)
        state = "finished" if is_finished(run.dir) else "started" if (run.dir / "last.pt").is_file() \
            else "to train"
        rows.append(RunCost(run.name, cfg.train.seed, cfg.model.name, cfg.data.input_type, t, cfg.train.epochs, clips,
                            fwd, params, train_pflop, eval_pflop, decode / 1e6, state, run_settings(cfg)))
    tflops = throughput_tflops or ASSUMED_TFLOPS
    cores = decode_cores or max(1, study.data.workers)
    todo = [r for r in rows if r.state != "finished"]
    total = {k: sum(getattr(r, k) for r in rows) for k in ("train_pflop", "eval_pflop", "decode_mframes")}
    left = {k: sum(getattr(r, k) for r in todo) for k in ("train_pflop", "eval_pflop", "decode_mframes")}
    hours = lambda d: (d["train_pflop"] + d["eval_pflop"]) * 1e15 / (tflops * 1e12) / 3600  # noqa: E731
    dec_hours = lambda d: d["decode_mframes"] * 1e6 / (per_core * cores) / 3600  # noqa: E731
    have = sum(plan.logits_path(q).is_file() for q in reqs)
    return {
        "profile": study.profile, "reading": study.reading, "split_sizes": sizes, "split_source": source,
        "runs": [asdict(r) for r in rows], "evaluations": len(reqs), "evaluations_done": have,
        "total": total, "to_do": left,
        "throughput_tflops": tflops, "throughput_source": "given" if throughput_tflops else
        f"assumed: {ASSUMED_TFLOPS:.0f} TFLOP/s sustained (25% of an H100's 989 dense bf16); not measured",
        "mean_video_frames": mean_frames, "mean_video_frames_source": frames_source,
        "decode_fps": per_core * cores, "decode_fps_per_core": per_core, "decode_path": feed_path(study),
        "decode_source": f"{per_core:,.0f} frames/s/core x {cores} decode workers; {rate_source}",
        "gpu_hours": {"all": hours(total), "to_do": hours(left)},
        "decode_hours": {"all": dec_hours(total), "to_do": dec_hours(left)},
        "estimate_hours": {"all": max(hours(total), dec_hours(total)), "to_do": max(hours(left), dec_hours(left))},
    }


def format_cost(c: dict) -> str:
    seeds = sorted({r["seed"] for r in c["runs"]})
    lines = [f"profile {c['profile']} ({c['reading']} reading): {len(c['runs'])} runs over {len(seeds)} seed(s) "
             f"{seeds}, {c['evaluations']} logits files "
             f"({c['evaluations_done']} in the run store); split sizes {c['split_sizes']} from {c['split_source']}",
             f"{'run':30} {'model':22} {'in':4} {'T':>3} {'ep':>3} {'clips/ep':>8} {'GFLOP/clip':>10} "
             f"{'train PFLOP':>11} {'eval PFLOP':>10} {'decode Mfr':>10}  {'state':8}  settings"]
    for r in c["runs"]:
        lines.append(f"{r['name']:30} {r['model']:22} {r['input']:4} {r['frames']:3d} {r['epochs']:3d} "
                     f"{r['train_clips']:8d} {r['fwd_gflops']:10.2f} {r['train_pflop']:11.2f} {r['eval_pflop']:10.2f} "
                     f"{r['decode_mframes']:10.2f}  {r['state']:8}  {r.get('settings', '')}")
    t, d = c["total"], c["to_do"]
    lines += [f"total: {t['train_pflop']:.1f} PFLOP training + {t['eval_pflop']:.1f} PFLOP evaluation; "
              f"{t['decode_mframes']:.1f} M frames decoded (to do: {d['train_pflop'] + d['eval_pflop']:.1f} PFLOP, "
              f"{d['decode_mframes']:.1f} M frames)",
              f"GPU hours (compute): {c['gpu_hours']['all']:.1f} (to do {c['gpu_hours']['to_do']:.1f}) at "
              f"{c['throughput_tflops']:.0f} TFLOP/s — {c['throughput_source']}",
              f"decode hours: {c['decode_hours']['all']:.1f} (to do {c['decode_hours']['to_do']:.1f}) at "
              f"{c['decode_fps']:,.0f} frames/s — {c['decode_source']}; evaluation reads at most "
              + (f"{c['mean_video_frames']:.0f} frames a video ({c['mean_video_frames_source']})"
                 if c["mean_video_frames"] else "K x (T + extra) frames a video"),
              f"estimate (the larger of the two, if compute and decoding overlap): "
              f"{c['estimate_hours']['all']:.1f} h (to do {c['estimate_hours']['to_do']:.1f} h)"]
    return "\n".join(lines)
