"""What training and evaluation both need: the model of a run config, the device to run it on, and
the step that turns a batch of uint8 clips into the model input on that device."""
from __future__ import annotations

import os

import torch

from ..data.transforms import STD, normalize_clips, plain_affines
from ..models import create_model
from .config import RunConfig

__all__ = ["build_model", "select_device", "model_input"]


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


def model_input(clips: torch.Tensor, affine: torch.Tensor, input_type: str, device: torch.device,
                channels_last: bool = False, diff_std: float = STD) -> torch.Tensor:
    """uint8 clips (B, T', H, W, 3) + affines (B, 2), on the host -> float model input on ``device``.

    The copy is uint8 (``non_blocking``: overlapped when the batch is pinned); normalisation and
    residual frames are computed on the device (:func:`~vipar_lib.data.transforms.normalize_clips`,
    the same maths as ever). On CUDA with ``channels_last`` the input is channels-last-3d (the
    uint8 clips already are, in memory); otherwise contiguous in the default layout.
    """
    cl = channels_last and device.type == "cuda"
    plain = plain_affines(affine)                   # read on the host copy: no device sync
    return normalize_clips(clips.to(device, non_blocking=True), affine.to(device, non_blocking=True), input_type,
                           diff_std, channels_last=cl, plain=plain)
