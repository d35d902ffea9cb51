"""Parameter and FLOP counts of registered models (``vipar model-info``)."""
from __future__ import annotations

import torch

from .registry import create_model, model_spec

__all__ = ["count_params", "count_flops", "model_info"]


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: torch.nn.Module, shape) -> int:
    """FLOPs of one forward pass at ``shape`` (N, C, T, H, W), by ``torch.utils.flop_counter``.

    The counter counts 2 FLOPs per multiply-add of convolutions and matmuls (elementwise ops are
    not counted), so the figure is twice the "GMACs" some papers call FLOPs.
    """
    from torch.utils.flop_counter import FlopCounterMode
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(shape, device=device))
    model.train(was)
    return int(fc.get_total_flops())


def model_info(name: str, num_classes: int = 101, frames: int | None = None, size: int = 112,
               flops: bool = True, **options) -> dict:
    """Parameters and forward GFLOPs at (1, 3, frames, size, size).

    The model is built on PyTorch's ``meta`` device: shapes without storage, so full-size models
    are counted in seconds without allocating their weights (the counts equal a real build's).
    """
    spec = model_spec(name)
    with torch.device("meta"):
        m = create_model(name, num_classes, **options)
    t = frames or spec.default_frames
    shape = (1, 3, t, size, size)
    return {"name": name, "family": spec.family, "description": spec.description,
            "params": count_params(m), "gflops": count_flops(m, shape) / 1e9 if flops else None,
            "input_shape": list(shape), "options": m.vipar_options}
