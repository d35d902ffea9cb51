"""The training loop: the paper's recipe, resumable runs, gradient accumulation, data parallelism.

Recipe (III.B): SGD, momentum 0.9, lr 0.001, weight decay 5e-4, lr x 0.1 every 20 epochs,
batch 128 — the :class:`~vipar_lib.engine.config.TrainConfig` defaults.

**Batches.** Each epoch, a seeded permutation of the training videos is cut into global
batches of ``batch_size`` (the last incomplete one dropped, unless the set is smaller than one
batch), each batch into micro-batches of ``micro_batch`` that are run one after another with
their gradients accumulated. BatchNorm statistics are per micro-batch, as they are per GPU in
PySlowFast without SyncBN; the running statistics saved are rank 0's.

**Data parallelism** (``torchrun``): the micro-batches of a step are dealt out to the processes
(micro-batch j to rank j mod N) and the model is wrapped in
:class:`torch.nn.parallel.DistributedDataParallel` (gloo on CPU, NCCL on CUDA). Every micro-batch
but a process's last of the step runs under ``no_sync()``, so gradients are all-reduced once per
step, bucketed and overlapped with the last backward. The loss is scaled by N so DDP's average
is the sum over processes: N processes compute the gradient one process computes with the same
global batch, up to the order of float additions (the all-reduce adds per-process partial sums;
one process adds micro-batch by micro-batch), which is why the test compares weights within a
tolerance rather than bit for bit. Buffers are not broadcast (``broadcast_buffers=False``): BN
running statistics stay per process, as above. Every process needs at least one micro-batch per
step (a :class:`~vipar_lib.typed.ConfigError` says so otherwise).

**The feed** (issue #12). DataLoader workers decode and do the clip geometry on uint8 and stay
alive across epochs (persistent workers; the epoch travels with each index, see
:mod:`vipar_lib.data.dataset`). Batches are collated and copied as uint8 and normalised on the
device in the step (:func:`~vipar_lib.engine.build.model_input`; ``data.normalize``, and the HLS
shift of ``augment.scheme=release`` clips, are applied there too).

**The release reading's data** (``data.normalize``, ``short_side_range``, ``short_policy:
pingpong``, ``window``, ``allow_repeats``, ``augment.scheme/reverse_p/interval_rule``) reaches the
datasets and the transform through :mod:`.build` (``clip_transform``, ``decode_side``,
``load_split``); the semantics and the release's ``file:line`` are in :mod:`vipar_lib.data.transforms`
and :mod:`vipar_lib.data.clips`. Loss and accuracy are summed on
the device and read once per step for the progress bar (once per epoch without one): no host
sync per micro-batch on CUDA.

**Never losing work, never a wrong result** (issue #13).

* ``last.pt`` (model, optimizer, scheduler, torch RNG, epoch, history, bad videos) is written
  atomically after every epoch; a killed run resumes from it and, on CPU, ends with the same
  weights as an uninterrupted run (clip sampling and augmentation draw from
  ``(seed, epoch, item)``, batches from ``(seed, epoch)``).
* ``best.pt`` holds the model of the best validation mean per-class accuracy *and that score and
  epoch*. It is written **before** ``last.pt``, and on resume the best score to beat is read
  from ``best.pt`` itself, so after a kill at any moment ``best.pt`` and the score it records
  agree (a kill between the two writes redoes the epoch; it cannot beat its own score again).
* Temporary files a killed writer left are removed on resume.
* ``final.json`` is trusted only if it parses and matches ``last.pt``'s epoch
  (:func:`~vipar_lib.engine.runs.is_finished`); otherwise the run resumes.
* One process trains a run at a time: the run directory's lock
  (:func:`~vipar_lib.engine.runs.run_lock`) is held for the whole call; a second trainer, or
  ``force=True`` while the lock is held, raises :class:`~vipar_lib.engine.errors.RunLockedError`.
* Videos that are bad (truncated, corrupt) or fail while decoding are skipped, counted and listed
  in ``final.json`` (``bad_training_videos``, ``bad_training_video_reasons``).

**Fault injection** for the tests, through the environment: ``VIPAR_KILL_AFTER_EPOCH=e`` sends
SIGKILL to the process after epoch ``e``'s checkpoints; ``VIPAR_KILL_DURING_WRITE=best.pt@e``
(or ``last.pt@e``) sends it while that file of epoch ``e`` is being written (its temporary file
complete, not yet renamed over the old one).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from ..data.dataset import ClipDataset, parse_failed
from ..data.transforms import ClipTransform
from ..metrics import mean_class_accuracy, top1
from ..models.info import count_params
from ..paths import portable, resolve
from ..typed import ConfigError
from .build import (
    build_model,
    clip_transform,
    collate_fn,
    decode_side,
    feed_options,
    load_split,
    select_device,
    step_input,
)
from .checkpoint import load_checkpoint, save_atomic, warm_start
from .config import RunConfig, portable_config
from .errors import EngineError, RunDirError
from .progress import bar
from .runs import (
    LOCK_NAME,
    clean_stray_temps,
    is_finished,
    read_metrics,
    run_dir,
    run_lock,
    write_metrics,
    write_text_atomic,
)

__all__ = ["train", "Dist", "RESUME_FROM"]

log = logging.getLogger("vipar.train")

RESUME_FROM = ("last", "best")


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_setup(device: torch.device) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


def _transform(cfg: RunConfig, view=None) -> ClipTransform:
    return clip_transform(cfg, view)


def _steps(n: int, batch: int, micro: int, seed: int, epoch: int):
    """[[micro-batch index lists] per step] for one epoch."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(n, generator=g).tolist()
    batch = min(batch, n)
    steps = []
    for s in range(n // batch):
        idx = perm[s * batch:(s + 1) * batch]
        steps.append([idx[i:i + micro] for i in range(0, len(idx), micro)])
    return steps


class _Logger:
    def __init__(self, run: Path, main: bool):
        self.path, self.main = run / "train.log", main

    def __call__(self, msg: str):
        if not self.main:
            return
        log.info(msg)
        with open(self.path, "a") as f:
            f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + msg + "\n")


class _EpochBatches:
    """A DataLoader ``batch_sampler`` whose batches the trainer sets before each epoch.

    The sampler is iterated in the main process, so setting ``batches`` there reaches persistent
    workers (the dataset object inside them is never updated again).
    """

    def __init__(self):
        self.batches: list[list] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def _loader(ds, batch_sampler, workers, pin, collate=None):
    return torch.utils.data.DataLoader(ds, batch_sampler=batch_sampler, num_workers=workers, pin_memory=pin,
                                       persistent_workers=workers > 0, collate_fn=collate)


def _fault_hook(name: str, epoch: int):
    """``before_replace`` hook of :func:`save_atomic`: SIGKILL while ``name`` of ``epoch`` is written."""
    spec = os.environ.get("VIPAR_KILL_DURING_WRITE", "")
    if spec != f"{name}@{epoch}":
        return None

    def kill(_tmp):
        os.kill(os.getpid(), signal.SIGKILL)
    return kill


def _clear_run(run: Path) -> None:
    """``--force``: remove everything in ``run`` but its lock file (which the caller holds)."""
    try:
        for p in run.iterdir():
            if p.name == LOCK_NAME:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    except OSError as e:
        raise RunDirError(f"{run}: cannot clear the run directory for --force ({e.strerror}); make it writable "
                          f"or remove it yourself") from None


def _share(dist: Dist, value):
    """Rank 0's ``value``, on every rank."""
    if dist.world <= 1:
        return value
    import torch.distributed as tdist
    box = [value]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def train(cfg: RunConfig, force: bool = False, resume_from: str = "last") -> Path:
    """Train ``cfg`` into its run directory (resuming if it has ``last.pt``); return the directory.

    ``cfg``'s relative paths are repository-relative (call
    :func:`~vipar_lib.engine.config.portable_config` with the working directory first for a
    user's params file). ``force`` retrains from scratch (refused while another process holds the
    run's lock). ``resume_from="best"`` resumes from ``best.pt`` instead of ``last.pt`` (when
    ``last.pt`` is damaged): the model of the best epoch, a fresh optimizer state.
    Raises :class:`~vipar_lib.engine.errors.EngineError` subclasses for lock, checkpoint and
    permission problems (one line each).
    """
    if resume_from not in RESUME_FROM:
        raise ConfigError(f"resume_from={resume_from!r}; allowed: {list(RESUME_FROM)}")
    cfg = portable_config(cfg)
    device = select_device(cfg.train.device)
    dist = _dist_setup(device)
    run = run_dir(cfg)
    if not force and is_finished(run):
        if dist.main:
            log.info(f"{run}: finished already (final.json); nothing to do. Use --force to retrain.")
        return run
    with contextlib.ExitStack() as stack:
        state = "train"
        if dist.main:
            try:
                stack.enter_context(run_lock(run))
                if force:
                    _clear_run(run)
                elif is_finished(run):        # finished by another process since the check above
                    state = "finished"
                clean_stray_temps(run)
            except EngineError as e:
                state = e
        shared = _share(dist, state if not isinstance(state, EngineError) else f"error:{state}")
        if isinstance(state, EngineError):
            raise state
        if isinstance(shared, str) and shared.startswith("error:"):
            raise EngineError(shared[len("error:"):])
        if shared == "finished":
            return run
        _barrier(dist)
        _train(cfg, run, device, dist, resume_from)
    _barrier(dist)
    return run


@dataclass
class _State:
    """What a run carries from epoch to epoch (and across a resume)."""

    start: int = 0
    history: list = field(default_factory=list)
    best: float = -1.0
    best_epoch: int = 0
    bad_train: dict = field(default_factory=dict)      # path -> reason: videos that failed while decoding


@dataclass
class _Feed:
    """The run's datasets, loaders and how a batch becomes the model input."""

    train_ds: ClipDataset
    val_ds: ClipDataset | None
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader | None
    sampler: "_EpochBatches"
    transform: ClipTransform
    micro: int
    eff: int
    accum: int


def _train(cfg: RunConfig, run: Path, device: torch.device, dist: Dist, resume_from: str) -> None:
    say = _Logger(run, dist.main)
    if dist.main:
        write_text_atomic(run / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    t = cfg.train
    torch.manual_seed(t.seed)
    split = load_split(cfg)
    model, opt, sched = _model_and_optimizer(cfg, run, split.num_classes, device, dist, say)
    st = _resume(run, model, opt, sched, t, resume_from, say)
    feed = _feed(cfg, split, dist, device)
    scan_bad = dict(feed.train_ds.bad_videos)
    say(f"model {cfg.model.name} ({count_params(model):,} params) on {device}; {len(feed.train_ds)} training videos; "
        f"effective batch {feed.eff} = micro-batch {min(feed.micro, feed.eff)} x {feed.accum} accumulation step(s) "
        f"x {dist.world} process(es); epochs {st.start}->{t.epochs}; {cfg.data.feed} feed")
    if scan_bad:
        say(f"{len(scan_bad)} bad training video(s) skipped: " + "; ".join(f"{p} ({r})" for p, r in scan_bad.items()))
    kill_after = os.environ.get("VIPAR_KILL_AFTER_EPOCH")      # fault injection for the resume tests
    tb = _tensorboard(run) if dist.main else None
    net = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                      broadcast_buffers=False)
    for epoch in range(st.start, t.epochs):
        t0 = time.time()
        row = _train_epoch(cfg, model, net, opt, feed, st, epoch, device, dist, say)
        sched.step()
        if feed.val_loader is not None and ((epoch + 1) % t.val_every == 0 or epoch + 1 == t.epochs):
            row.update(_validate(cfg, model, feed, device, split.num_classes))
        row["time_s"] = round(time.time() - t0, 2)
        st.history.append(row)
        if dist.main:
            _checkpoint(cfg, run, model, opt, sched, st, row, epoch, feed.val_ds is None, tb, say)
        _barrier(dist)
        if kill_after and int(kill_after) == epoch + 1:
            os.kill(os.getpid(), signal.SIGKILL)
    if dist.main:
        _finish(cfg, run, model, st, feed, dist, device, scan_bad, say)
    if tb is not None:
        tb.close()


def _model_and_optimizer(cfg: RunConfig, run: Path, num_classes: int, device, dist: Dist, say):
    """The model (warm-started from ``train.init_from`` when set) on ``device``, SGD and the step schedule."""
    t = cfg.train
    model = build_model(cfg, num_classes)
    if t.init_from:
        report = warm_start(model, resolve(t.init_from))
        if dist.main:
            write_text_atomic(run / "warm_start.json", json.dumps(report, indent=1))
        say(f"warm start from {report['source']}: {report['loaded']} tensors loaded, "
            f"{len(report['missing'])} new, {len(report['unexpected'])} dropped, "
            f"{len(report['shape_mismatch'])} shape mismatches")
    model.to(device)
    if t.channels_last and device.type == "cuda":
        model.to(memory_format=torch.channels_last_3d)
    for p in model.parameters():        # allocated up front: SGD then decays every parameter, as it always did
        p.grad = torch.zeros_like(p)
    opt = torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=t.lr_step, gamma=t.lr_gamma)
    return model, opt, sched


def _resume(run: Path, model, opt, sched, t, resume_from: str, say) -> _State:
    """Where the run stands: fresh, from ``last.pt`` (everything), or from ``best.pt`` (weights only)."""
    st = _State()
    if resume_from == "best":
        if not (run / "best.pt").is_file():
            raise FileNotFoundError(f"{run / 'best.pt'}: not found; resume from last.pt instead")
        ck = load_checkpoint(run / "best.pt")
        model.load_state_dict(ck["model"])
        st.start = int(ck["epoch"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # stepping the schedule without optimizer steps
            for _ in range(st.start):
                sched.step()
        torch.manual_seed(t.seed * 1_000_003 + st.start)
        st.history = [r for r in read_metrics(run) if r.get("epoch", 0) <= st.start]
        st.bad_train = dict(ck.get("bad_videos", {}))
        say(f"resumed from best.pt at epoch {st.start} (fresh optimizer state)")
    elif (run / "last.pt").is_file():
        ck = load_checkpoint(run / "last.pt")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"])
        st.start, st.history = int(ck["epoch"]), list(ck["history"])
        st.bad_train = dict(ck.get("bad_videos", {}))
        say(f"resumed from last.pt at epoch {st.start}")
    if (run / "best.pt").is_file():
        # the score to beat is the one best.pt records about itself (never last.pt's copy)
        bk = load_checkpoint(run / "best.pt", mmap=True)
        st.best, st.best_epoch = float(bk.get("best", -1.0)), int(bk.get("epoch", 0))
    return st


def _feed(cfg: RunConfig, split, dist: Dist, device) -> _Feed:
    """Training and validation datasets of the run's feed (``data.feed``) and their persistent loaders."""
    t = cfg.train
    root = resolve(cfg.data.video_root)
    common = dict(short_side=decode_side(cfg), interval=cfg.data.interval, short_policy=cfg.data.short_policy,
                  seed=t.seed, cache_decoded=cfg.data.cache_decoded, window=cfg.data.window, **feed_options(cfg))
    transform = _transform(cfg)
    train_ds = ClipDataset(split[cfg.data.train_split], root, transform, cfg.data.clip_len, train=True,
                           progress=t.progress and dist.main, **common)
    val_ds = None
    if cfg.data.val_split:
        val_ds = ClipDataset(split[cfg.data.val_split], root, _transform(cfg, "center"), cfg.data.clip_len,
                             train=False, num_clips=t.val_clips, **common)
    micro = t.micro_batch or t.batch_size
    eff = min(t.batch_size, len(train_ds))
    per_step = math.ceil(eff / micro)
    if per_step < dist.world:
        raise ConfigError(f"train.batch_size={t.batch_size} / train.micro_batch={micro} gives {per_step} "
                          f"micro-batch(es) per step for {dist.world} processes; every process needs one: "
                          f"lower train.micro_batch or use fewer processes")
    pin = t.pin_memory and device.type == "cuda"
    sampler = _EpochBatches()
    train_loader = _loader(train_ds, sampler, cfg.data.workers, pin, collate_fn(cfg))
    val_loader = None
    if val_ds is not None and dist.main:
        val_loader = torch.utils.data.DataLoader(val_ds, batch_size=max(1, micro), shuffle=False,
                                                 num_workers=cfg.data.workers, pin_memory=pin,
                                                 persistent_workers=cfg.data.workers > 0, collate_fn=collate_fn(cfg))
    return _Feed(train_ds, val_ds, train_loader, val_loader, sampler, transform, micro, eff,
                 math.ceil(per_step / dist.world))


def _train_epoch(cfg: RunConfig, model, net, opt, feed: _Feed, st: _State, epoch: int, device, dist: Dist,
                 say) -> dict:
    """One epoch of steps (micro-batches accumulated, DDP synced on each process's last) -> the epoch's row."""
    t = cfg.train
    model.train()
    train_ds = feed.train_ds
    train_ds.set_epoch(epoch)
    steps = _steps(len(train_ds), t.batch_size, feed.micro, t.seed, epoch)
    mine = [[c for j, c in enumerate(step) if j % dist.world == dist.rank] for step in steps]
    row_of = {e.path: i for i, e in enumerate(train_ds.all_entries)}
    skip = tuple(sorted(row_of[p] for p in st.bad_train if p in row_of))     # known bad at the epoch's start
    feed.sampler.batches = [[(epoch, i, skip) for i in c] for s in mine for c in s]
    it = iter(feed.train_loader)
    b = bar(len(steps), f"epoch {epoch + 1}/{t.epochs}", t.progress and dist.main)
    stats = torch.zeros(2, dtype=torch.float64, device=device)        # loss sum, correct (on the device)
    seen = 0
    failed: dict[int, str] = {}
    use_amp = t.amp and device.type == "cuda"
    cl = t.channels_last and device.type == "cuda"
    for step, chunks in zip(steps, mine):
        n_step = sum(len(c) for c in step)
        opt.zero_grad(set_to_none=False)
        for j in range(len(chunks)):
            batch = next(it)
            for row, why in parse_failed(batch["failed"]):
                failed.setdefault(row, why)
            x = step_input(batch, feed.transform, device, cl)
            y = batch["label"].to(device, non_blocking=True)
            sync = net is model or j == len(chunks) - 1
            with contextlib.nullcontext() if sync else net.no_sync():
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    out = net(x)
                ce = F.cross_entropy(out.float(), y, reduction="sum")
                loss = ce / n_step
                if dist.world > 1:
                    loss = loss * dist.world            # DDP averages over processes; we want the sum
                loss.backward()
            with torch.no_grad():
                stats += torch.stack([ce.detach().double(), (out.argmax(1) == y).sum().double()])
            seen += len(y)
        opt.step()
        if b is not None:
            s = stats.tolist()                  # the one host read of the step
            b.update(1)
            b.set_postfix(loss=f"{s[0] / max(seen, 1):.3f}", acc=f"{s[1] / max(seen, 1):.3f}")
    next(it, None)                              # end the epoch's iteration (persistent workers)
    if b is not None:
        b.close()
    totals = torch.cat([stats, torch.tensor([float(seen)], dtype=torch.float64, device=device)])
    _gather_epoch(dist, totals, failed)
    for row, why in sorted(failed.items()):
        path = train_ds.all_entries[row].path
        if path not in st.bad_train:
            st.bad_train[path] = why
            say(f"video failed while decoding, skipped from now on: {path} ({why})")
    s = totals.tolist()
    return {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": float(s[0] / max(s[2], 1)),
            "train_acc": float(s[1] / max(s[2], 1)), "time_s": 0.0}


def _gather_epoch(dist: Dist, totals: torch.Tensor, failed: dict) -> None:
    """Sum the epoch's totals over processes and merge their failed videos (in place)."""
    if dist.world <= 1:
        return
    import torch.distributed as tdist
    tdist.all_reduce(totals)
    gathered = [None] * dist.world
    tdist.all_gather_object(gathered, failed)
    for d in gathered:
        for row, why in d.items():
            failed.setdefault(row, why)


def _validate(cfg: RunConfig, model, feed: _Feed, device, num_classes: int) -> dict:
    from .evaluate import predict_logits
    t = cfg.train
    cl = t.channels_last and device.type == "cuda"
    logits = predict_logits(model, feed.val_ds, device=device, amp=t.amp and device.type == "cuda", progress=False,
                            loader=feed.val_loader, channels_last=cl, num_classes=num_classes)
    labels = [e.label for e in feed.val_ds.all_entries]
    return {"val_top1": top1(logits, labels), "val_mean_class": mean_class_accuracy(logits, labels)}


def _checkpoint(cfg: RunConfig, run: Path, model, opt, sched, st: _State, row: dict, epoch: int, no_val: bool,
                tb, say) -> None:
    """best.pt (when improved, or the first epoch without validation), then last.pt, metrics and TensorBoard."""
    improved = "val_mean_class" in row and row["val_mean_class"] > st.best
    if improved:
        st.best, st.best_epoch = row["val_mean_class"], epoch + 1
    if improved or no_val or not (run / "best.pt").exists():
        if no_val:
            st.best_epoch = epoch + 1
        # best.pt first: it carries its own score and epoch, and is what a resume beats
        save_atomic({"model": model.state_dict(), "epoch": epoch + 1, "best": st.best, "name": cfg.model.name,
                     "bad_videos": dict(st.bad_train)},
                    run / "best.pt", before_replace=_fault_hook("best.pt", epoch + 1))
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "rng": torch.get_rng_state(), "epoch": epoch + 1, "history": st.history, "best": st.best,
             "best_epoch": st.best_epoch, "name": cfg.model.name, "bad_videos": dict(st.bad_train)}
    save_atomic(state, run / "last.pt", before_replace=_fault_hook("last.pt", epoch + 1))
    write_metrics(run, st.history)
    if tb is not None:
        for k, v in row.items():
            if k != "epoch" and isinstance(v, (int, float)):
                tb.add_scalar(k, v, epoch + 1)
        tb.flush()
    say(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))


def _finish(cfg: RunConfig, run: Path, model, st: _State, feed: _Feed, dist: Dist, device, scan_bad: dict,
            say) -> None:
    reasons = {**scan_bad, **st.bad_train}
    final = {"epochs": cfg.train.epochs, "best_val_mean_class": st.best, "best_epoch": st.best_epoch,
             "params": count_params(model), "effective_batch": feed.eff, "micro_batch": min(feed.micro, feed.eff),
             "accumulation": feed.accum, "world": dist.world, "device": str(device), "feed": cfg.data.feed,
             "bad_training_videos": list(reasons), "bad_training_video_reasons": reasons,
             "run_dir": portable(run), "last": st.history[-1] if st.history else {}}
    write_text_atomic(run / "final.json", json.dumps(final, indent=1))
    say(f"finished: {run}")


def _tensorboard(run: Path):
    """A SummaryWriter in ``run/tb`` when TensorBoard is installed (optional), else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:
        return None
    return SummaryWriter(str(run / "tb"))


def _barrier(dist: Dist):
    if dist.world > 1:
        import torch.distributed as tdist
        tdist.barrier()


_bar = bar      # the engine's progress-bar helper lives in .progress (kept under its former name)
