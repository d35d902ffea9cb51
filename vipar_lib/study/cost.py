"""A cost plan, before any GPU hour is spent: what each run and evaluation of a plan will compute.

For every planned run::

    training   epochs × training clips × 3 × forward FLOPs      (forward + backward ≈ 3 forwards)
    validation (epochs / val_every) × validation videos × val_clips × forward FLOPs
    evaluation Σ over its logits files: videos × clips × forward FLOPs at the view's clip length
    decoding   frames the clips read: training clips × (T + extra); evaluation once per video and
               interval for all of a run's views (K clips × (T + extra), an upper bound: a video
               shorter than the clips' span is read once)

Forward FLOPs are ``torch.utils.flop_counter`` counts (2 per multiply-add) of the real model at the
run's clip size, counted on the meta device. Split sizes come from the study's split folder when
it exists, else from the official lists, else from the challenge's published sizes (each labelled).
Hours come from a throughput: measured (``--throughput``, e.g. from ``benchmarks/train_step.py``
on the target GPU) or the stated assumption :data:`ASSUMED_TFLOPS`; decoding from
:data:`DECODE_FPS_PER_CORE` (measured here with decord at short side 128).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..data.splits import load_split_dir, vipriors_split
from ..data.synth import list_sizes
from ..models.info import model_info
from ..paper import TABLES
from ..paths import resolve
from .config import StudyConfig
from .plan import Plan, release_list, split_dir

__all__ = ["RunCost", "cost_plan", "format_cost", "run_settings", "split_sizes", "ASSUMED_TFLOPS",
           "DECODE_FPS_PER_CORE", "VIPRIORS_SIZES"]

#: the challenge split's sizes (shared/data/README.md), used when no list is at hand
VIPRIORS_SIZES = {"train": 4795, "validation": 4742, "test": 3783}
#: sustained training throughput assumed when none is measured: 25% of an H100's 989 TFLOP/s dense bf16
ASSUMED_TFLOPS = 0.25 * 989
#: decord 0.6 on XviD 320x240 resized in the reader to short side 128, frames per second per core
DECODE_FPS_PER_CORE = 3000


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


def _gflops(cache: dict, run, frames: int, num_classes: int) -> tuple[float, int]:
    cfg = run.config
    key = (cfg.model.name, repr(sorted(cfg.model.options.items())), frames, cfg.data.crop_size)
    if key not in cache:
        info = model_info(cfg.model.name, num_classes, frames, cfg.data.crop_size, **cfg.model.options)
        cache[key] = (info["gflops"], info["params"])
    return cache[key]


def cost_plan(plan: Plan, tables=TABLES, throughput_tflops: float | None = None,
              decode_cores: int | None = None) -> dict:
    """Per-run costs and totals of what ``tables`` need; nothing is trained or read but the split lists."""
    study = plan.study
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
        decode += sum(sizes[s] * k * (t + extra) for s, _, k in groups)
        state = "finished" if (run.dir / "final.json").is_file() else "started" if (run.dir / "last.pt").is_file() \
            else "to train"
        rows.append(RunCost(run.name, cfg.train.seed, cfg.model.name, cfg.data.input_type, t, cfg.train.epochs, clips,
                            fwd, params, train_pflop, eval_pflop, decode / 1e6, state, run_settings(cfg)))
    tflops = throughput_tflops or ASSUMED_TFLOPS
    cores = decode_cores or max(1, study.data.workers)
    todo = [r for r in rows if r.state != "finished"]
    total = {k: sum(getattr(r, k) for r in rows) for k in ("train_pflop", "eval_pflop", "decode_mframes")}
    left = {k: sum(getattr(r, k) for r in todo) for k in ("train_pflop", "eval_pflop", "decode_mframes")}
    hours = lambda d: (d["train_pflop"] + d["eval_pflop"]) * 1e15 / (tflops * 1e12) / 3600  # noqa: E731
    dec_hours = lambda d: d["decode_mframes"] * 1e6 / (DECODE_FPS_PER_CORE * cores) / 3600  # noqa: E731
    have = sum(plan.logits_path(q).is_file() for q in reqs)
    return {
        "profile": study.profile, "reading": study.reading, "split_sizes": sizes, "split_source": source,
        "runs": [asdict(r) for r in rows], "evaluations": len(reqs), "evaluations_done": have,
        "total": total, "to_do": left,
        "throughput_tflops": tflops, "throughput_source": "given" if throughput_tflops else
        f"assumed: {ASSUMED_TFLOPS:.0f} TFLOP/s sustained (25% of an H100's 989 dense bf16); not measured",
        "decode_fps": DECODE_FPS_PER_CORE * cores, "decode_source": f"{DECODE_FPS_PER_CORE} frames/s/core (decord, "
        f"short side 128, measured on this project's CPU) x {cores} decode workers",
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
              f"{c['decode_fps']} frames/s — {c['decode_source']}",
              f"estimate (the larger of the two, if compute and decoding overlap): "
              f"{c['estimate_hours']['all']:.1f} h (to do {c['estimate_hours']['to_do']:.1f} h)"]
    return "\n".join(lines)
