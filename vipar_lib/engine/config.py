"""Typed run configuration, one dataclass per section of a run's params YAML.

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

Validation happens once, here, before any data is read (:mod:`vipar_lib.typed`): an unknown
key, a wrong type, a number out of range, an unknown model or model option, an unknown
augmentation or TTA view raises :class:`ConfigError` naming the key (``train.lr``) and what is
allowed. ``data.augment`` *is* the data layer's :class:`~vipar_lib.data.transforms.AugmentConfig`.
Nothing below this module reads YAML.

**Paths are portable** (issue #14): ``runs_dir``, ``data.split_dir``, ``data.video_root`` and
``train.init_from`` are stored relative to the repository when they lie inside it, absolute
otherwise (:func:`vipar_lib.paths.portable`), and every reader turns them back into real paths
with :func:`vipar_lib.paths.resolve`. The run hash is taken over that relative form, so a run
store copied to another checkout, a checkout that moved, or a ``runs/`` folder shared between
checkouts is found and reused. Inside the engine a relative path is relative to the repository;
a user's params file, whose relative paths mean "from where I typed the command", goes through
:func:`portable_config` with the working directory first (the command line does this).

**The data's identity** (issue #21): :func:`portable_config` also gives a run whose ``data.dataset_id``
is empty (a user's params file) the sha1 fingerprint of its split lists and of every video they name
(:mod:`vipar_lib.data.identity`; cached, content not dates, so a copied store is still found), and
refreshes a fingerprint the id already carries. The run hash covers it: a run trained on other
videos or lists is never reused. A study's ``dataset_id`` is the planner's.

The defaults of :class:`TrainConfig` are the paper's recipe (III.B): SGD, momentum 0.9,
lr 0.001, weight decay 5e-4, lr x 0.1 every 20 epochs, batch 128.

**The release reading's data options** (``data.normalize``, ``data.short_side_range``,
``data.short_policy: pingpong``, ``data.window``, ``data.allow_repeats``, ``data.augment.scheme``
and its fields, ``augment.reverse_p``, ``augment.interval_rule``; ``eval.crop``) default to the text
reading. The run hash leaves out a new field while it holds its default and a field that the
run's settings ignore (the text pipeline's crop/colour fields under ``scheme: release``, the release
pipeline's under ``scheme: text``, ``reverse_p`` without ``reverse``, ``short_side`` under a
``short_side_range``), so runs made before these options keep their hash and runs that compute
the same thing share one (:func:`config_hash`). ``data.feed`` is hashed when it is ``device`` (the
default since issue #18: its frames match the host path's to >= 40 dB, not bit for bit), so a run
trained through the host path is never reused as a device-feed run, nor the reverse.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..data.clips import POSITIONS, SHORT_POLICIES
from ..data.dataset import FEEDS
from ..data.splits import SPLITS
from ..data.transforms import CONCAT_MODES, EVAL_CROPS, INPUT_TYPES, NORMALIZATIONS, TTA_VIEWS, AugmentConfig
from ..paths import portable
from ..typed import ConfigError, from_dict, option, to_dict

__all__ = ["ConfigError", "DataConfig", "ModelConfig", "TrainConfig", "EvalConfig", "RunConfig", "load_config",
           "config_from_dict", "config_hash", "portable_config", "PATH_FIELDS", "DEVICES"]

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class DataConfig:
    split_dir: str = option("", help="folder written by `vipar split`")
    video_root: str = option("", help="folder the split's paths are relative to (UCF-101/)")
    input_type: str = option("rgb", choices=INPUT_TYPES, help="rgb frames or residual frames (Diff)")
    clip_len: int = option(64, ge=1, help="frames per clip")
    interval: int = option(1, ge=1, help="frame step within a clip")
    crop_size: int = option(112, ge=1)
    short_side: int = option(128, ge=1, help="videos are decoded at this short side")
    short_policy: str = option("loop", choices=SHORT_POLICIES,
                               help="videos shorter than a clip: loop, pad, or pingpong (the release's palindromic "
                                    "extension to >= T+2 frames, libb/dataset.py:56-57)")
    train_split: str = option("train", choices=SPLITS)
    val_split: str = option("validation", choices=SPLITS + ("",), help="empty: no validation")
    workers: int = option(2, ge=0, help="DataLoader worker processes")
    cache_decoded: bool = option(False, help="keep decoded videos in memory (small datasets, many epochs)")
    feed: str = option("device", choices=FEEDS,
                       help="device: workers decode uint8 planes at source size, colour/geometry/jitter/normalisation "
                            "run in the training step (issue #18); host: decord RGB at short_side and the geometry "
                            "in the workers (the path before; part of the run hash only as device)")
    dataset_id: str = option("", help="what the videos are (the study sets it, e.g. the synthetic renderer's "
                                      "version and options; for a run's own params file vipar adds the sha1 "
                                      "fingerprint of its split lists and videos); part of the run hash, so runs "
                                      "on other data are never reused")
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # the release reading (vipar_lib.data.transforms / clips module docstrings)
    normalize: str = option("kinetics", choices=tuple(NORMALIZATIONS),
                            help="kinetics: (x-0.45)/0.225; imagenet: per-channel mean (0.485,0.456,0.406), std "
                                 "(0.229,0.224,0.225) (release zhongjichuli_xdw.py:275-278); residual frames are "
                                 "differences of the normalised frames")
    short_side_range: tuple[int, ...] = option((), ge=1,
                                               help="[] decodes at short_side; [lo, hi]: every clip (training and "
                                                    "test) at a random short side U{lo..hi} (release "
                                                    "libb/dataset.py:96-102: [128, 160])")
    window: int = option(0, ge=0, help="0: whole videos; N: the release's random N-frame window per clip, the last "
                                       "frame never read (libb/dataset.py:104-111,126: 300)")
    allow_repeats: bool = option(False, help="the training split may list a video more than once (the release's "
                                             "train22.txt); repeats elsewhere and overlaps between splits stay "
                                             "refused")


@dataclass
class ModelConfig:
    name: str = "slowfast_r50"
    options: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    epochs: int = option(60, ge=1)
    batch_size: int = option(128, ge=1, help="effective (global) batch")
    micro_batch: int = option(0, ge=0, help="per-step batch per process; 0 = batch_size (no accumulation)")
    lr: float = option(0.001, gt=0)
    momentum: float = option(0.9, ge=0, lt=1)
    weight_decay: float = option(0.0005, ge=0)
    lr_step: int = option(20, ge=1, help="epochs between lr decays")
    lr_gamma: float = option(0.1, gt=0, le=1)
    val_every: int = option(1, ge=1)
    val_clips: int = option(1, ge=1)
    seed: int = option(0, ge=0)
    init_from: str = option("", help="run dir or checkpoint to warm-start from (staged training)")
    device: str = option("auto", choices=DEVICES)
    amp: bool = option(True, help="bf16 autocast on CUDA")
    channels_last: bool = option(True, help="channels-last-3d on CUDA")
    pin_memory: bool = True
    progress: bool = True


@dataclass
class EvalConfig:
    views: list[str] = option(default_factory=lambda: ["center"], choices=TTA_VIEWS)
    num_clips: int = option(10, ge=1)
    interval: int = option(1, ge=1)
    positions: str = option("uniform", choices=POSITIONS)
    split: str = option("test", choices=SPLITS)
    batch_size: int = option(16, ge=1)
    concat_mode: str = option("double", choices=CONCAT_MODES)
    crop: str = option("center", choices=EVAL_CROPS,
                       help="center, or random: a seeded random crop_size position per test clip (release "
                            "libb/dataset.py:143-146); views act on it, 'center' then adds nothing")


@dataclass
class RunConfig:
    name: str = "run"
    runs_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return to_dict(self)


def config_from_dict(d: dict) -> RunConfig:
    """Build and validate a :class:`RunConfig` from a plain mapping."""
    if not isinstance(d, dict):
        raise ConfigError(f"a run config must be a mapping, got {type(d).__name__}")
    cfg = from_dict(RunConfig, d)
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
    """What one field cannot say alone: the model's own options, and fields that depend on each other."""
    from ..models.registry import ModelOptionError, resolve_options
    try:
        resolve_options(cfg.model.name, cfg.model.options)
    except ModelOptionError as e:
        raise ConfigError(f"model: {e}") from None
    t = cfg.train
    if t.micro_batch and t.batch_size % t.micro_batch:
        raise ConfigError(f"train.micro_batch={t.micro_batch} must divide train.batch_size={t.batch_size}")
    d = cfg.data
    r = d.short_side_range
    if r and not (len(r) == 2 and r[0] <= r[1]):
        raise ConfigError(f"data.short_side_range={list(r)} must be [] or [lo, hi] with lo <= hi")
    if d.augment.scheme == "release" and d.augment.rescale_short[0] < d.crop_size:
        raise ConfigError(f"data.augment.rescale_short={list(d.augment.rescale_short)} must start at "
                          f"data.crop_size={d.crop_size} or more under data.augment.scheme=release")


# the config fields that hold paths: stored portable, resolved by every reader
PATH_FIELDS = (("runs_dir",), ("data", "split_dir"), ("data", "video_root"), ("train", "init_from"))


def portable_config(cfg: RunConfig, cwd=None) -> RunConfig:
    """A copy of ``cfg`` with its :data:`PATH_FIELDS` in portable form.

    ``cwd`` is the folder relative paths are relative to: the repository (default; the engine's
    convention) or, for a user's params file, the working directory the command was typed in.
    Paths inside the repository become repository-relative, the rest absolute.
    """
    from .. import REPO_DIR
    base = Path(cwd).resolve() if cwd is not None else REPO_DIR
    out = copy.deepcopy(cfg)
    for path in PATH_FIELDS:
        node = out
        for k in path[:-1]:
            node = getattr(node, k)
        value = getattr(node, path[-1])
        if value:
            full = Path(value).expanduser()
            full = full if full.is_absolute() else base / full
            setattr(node, path[-1], portable(full))
    _identify(out.data)
    return out


def _identify(d: DataConfig) -> None:
    """A run's own params file (no ``dataset_id``, or one that carries a fingerprint): the current fingerprint
    of its split lists and videos (:mod:`vipar_lib.data.identity`), so the run hash covers the data (#21).
    A study's descriptive ``dataset_id`` is left as the planner wrote it."""
    from ..data.identity import content_id, content_tag
    from ..paths import resolve
    if d.split_dir and (not d.dataset_id or content_tag(d.dataset_id)):
        d.dataset_id = content_id(d.dataset_id, resolve(d.split_dir), resolve(d.video_root))    # as the loader reads it


# fields that do not change what a run computes, left out of its hash
_NOT_HASHED = {("runs_dir",), ("data", "workers"), ("data", "cache_decoded"), ("train", "progress"),
               ("train", "pin_memory"), ("train", "device"), ("eval",)}
# fields added with the release reading: left out of the hash while they hold their default
_NEW_FIELDS = (("data", "normalize"), ("data", "short_side_range"), ("data", "window"), ("data", "allow_repeats"),
               ("data", "augment", "scheme"), ("data", "augment", "reverse_p"), ("data", "augment", "interval_rule"),
               ("data", "augment", "aspect_range"), ("data", "augment", "rescale_short"), ("data", "augment", "hls"),
               ("data", "augment", "hls_p"))
_TEXT_ONLY = ("multiscale", "scale_range", "corner_crop", "lighting", "contrast")       # ignored by scheme=release
_RELEASE_ONLY = ("aspect_range", "rescale_short", "hls", "hls_p")                       # ignored by scheme=text


def _pop(d: dict, path) -> None:
    node = d
    for k in path[:-1]:
        node = node[k]
    node.pop(path[-1], None)


def _get(d: dict, path):
    for k in path:
        d = d[k]
    return d


def _hashed(d: dict) -> dict:
    """The part of a config's plain mapping that changes the weights (see the module docstring)."""
    defaults = to_dict(RunConfig())
    for path in _NOT_HASHED:
        _pop(d, path)
    aug = d["data"]["augment"]
    for k in _TEXT_ONLY if aug["scheme"] == "release" else _RELEASE_ONLY:
        aug.pop(k, None)
    if not aug["reverse"]:
        aug.pop("reverse_p", None)
    if d["data"]["short_side_range"]:
        d["data"].pop("short_side", None)
    if d["data"].get("feed") == "host":           # the feed before issue #18: runs it trained keep their hash
        d["data"].pop("feed")
    for path in _NEW_FIELDS:
        try:
            if _get(d, path) == _get(defaults, path):
                _pop(d, path)
        except KeyError:
            pass
    return d


def config_hash(cfg: RunConfig) -> str:
    """8-hex-digit hash of everything that changes a run's weights, paths in portable form.

    ``cfg``'s relative paths are taken as repository-relative (see :func:`portable_config`). The
    hash also covers the model's structural fingerprint (:func:`vipar_lib.models.model_fingerprint`),
    so a run trained by older model code with the same options is not taken for a current one.
    Fields that the run ignores, and the release reading's fields at their defaults, are left out
    (module docstring).
    """
    from ..models import model_fingerprint
    d = _hashed(portable_config(cfg).to_dict())
    d["model_fingerprint"] = model_fingerprint(cfg.model.name, cfg.model.options)
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]
