"""What training and evaluation both need: the model of a run config, the device to run it on, the
split, the clip transform and datasets' decode size and feed of a run config, and the step that turns a
batch (uint8 clips, or the device feed's decoded planes and plans) into the model input on that device."""
from __future__ import annotations

import os

import torch

from ..data.decode import VideoIndexStore
from ..data.device import batch_input, collate_device
from ..data.splits import SPLITS, Split, load_split_dir
from ..data.transforms import STD, ClipTransform, hls_rows, normalize_clips, plain_affines
from ..models import create_model
from ..paths import resolve
from .config import RunConfig

__all__ = ["build_model", "select_device", "model_input", "clip_transform", "decode_side", "load_split", "feed_options",
           "collate_fn", "step_input", "INDEX_NAME"]

INDEX_NAME = "videos.index.json"        # the device feed's probe cache, beside the split


def select_device(name: str) -> torch.device:
    """``auto`` takes the GPU of this process's ``LOCAL_RANK`` when CUDA is available, else the CPU."""
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("train.device=cuda but CUDA is not available")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def build_model(cfg: RunConfig, num_classes: int) -> torch.nn.Module:
    return create_model(cfg.model.name, num_classes=num_classes, **cfg.model.options)


def clip_transform(cfg: RunConfig, view: str | None = None, crop: str = "center") -> ClipTransform:
    """The run's clip transform: training (``view=None``) or a test-time view with test crop ``crop``."""
    d = cfg.data
    return ClipTransform(crop_size=d.crop_size, input_type=d.input_type, augment=d.augment, view=view,
                         concat_mode=cfg.eval.concat_mode, normalize=d.normalize,
                         short_side_range=tuple(d.short_side_range), crop=crop)


def decode_side(cfg: RunConfig) -> int:
    """The short side videos are decoded at: ``data.short_side``, or the top of ``data.short_side_range``
    (each clip is then resized to its own drawn side by the transform)."""
    r = cfg.data.short_side_range
    return int(r[1]) if r else cfg.data.short_side


def load_split(cfg: RunConfig) -> Split:
    """The run's split. With ``data.allow_repeats`` the training split may list a video more than once
    (the release's ``train22.txt``); the other splits' repeats and videos in two splits stay refused."""
    split_dir = resolve(cfg.data.split_dir)
    if not cfg.data.allow_repeats:
        return load_split_dir(split_dir)
    split = load_split_dir(split_dir, allow_duplicates=True)          # overlaps between splits: refused regardless
    load_split_dir(split_dir, names=[s for s in SPLITS if s != cfg.data.train_split])    # no repeats elsewhere
    return split


def model_input(clips: torch.Tensor, affine: torch.Tensor, input_type: str, device: torch.device,
                channels_last: bool = False, diff_std: float = STD, normalize: str = "kinetics") -> torch.Tensor:
    """uint8 clips (B, T', H, W, 3) + affines (B, 2), on the host -> float model input on ``device``.

    The copy is uint8 (``non_blocking``: overlapped when the batch is pinned); normalisation and
    residual frames are computed on the device (:func:`~vipar_lib.data.transforms.normalize_clips`,
    the same maths as ever; ``normalize`` is ``data.normalize``; the HLS shifts of
    ``augment.scheme=release`` training clips are applied there too). On CUDA with ``channels_last``
    the input is channels-last-3d (the uint8 clips already are, in memory); otherwise contiguous in
    the default layout.
    """
    cl = channels_last and device.type == "cuda"
    plain = plain_affines(affine)                   # read on the host copy: no device sync
    rows = hls_rows(affine)
    return normalize_clips(clips.to(device, non_blocking=True), affine.to(device, non_blocking=True), input_type,
                           diff_std, channels_last=cl, plain=plain, normalize=normalize, hls=rows)


def feed_options(cfg: RunConfig) -> dict:
    """The datasets' ``feed`` and, for the device feed, its on-disk video index beside the split
    (``<split_dir>/videos.index.json``: each video probed once, then one decoder open per clip).

    A video root made by ``vipar prepare-videos`` at a short side below the decode size is refused
    (its frames would be scaled up): one line naming the folder and the size to prepare at."""
    from ..data.prepare import prepared_info
    info = prepared_info(resolve(cfg.data.video_root)) if cfg.data.video_root else None
    if info and int(info["short_side"]) < decode_side(cfg):
        from ..typed import ConfigError
        raise ConfigError(f"{resolve(cfg.data.video_root)}: prepared at short side {info['short_side']}, but this run "
                          f"decodes at {decode_side(cfg)}; run vipar prepare-videos with --short-side "
                          f"{decode_side(cfg)} into another folder")
    if cfg.data.feed != "device":
        return {"feed": cfg.data.feed}
    split_dir = resolve(cfg.data.split_dir) if cfg.data.split_dir else None
    return {"feed": "device", "index": VideoIndexStore(split_dir / INDEX_NAME if split_dir else None)}


def collate_fn(cfg: RunConfig):
    """The DataLoader's ``collate_fn`` for the run's feed (None: the default collation)."""
    return collate_device if cfg.data.feed == "device" else None


def step_input(batch: dict, transform: ClipTransform, device: torch.device,
               channels_last: bool = False) -> torch.Tensor:
    """A batch of either feed -> the model input on ``device``: the device feed's planes become clips there
    (:func:`~vipar_lib.data.device.batch_input`), the host feed's uint8 clips are normalised there."""
    if "frames" in batch:
        return batch_input(batch, transform, device, channels_last and device.type == "cuda")
    return model_input(batch["clip"], batch["affine"], transform.input_type, device, channels_last,
                       normalize=transform.normalize)
