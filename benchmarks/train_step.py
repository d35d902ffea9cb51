"""Training-step benchmark: clips/s, step time, peak memory and MFU per model and mode.

    python benchmarks/train_step.py [--device auto|cpu|cuda] [--models ...] [--batch N] [--steps N]
                                    [--no-compile] [--fp32]

**CUDA** (``--device cuda``): every model the ucf101 profile trains, at its real input
(params/ucf101.yaml; report SIII): SlowFast-R50/R101 at 64x112x112 as the base network and with
Table 1's final modules (ELU, POOL, the 3x3+3x1+1x3 kernel), TSM-R50/R101 at 16x112x112 and the
single-frame TSM stage; 101 classes, micro-batch 16 (``train.micro_batch``). Each runs in bf16
autocast with ``channels_last_3d`` off and on, and with ``torch.compile`` off and on (``--fp32``
adds an fp32 row; ``--no-compile`` skips the compiled rows). The step is the trainer's:
forward, cross-entropy in float32, backward, SGD with momentum and weight decay. The input is a
uint8 batch normalised on the device (:func:`vipar_lib.data.transforms.normalize_clips`), as in
training. Reported: clips/s, step time, peak memory (``torch.cuda.max_memory_allocated``), and
MFU = 3 x forward FLOPs (``torch.utils.flop_counter``: 2 per multiply-add; backward ~2x forward)
per second over the GPU's dense bf16 peak (:data:`PEAK_BF16`).

**CPU** (default when there is no GPU): the tiny variants (width 8, one block per stage) at
8x32x32, fp32, batch 4, so the path runs anywhere; MFU is not reported.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vipar_lib.data.transforms import normalize_clips  # noqa: E402
from vipar_lib.models import create_model, list_models, model_spec  # noqa: E402
from vipar_lib.models.info import count_flops  # noqa: E402

# dense bf16 tensor-core peaks (FLOP/s), matched in this order against torch.cuda.get_device_name()
PEAK_BF16 = [("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12),
             ("A100", 312e12), ("L40S", 362e12), ("L4", 121e12), ("A10", 125e12)]
TINY = {"slowfast": dict(width=8, depths=[1, 1, 1, 1]), "tsm": dict(width=8, depths=[1, 1, 1, 1]),
        "3d-resnet": dict(width=8, depths=[1, 1, 1, 1]), "mfnet": dict(width=16, groups=4, depths=[1, 1, 1, 1])}
FINAL = {"activation": "elu", "downsample": "pool", "conv": "tri"}      # Table 1, T1.7


def ucf101_models() -> list[tuple[str, str, dict, int]]:
    """(label, model, options, frames) of every network the ucf101 profile trains."""
    out = []
    for depth in (50, 101):
        out.append((f"slowfast_r{depth} base", f"slowfast_r{depth}", {"num_frames": 64}, 64))
        out.append((f"slowfast_r{depth} final", f"slowfast_r{depth}", {"num_frames": 64, **FINAL}, 64))
    for depth in (50, 101):
        out.append((f"tsm_r{depth} 1-frame", f"tsm_r{depth}", {"shift": False}, 1))
        out.append((f"tsm_r{depth} shift", f"tsm_r{depth}", {}, 16))
    return out


def forward_flops(name, opts, shape) -> int:
    """Forward FLOPs of one clip, counted on the meta device (no compute), else on the CPU."""
    try:
        with torch.device("meta"):
            return count_flops(create_model(name, num_classes=101, **opts), (1, *shape[1:]))
    except Exception:
        return count_flops(create_model(name, num_classes=101, **opts), (1, *shape[1:]))


def bench(name, opts, shape, device, amp, channels_last, compile_, steps):
    """Mean seconds per training step and peak memory (bytes, CUDA) for one model and mode."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=101, **opts).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    b, _, t, h, w = shape
    clips = torch.randint(0, 256, (b, t, h, w, 3), dtype=torch.uint8, device=device)   # what the loader delivers
    affine = torch.tensor([[1 / 255, 0.0]] * b, device=device)
    y = torch.randint(0, 101, (b,), device=device)
    step_model = torch.compile(model) if compile_ else model

    def step():
        x = normalize_clips(clips, affine, "rgb", channels_last=channels_last, plain=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(step_model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    warm = 3 if compile_ else 2
    for _ in range(warm):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else 0
    model = opt = step_model = None           # free the memory before the next model (a closure uses them)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return dt, peak


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--models", nargs="+", default=None, help="CPU: registered names (default: all); CUDA: "
                    "labels or model names to keep from the ucf101 list (default: all)")
    ap.add_argument("--batch", type=int, default=None, help="default 16 on CUDA (train.micro_batch), 4 on CPU")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows (CUDA)")
    ap.add_argument("--fp32", action="store_true", help="add an fp32 row per model (CUDA)")
    a = ap.parse_args()
    cuda = a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    device = torch.device("cuda" if cuda else "cpu")
    batch = a.batch or (16 if cuda else 4)
    steps = a.steps or (10 if cuda else 3)
    if cuda:
        torch.backends.cudnn.benchmark = True
        gpu = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16 if k in gpu), None)
        rows = [r for r in ucf101_models() if not a.models or r[0] in a.models or r[1] in a.models]
        modes = ([("fp32", False, False, False)] if a.fp32 else []) + [("bf16", True, False, False),
                                                                       ("bf16+cl3d", True, True, False)]
        if not a.no_compile:
            modes += [("bf16+compile", True, False, True), ("bf16+cl3d+compile", True, True, True)]
        print(f"device: {gpu} (dense bf16 peak {peak / 1e12 if peak else float('nan'):.0f} TFLOP/s), "
              f"batch {batch}, 112x112, full models, torch {torch.__version__}")
    else:
        peak, gpu = None, "CPU"
        names = a.models or list_models()
        rows = []
        for name in names:
            fam = model_spec(name).family
            opts = dict(TINY[fam])
            if fam == "slowfast":
                opts.update(num_frames=8, alpha=4)
            rows.append((name, name, opts, 8))
        modes = [("fp32", False, False, False)]
        print(f"device: CPU ({torch.get_num_threads()} threads), batch {batch}, 32x32, tiny models (width 8, one "
              f"block per stage), fp32")
    size = 112 if cuda else 32
    print(f"{'model':22} {'mode':18} {'T':>3} {'clips/s':>8} {'step ms':>8} {'peak GiB':>9} {'GFLOP/s':>9} {'MFU':>6}")
    for label, name, opts, t in rows:
        shape = (batch, 3, t, size, size)
        fwd = forward_flops(name, opts, shape) * batch
        for mode, amp, cl, comp in modes:
            try:
                dt, mem = bench(name, opts, shape, device, amp, cl, comp, steps)
            except Exception as e:          # one failing mode (e.g. a compile error) does not end the table
                print(f"{label:22} {mode:18} {t:3d} failed: {type(e).__name__}: {str(e).splitlines()[0][:80]}")
                continue
            flops = 3 * fwd / dt
            mfu = f"{100 * flops / peak:5.1f}%" if (peak and amp) else "  -"
            gib = f"{mem / 2**30:9.2f}" if cuda else f"{'-':>9}"
            print(f"{label:22} {mode:18} {t:3d} {batch / dt:8.1f} {1000 * dt:8.1f} {gib} {flops / 1e9:9.1f} {mfu:>6}")


if __name__ == "__main__":
    main()
