"""The run store: one directory per run, named from its config and a hash of it.

```
runs/<name>-<hash>/
  config.yaml      the full, validated config
  metrics.csv      one row per epoch (also metrics.json)
  last.pt          model, optimizer, scheduler, RNG, epoch, history (written atomically)
  best.pt          the checkpoint of the best validation mean per-class accuracy
  warm_start.json  what a warm start loaded and what it did not
  final.json       written when training finished: a finished run is not trained again
  train.log        text log
  tb/              TensorBoard scalars (when tensorboard is installed)
  logits/          evaluation outputs (<split>-<view>-i<interval>-k<clips>.npz)
```
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from .config import RunConfig, config_from_dict, config_hash

__all__ = ["run_dir", "write_text_atomic", "load_run_config", "read_metrics", "is_finished", "list_runs"]


def run_dir(cfg: RunConfig) -> Path:
    return Path(cfg.runs_dir) / f"{cfg.name}-{config_hash(cfg)}"


def write_text_atomic(path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def load_run_config(run) -> RunConfig:
    import yaml
    p = Path(run) / "config.yaml"
    if not p.is_file():
        raise FileNotFoundError(f"{run}: not a run directory (no config.yaml)")
    return config_from_dict(yaml.safe_load(p.read_text()))


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
    return json.loads(p.read_text()) if p.is_file() else []


def is_finished(run) -> bool:
    return (Path(run) / "final.json").is_file()


def read_final(run) -> dict:
    p = Path(run) / "final.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def list_runs(runs_dir) -> list[Path]:
    return sorted(p.parent for p in Path(runs_dir).glob("*/config.yaml"))
