"""Training-step benchmark: clips/s and achieved GFLOP/s per model.

    python benchmarks/train_step.py [--models slowfast_r50 tsm_r50 ...] [--batch 8] [--frames 16] [--size 112]

On CPU it runs the tiny variants (width 8, one block per stage) at small inputs. On CUDA it runs
the full models at the paper's input (64x112x112 for SlowFast, 16x112x112 for the others), in
fp32 and with bf16 autocast + channels-last-3d (and torch.compile with --compile), and reports
MFU against the GPU's dense bf16 peak. Training FLOPs are taken as 3x the forward FLOPs counted
by torch.utils.flop_counter (forward + backward for inputs and weights).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vipar_lib.models import create_model, list_models, model_spec  # noqa: E402
from vipar_lib.models.info import count_flops  # noqa: E402

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}
TINY = {"slowfast": dict(width=8, depths=[1, 1, 1, 1]), "tsm": dict(width=8, depths=[1, 1, 1, 1]),
        "3d-resnet": dict(width=8, depths=[1, 1, 1, 1]), "mfnet": dict(width=16, groups=4, depths=[1, 1, 1, 1])}


def bench(name, opts, shape, device, amp, channels_last, compile_, steps):
    model = create_model(name, num_classes=101, **opts).to(device)
    fwd = count_flops(model, (1, *shape[1:])) * shape[0]
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(shape, device=device)
    y = torch.randint(0, 101, (shape[0],), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    step_model = torch.compile(model) if compile_ else model

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(step_model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    return shape[0] / dt, 3 * fwd / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list_models())
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None, help="default: 64 SlowFast / 16 others on GPU; 8 on CPU")
    ap.add_argument("--size", type=int, default=None, help="default 112 on GPU, 32 on CPU")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    size = a.size or (112 if cuda else 32)
    batch = a.batch or (16 if cuda else 4)
    steps = a.steps or (10 if cuda else 3)
    peak = next((v for k, v in PEAK_BF16.items() if cuda and k in torch.cuda.get_device_name()), None)
    print(f"device: {torch.cuda.get_device_name() if cuda else 'CPU'} ({torch.get_num_threads()} threads), "
          f"batch {batch}, {size}x{size}, {'full' if cuda else 'tiny'} models")
    modes = [("fp32", False, False, False)]
    if cuda:
        modes.append(("bf16+cl3d", True, True, False))
        if a.compile:
            modes.append(("bf16+cl3d+compile", True, True, True))
    print(f"{'model':15} {'mode':18} {'T':>3} {'clips/s':>9} {'GFLOP/s':>10} {'MFU':>6}")
    for name in a.models:
        fam = model_spec(name).family
        t = a.frames or (model_spec(name).default_frames if cuda else 8)
        opts = {} if cuda else dict(TINY[fam])
        if fam == "slowfast":
            opts["num_frames"] = t
            if not cuda:
                opts["alpha"] = 4
        for mode, amp, cl, comp in modes:
            cps, flops = bench(name, opts, (batch, 3, t, size, size), device, amp, cl, comp, steps)
            mfu = f"{100 * flops / peak:5.1f}%" if (peak and amp) else "  -"
            print(f"{name:15} {mode:18} {t:3d} {cps:9.1f} {flops / 1e9:10.1f} {mfu:>6}")


if __name__ == "__main__":
    main()
