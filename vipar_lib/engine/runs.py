"""The run store: one directory per run, named from its config and a hash of it.

```
runs/<name>-<hash>/
  config.yaml      the full, validated config (paths in portable form: repository-relative inside it)
  metrics.csv      one row per epoch (also metrics.json)
  last.pt          model, optimizer, scheduler, RNG, epoch, history, best score and epoch (atomic)
  best.pt          the checkpoint of the best validation mean per-class accuracy, with its score and epoch
  warm_start.json  what a warm start loaded and what it did not
  final.json       written when training finished; trusted only if it parses and matches last.pt's epoch
  train.log        text log
  .lock            a lease while a process trains the run: host, PID, worker, heartbeat (engine/lease.py)
  .eval-*.lock     a lease while a process evaluates the run (one per split, interval and clips)
  tb/              TensorBoard scalars (when tensorboard is installed)
  logits/          evaluation outputs (<split>-<view>-i<interval>-k<clips>.npz)
```

**Movable** (issue #14): the directory name's hash covers the config with repository-relative
paths, and every path the store holds is portable, so a copied, moved or shared run store is
found and reused (:func:`run_dir` resolves ``runs_dir``).

**One writer** (issues #13, #19): :func:`run_lock` holds a lease on ``.lock``
(:mod:`vipar_lib.engine.lease`: an ``O_EXCL`` file with host, PID and a heartbeat) for as long as
a process trains the run; a second trainer, or ``--force`` while someone trains, gets a
:class:`~vipar_lib.engine.errors.RunLockedError` naming the holder. A holder that died
(``kill -9`` included) leaves a stale lease that the next trainer takes over: at once on the same
host (its PID is gone), after the heartbeat timeout from another host. The protocol works the same
on NFS and between hosts, where ``flock`` may not lock at all.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
from pathlib import Path

from ..paths import resolve, write_atomic
from .checkpoint import checkpoint_epoch
from .config import RunConfig, config_from_dict, config_hash
from .errors import RunDirError
from .lease import lease

__all__ = ["run_dir", "write_text_atomic", "load_run_config", "read_metrics", "read_final", "is_finished",
           "list_runs", "run_lock", "eval_lock", "eval_lock_path", "clean_stray_temps", "LOCK_NAME"]

LOCK_NAME = ".lock"


def run_dir(cfg: RunConfig) -> Path:
    """``<runs_dir>/<name>-<hash>``, ``runs_dir`` resolved (relative = repository-relative)."""
    return resolve(cfg.runs_dir) / f"{cfg.name}-{config_hash(cfg)}"


def write_text_atomic(path, text: str) -> None:
    """:func:`vipar_lib.paths.write_atomic` into a run store; a folder it cannot write is a one-line
    :class:`RunDirError` naming it."""
    path = Path(path)
    try:
        write_atomic(path, text)
    except PermissionError as e:
        raise RunDirError(f"{path.parent}: cannot write here ({e.strerror}); make it writable or use another "
                          f"runs_dir") from None
    except OSError as e:
        raise RunDirError(f"{path.parent}: cannot write {path.name} ({e.strerror})") from None


def load_run_config(run) -> RunConfig:
    import yaml
    p = Path(run) / "config.yaml"
    if not p.is_file():
        raise FileNotFoundError(f"{run}: not a run directory (no config.yaml)")
    d = yaml.safe_load(p.read_text())
    if isinstance(d, dict) and isinstance(d.get("data"), dict):
        d["data"].setdefault("feed", "host")          # stored before issue #18: trained through the host feed
    return config_from_dict(d)


def write_metrics(run, history: list[dict]) -> None:
    write_text_atomic(Path(run) / "metrics.json", json.dumps(history, indent=1))
    if history:
        keys = list(dict.fromkeys(k for row in history for k in row))
        buf = io.StringIO()
        w = csv.DictWriter(buf, keys)
        w.writeheader()
        w.writerows(history)
        write_text_atomic(Path(run) / "metrics.csv", buf.getvalue())


def read_metrics(run) -> list[dict]:
    p = Path(run) / "metrics.json"
    try:
        return json.loads(p.read_text()) if p.is_file() else []
    except ValueError:
        return []


def read_final(run) -> dict:
    """``final.json`` as a dict; ``{}`` when it is missing or does not parse."""
    p = Path(run) / "final.json"
    try:
        d = json.loads(p.read_text()) if p.is_file() else {}
    except (ValueError, OSError):
        return {}
    return d if isinstance(d, dict) else {}


def _signature(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


_FINISHED: dict[str, tuple] = {}       # run dir -> (final.json and last.pt signatures, answer)


def is_finished(run) -> bool:
    """True when ``final.json`` parses and its ``epochs`` is the epoch ``last.pt`` records.

    Existence alone is not enough (issue #13, item 2): a garbled or stale ``final.json`` beside
    a half-trained ``last.pt`` would otherwise make a half-trained run "finished". ``last.pt``
    is read with ``mmap`` (its tensors are not loaded). The answer is kept per run while neither
    file changes (inode, size and modification time in ns), so the executor's workers, which ask
    about every run of a study after each item, read a checkpoint only when it was rewritten.
    """
    run = Path(run)
    sig = (_signature(run / "final.json"), _signature(run / "last.pt"))
    memo = _FINISHED.get(str(run))
    if memo is not None and memo[0] == sig:
        return memo[1]
    final = read_final(run)
    epochs = final.get("epochs")
    ok = isinstance(epochs, int) and not isinstance(epochs, bool) and checkpoint_epoch(run / "last.pt") == epochs
    if sig[0] is not None and sig[1] is not None:
        _FINISHED[str(run)] = (sig, ok)
    return ok


def list_runs(runs_dir) -> list[Path]:
    return sorted(p.parent for p in resolve(runs_dir).glob("*/config.yaml"))


@contextlib.contextmanager
def run_lock(run, what: str = "training"):
    """Hold the run directory's lock (a :class:`Lease` on ``run/.lock``) for the ``with`` block.

    Raises :class:`RunLockedError` naming the holder (PID, host, worker, since when) when another
    live process holds it (or this process does, through another ``with``), and
    :class:`RunDirError` when the directory cannot be created or written. A lock whose holder
    died (same host: its PID is gone; another host: its heartbeat is older than
    :data:`~vipar_lib.engine.lease.STALE_S`) is taken over. Yields the run directory.
    """
    run = Path(run)
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _dir_error(run, e) from None
    with lease(run / LOCK_NAME, what, subject=f"{run}: ", thing="this run"):
        yield run


def eval_lock_path(run, split: str, interval: int, clips: int) -> Path:
    """The lease of one evaluation group of a run (its views of one split, interval and number of clips)."""
    return Path(run) / f".eval-{split}-i{interval}-k{clips}.lock"


@contextlib.contextmanager
def eval_lock(run, split: str, interval: int, clips: int):
    """Hold the lease of one evaluation group of ``run`` (raises :class:`RunLockedError` when held)."""
    run = Path(run)
    with lease(eval_lock_path(run, split, interval, clips), "evaluating", subject=f"{run}: ",
               thing=f"this run ({split}, interval {interval}, {clips} clips)") as ls:
        yield ls


def _dir_error(run: Path, e: OSError) -> RunDirError:
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return RunDirError(f"{run}: run directory is not writable ({e.strerror}); make it writable or "
                           f"use another runs_dir")
    return RunDirError(f"{run}: cannot create the run directory ({e.strerror})")


def clean_stray_temps(run) -> list[str]:
    """Remove temporary files a killed writer left in ``run`` (``.last.pt.*.tmp``, ``.final.json.*`` ...).

    Call it holding :func:`run_lock`: no live writer of this run exists then.
    """
    removed = []
    for pattern in (".*.tmp",):        # logits/ is left alone: an evaluation may be writing there
        for p in Path(run).glob(pattern):
            if p.is_file():
                p.unlink()
                removed.append(p.name)
    return removed
