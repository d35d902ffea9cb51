"""The training loop: the paper's recipe, resumable runs, gradient accumulation, data parallelism.

Recipe (III.B): SGD, momentum 0.9, lr 0.001, weight decay 5e-4, lr x 0.1 every 20 epochs,
batch 128 — the :class:`~vipar_lib.engine.config.TrainConfig` defaults.

**Batches.** Each epoch, a seeded permutation of the training videos is cut into global
batches of ``batch_size`` (the last incomplete one dropped, unless the set is smaller than one
batch), each batch into micro-batches of ``micro_batch`` that are run one after another with
their gradients accumulated. Under ``torchrun`` the micro-batches of a step are dealt out to the
processes and the summed gradients are all-reduced once per step (torch.distributed, gloo on CPU,
NCCL on CUDA), so N processes compute exactly the gradient one process computes with the same
global batch. BatchNorm statistics are per micro-batch, as they are per GPU in PySlowFast
without SyncBN; the running statistics saved are rank 0's.

**Never losing work.** ``last.pt`` is written atomically after every epoch with the model,
optimizer, scheduler, the torch RNG state and the metric history; a killed run resumes from it
and, on CPU, ends with the same weights as an uninterrupted run (clip sampling and augmentation
draw from ``(seed, epoch, item)``, batches from ``(seed, epoch)``). A run with ``final.json`` is
not trained again unless ``force=True``.
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from ..data.dataset import ClipDataset
from ..data.splits import load_split_dir
from ..data.transforms import ClipTransform
from ..metrics import mean_class_accuracy, top1
from ..models.info import count_params
from .build import build_model, select_device
from .checkpoint import load_checkpoint, save_atomic, warm_start
from .config import RunConfig
from .runs import is_finished, run_dir, write_metrics, write_text_atomic

__all__ = ["train", "Dist"]

log = logging.getLogger("vipar.train")


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
    return ClipTransform(crop_size=cfg.data.crop_size, input_type=cfg.data.input_type,
                         augment=cfg.data.augment, view=view, concat_mode=cfg.eval.concat_mode)


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


def _loader(ds, batches, workers, pin):
    if not batches:
        return iter(())
    return iter(torch.utils.data.DataLoader(ds, batch_sampler=batches, num_workers=workers, pin_memory=pin,
                                            persistent_workers=False))


def _allreduce_grads(model, world):
    import torch.distributed as dist
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    off = 0
    for g in grads:
        g.copy_(flat[off:off + g.numel()].view_as(g))
        off += g.numel()


def _to_device(x, device, channels_last):
    x = x.to(device, non_blocking=True)
    if channels_last and device.type == "cuda" and x.dim() == 5:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x


def train(cfg: RunConfig, force: bool = False) -> Path:
    """Train ``cfg`` into its run directory (resuming if it has ``last.pt``); return the directory."""
    device = select_device(cfg.train.device)
    dist = _dist_setup(device)
    run = run_dir(cfg)
    if is_finished(run) and not force:
        if dist.main:
            log.info(f"{run}: finished already (final.json); nothing to do. Use --force to retrain.")
        return run
    if force and dist.main and run.exists():
        shutil.rmtree(run)
    _barrier(dist)
    run.mkdir(parents=True, exist_ok=True)
    say = _Logger(run, dist.main)
    if dist.main:
        write_text_atomic(run / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    t = cfg.train
    torch.manual_seed(t.seed)
    split = load_split_dir(cfg.data.split_dir)
    model = build_model(cfg, split.num_classes)
    if t.init_from:
        report = warm_start(model, t.init_from)
        if dist.main:
            write_text_atomic(run / "warm_start.json", json.dumps(report, indent=1))
        say(f"warm start from {report['source']}: {report['loaded']} tensors loaded, "
            f"{len(report['missing'])} new, {len(report['unexpected'])} dropped, "
            f"{len(report['shape_mismatch'])} shape mismatches")
    model.to(device)
    if t.channels_last and device.type == "cuda":
        model.to(memory_format=torch.channels_last_3d)
    for p in model.parameters():        # allocated up front so every process all-reduces the same tensors
        p.grad = torch.zeros_like(p)
    opt = torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=t.lr_step, gamma=t.lr_gamma)

    start, history, best = 0, [], -1.0
    if (run / "last.pt").is_file():
        ck = load_checkpoint(run / "last.pt")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"])
        start, history, best = int(ck["epoch"]), list(ck["history"]), float(ck["best"])
        say(f"resumed from last.pt at epoch {start}")

    root = Path(cfg.data.video_root)
    train_ds = ClipDataset(split[cfg.data.train_split], root, _transform(cfg), cfg.data.clip_len, train=True,
                           short_side=cfg.data.short_side, interval=cfg.data.interval,
                           short_policy=cfg.data.short_policy, seed=t.seed, progress=t.progress and dist.main,
                           cache_decoded=cfg.data.cache_decoded)
    val_ds = None
    if cfg.data.val_split:
        val_ds = ClipDataset(split[cfg.data.val_split], root, _transform(cfg, "center"), cfg.data.clip_len,
                             train=False, short_side=cfg.data.short_side, interval=cfg.data.interval,
                             num_clips=t.val_clips, short_policy=cfg.data.short_policy, seed=t.seed,
                             cache_decoded=cfg.data.cache_decoded)
    micro = t.micro_batch or t.batch_size
    eff = min(t.batch_size, len(train_ds))
    accum = math.ceil(eff / micro / dist.world)
    say(f"model {cfg.model.name} ({count_params(model):,} params) on {device}; {len(train_ds)} training videos; "
        f"effective batch {eff} = micro-batch {min(micro, eff)} x {accum} accumulation step(s) x {dist.world} "
        f"process(es); epochs {start}->{t.epochs}")
    use_amp = t.amp and device.type == "cuda"
    pin = t.pin_memory and device.type == "cuda"
    kill_after = os.environ.get("VIPAR_KILL_AFTER_EPOCH")      # fault injection for the resume test
    tb = _tensorboard(run) if dist.main else None

    for epoch in range(start, t.epochs):
        t0 = time.time()
        model.train()
        train_ds.set_epoch(epoch)
        steps = _steps(len(train_ds), t.batch_size, micro, t.seed, epoch)
        mine = [[c for j, c in enumerate(step) if j % dist.world == dist.rank] for step in steps]
        it = _loader(train_ds, [c for s in mine for c in s], cfg.data.workers, pin)
        bar = _bar(len(steps), f"epoch {epoch + 1}/{t.epochs}", t.progress and dist.main)
        stats = torch.zeros(3, dtype=torch.float64)           # loss sum, correct, seen
        for step, chunks in zip(steps, mine):
            n_step = sum(len(c) for c in step)
            opt.zero_grad(set_to_none=False)
            for _ in chunks:
                x, y, _v = next(it)
                x, y = _to_device(x, device, t.channels_last), y.to(device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    out = model(x)
                loss = F.cross_entropy(out.float(), y, reduction="sum") / n_step
                loss.backward()
                stats += torch.tensor([loss.item() * n_step, (out.argmax(1) == y).sum().item(), len(y)],
                                      dtype=torch.float64)
            if dist.world > 1:
                _allreduce_grads(model, dist.world)
            opt.step()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{stats[0] / max(stats[2], 1):.3f}", acc=f"{stats[1] / max(stats[2], 1):.3f}")
        if bar is not None:
            bar.close()
        if dist.world > 1:
            import torch.distributed as tdist
            tdist.all_reduce(stats)
        row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": float(stats[0] / max(stats[2], 1)),
               "train_acc": float(stats[1] / max(stats[2], 1)), "time_s": 0.0}
        sched.step()
        is_last = epoch + 1 == t.epochs
        if val_ds is not None and dist.main and ((epoch + 1) % t.val_every == 0 or is_last):
            from .evaluate import predict_logits
            logits = predict_logits(model, val_ds, batch_size=max(1, micro), device=device, amp=use_amp,
                                    workers=cfg.data.workers, progress=False)
            labels = [e.label for e in val_ds.all_entries]
            row.update(val_top1=top1(logits, labels), val_mean_class=mean_class_accuracy(logits, labels))
        row["time_s"] = round(time.time() - t0, 2)
        history.append(row)
        if dist.main:
            improved = "val_mean_class" in row and row["val_mean_class"] > best
            if improved:
                best = row["val_mean_class"]
            state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                     "rng": torch.get_rng_state(), "epoch": epoch + 1, "history": history, "best": best,
                     "name": cfg.model.name}
            save_atomic(state, run / "last.pt")
            if improved or val_ds is None or not (run / "best.pt").exists():
                save_atomic({"model": model.state_dict(), "epoch": epoch + 1, "best": best, "name": cfg.model.name},
                            run / "best.pt")
            write_metrics(run, history)
            if tb is not None:
                for k, v in row.items():
                    if k != "epoch" and isinstance(v, (int, float)):
                        tb.add_scalar(k, v, epoch + 1)
                tb.flush()
            say(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        _barrier(dist)
        if kill_after and int(kill_after) == epoch + 1:
            os.kill(os.getpid(), signal.SIGKILL)

    if dist.main:
        final = {"epochs": t.epochs, "best_val_mean_class": best, "params": count_params(model),
                 "effective_batch": eff, "micro_batch": min(micro, eff), "accumulation": accum, "world": dist.world,
                 "device": str(device), "bad_training_videos": [p for p, _ in train_ds.bad_videos],
                 "last": history[-1] if history else {}}
        write_text_atomic(run / "final.json", json.dumps(final, indent=1))
        say(f"finished: {run}")
    _barrier(dist)
    return run


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


def _bar(total, desc, on):
    if not on:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="step", leave=False)
