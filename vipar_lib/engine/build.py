"""What training and evaluation both need: the model of a run config, and the device to run it on."""
from __future__ import annotations

import os

import torch

from ..models import create_model
from .config import RunConfig

__all__ = ["build_model", "select_device"]


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
