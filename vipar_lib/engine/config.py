"""Typed run configuration, one dataclass per section of the params YAML.

```yaml
name: slowfast_rgb
runs_dir: runs
data:   {split_dir: ..., video_root: ..., input_type: rgb, clip_len: 64, interval: 1, crop_size: 112,
         short_side: 128, augment: {multiscale: true, ...}}
model:  {name: slowfast_r50, options: {activation: elu, downsample: pool, conv: tri}}
train:  {epochs: 60, batch_size: 128, lr: 0.001, momentum: 0.9, weight_decay: 0.0005,
         lr_step: 20, lr_gamma: 0.1, ...}
eval:   {views: [center], num_clips: 10, interval: 1, split: test}
```

Validation happens once, here, before any data is read: an unknown key, a wrong type, an unknown
model or model option, an unknown augmentation or TTA view raises :class:`ConfigError` naming the
key (``train.lr``) and the allowed values. Nothing below this module reads YAML.

The defaults of :class:`TrainConfig` are the paper's recipe (III.B): SGD, momentum 0.9,
lr 0.001, weight decay 5e-4, lr x 0.1 every 20 epochs, batch 128.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

__all__ = ["ConfigError", "DataConfig", "AugmentSection", "ModelConfig", "TrainConfig", "EvalConfig",
           "RunConfig", "load_config", "config_from_dict", "config_hash"]


class ConfigError(ValueError):
    """A params file or option is invalid; the message names the key and the allowed values."""


@dataclass
class AugmentSection:
    """Mirrors :class:`vipar_lib.data.transforms.AugmentConfig` (see it for each switch)."""
    multiscale: bool = True
    scale_range: list[float] = field(default_factory=lambda: [0.8, 1.25])
    corner_crop: bool = True
    flip: bool = True
    lighting: float = 0.2
    contrast: float = 0.2
    reverse: bool = False
    intervals: list[int] = field(default_factory=lambda: [1])


@dataclass
class DataConfig:
    split_dir: str = ""          # folder written by `vipar split`
    video_root: str = ""         # folder the split's paths are relative to (UCF-101/)
    input_type: str = "rgb"      # rgb | diff
    clip_len: int = 64
    interval: int = 1
    crop_size: int = 112
    short_side: int = 128
    short_policy: str = "loop"   # loop | pad
    train_split: str = "train"
    val_split: str = "validation"
    workers: int = 2
    cache_decoded: bool = False  # keep decoded videos in memory (small datasets, many epochs)
    augment: AugmentSection = field(default_factory=AugmentSection)


@dataclass
class ModelConfig:
    name: str = "slowfast_r50"
    options: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    epochs: int = 60
    batch_size: int = 128            # effective (global) batch
    micro_batch: int = 0             # per-step batch per process; 0 = batch_size (no accumulation)
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0005
    lr_step: int = 20
    lr_gamma: float = 0.1
    val_every: int = 1
    val_clips: int = 1
    seed: int = 0
    init_from: str = ""              # run dir or checkpoint to warm-start from (staged training)
    device: str = "auto"             # auto | cpu | cuda
    amp: bool = True                 # bf16 autocast on CUDA
    channels_last: bool = True       # channels-last-3d on CUDA
    pin_memory: bool = True
    progress: bool = True


@dataclass
class EvalConfig:
    views: list[str] = field(default_factory=lambda: ["center"])
    num_clips: int = 10
    interval: int = 1
    positions: str = "uniform"       # uniform | random
    split: str = "test"
    batch_size: int = 16
    concat_mode: str = "double"      # double | same


@dataclass
class RunConfig:
    name: str = "run"
    runs_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return asdict(self)


_CHOICES = {
    "data.input_type": ("rgb", "diff"),
    "data.short_policy": ("loop", "pad"),
    "train.device": ("auto", "cpu", "cuda"),
    "eval.positions": ("uniform", "random"),
    "eval.concat_mode": ("double", "same"),
    "eval.split": ("train", "validation", "test"),
    "data.train_split": ("train", "validation", "test"),
    "data.val_split": ("train", "validation", "test", ""),
}
_POSITIVE = {"data.clip_len", "data.interval", "data.crop_size", "data.short_side", "train.epochs",
             "train.batch_size", "train.lr_step", "train.val_every", "train.val_clips", "eval.num_clips",
             "eval.interval", "eval.batch_size"}


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value, tp, key):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _from_dict(tp, value, key)
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list of {_type_name(inner)}, got {value!r}")
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if value is None:
            return ""
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    return value


def _from_dict(cls, d: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(d) - set(names))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"unknown key(s) {[where + k for k in unknown]}; allowed in "
                          f"{prefix or 'the top level'}: {names}")
    kw = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        kw[k] = _coerce(v, hints[k], key)
        if key in _CHOICES and kw[k] not in _CHOICES[key]:
            raise ConfigError(f"{key}={kw[k]!r}; allowed: {list(_CHOICES[key])}")
        if key in _POSITIVE and kw[k] < 1:
            raise ConfigError(f"{key}={kw[k]!r} must be >= 1")
    return cls(**kw)


def config_from_dict(d: dict) -> RunConfig:
    """Build and validate a :class:`RunConfig` from a plain mapping."""
    if not isinstance(d, dict):
        raise ConfigError(f"a run config must be a mapping, got {type(d).__name__}")
    cfg = _from_dict(RunConfig, d)
    _validate(cfg)
    return cfg


def load_config(path) -> RunConfig:
    """Load and validate a run config from a YAML file (errors name the file)."""
    import yaml
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    try:
        d = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        return config_from_dict(d)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _validate(cfg: RunConfig) -> None:
    from ..data.transforms import TTA_VIEWS
    from ..models.registry import ModelOptionError, resolve_options
    try:
        resolve_options(cfg.model.name, cfg.model.options)
    except ModelOptionError as e:
        raise ConfigError(f"model: {e}") from None
    bad = [v for v in cfg.eval.views if v not in TTA_VIEWS]
    if bad:
        raise ConfigError(f"eval.views: unknown view(s) {bad}; allowed: {list(TTA_VIEWS)}")
    try:
        augment_config(cfg.data)
    except ValueError as e:
        raise ConfigError(f"data.augment: {e}") from None
    t = cfg.train
    if t.micro_batch and t.batch_size % t.micro_batch:
        raise ConfigError(f"train.micro_batch={t.micro_batch} must divide train.batch_size={t.batch_size}")
    if t.lr <= 0:
        raise ConfigError(f"train.lr={t.lr} must be > 0")


def augment_config(data: DataConfig):
    from ..data.transforms import AugmentConfig
    a = data.augment
    return AugmentConfig(multiscale=a.multiscale, scale_range=tuple(a.scale_range), corner_crop=a.corner_crop,
                         flip=a.flip, lighting=a.lighting, contrast=a.contrast, reverse=a.reverse,
                         intervals=tuple(a.intervals))


# fields that do not change what a run computes, left out of its hash
_NOT_HASHED = {("runs_dir",), ("data", "workers"), ("data", "cache_decoded"), ("train", "progress"), ("train", "pin_memory"), ("eval",),
               ("train", "device")}


def config_hash(cfg: RunConfig) -> str:
    """8-hex-digit hash of everything that changes a run's weights."""
    d = cfg.to_dict()
    for path in _NOT_HASHED:
        node = d
        for k in path[:-1]:
            node = node[k]
        node.pop(path[-1], None)
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]
