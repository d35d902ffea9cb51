"""SlowFast 3D ResNet-50/101 (Feichtenhofer et al. 2019) with the DeepBlue report's Table-1 parts (text reading).

This is the *text reading*: the paper's words on PySlowFast's SlowFast. The network the authors
released (r1c7/SlowFastNetworks, modified) is :mod:`.slowfast_release`.

Structure follows PySlowFast's ``SlowFast`` and pytorchvideo's ``create_slowfast``:
``slowfast_r50`` has the structure of ``configs/Kinetics/SLOWFAST_8x8_R50.yaml``;
``slowfast_r101`` that of ``configs/Kinetics/c2/SLOWFAST_8x8_R101_101_101.yaml`` (fusion kernel 5,
a temporal kernel in conv a of *every* res4 block), **not** ``SLOWFAST_16x8_R101_50_50.yaml``,
whose ``NUM_BLOCK_TEMP_KERNEL: [[3,3],[4,4],[6,6],[3,3]]`` gives only the first 6 of the 23 res4
blocks a temporal kernel (the other 17 have ``1x1x1`` conv a); ``layout=50_50`` builds that one.
In both, alpha and the frame count are ours (below), not the configs'.

* stems: slow ``1x7x7`` conv -> 64, fast ``5x7x7`` -> 64/beta (beta = 8), BN, act, ``1x3x3`` max-pool;
* bottlenecks: "conv a" ``tx1x1`` (temporal kernel per stage: slow 1,1,3,3 — fast 3,3,3,3),
  "conv b" ``1x3x3`` (stride here), "conv c" ``1x1x1``; BN after each; final BN zero-initialised
  (with ``conv=tri``/``acnet`` the summed, individually normalised branches still pass through
  the BN after conv b — one BN more than ACNet's block, see :mod:`.blocks`);
* lateral fusion after the stem and res2–res4: fast -> ``2*C_fast`` channels with a
  ``kx1x1`` conv of temporal stride alpha (k = 7 for R50, 5 for R101), BN, act; concatenated
  into the slow pathway;
* stage widths 256, 512, 1024, 2048 (fast 1/8); head: adaptive average pool per pathway (PySlowFast's
  fixed pool breaks at 112 px), concatenation, dropout 0.5, linear.

**Slow frames.** The slow pathway takes ``T/alpha`` frames of the T-frame fast clip, picked
evenly (PySlowFast's ``PackPathway``: ``linspace(0, T-1, T//alpha)``). With the paper's 64
consecutive frames we use **alpha = 8**: fast 64, slow 8 frames, the same slow rate as
SLOWFAST_8x8 (8 frames) at the fast pathway's full frame rate.

**Table-1 options** (each independent): ``non_local`` (PySlowFast placement: slow pathway,
res3 blocks 1 and 3, res4 blocks 1, 3 and 5, 0-based; a stage too short for any of them — a
one-block demo stage — gets one non-local block after its last block, so the option always acts),
``conv`` (``3d``/``2plus1d``/``tri``/``acnet``, see :mod:`.blocks`), ``activation`` (``relu``/``elu``), ``downsample``:
``conv`` (strided conv b and shortcut) or ``pool`` ("replace all the downsampling convolution
layers with max-pooling layers": stride-1 convs behind a ``1x3x3``/stride-2 max-pool in both
the residual branch and the shortcut of res3–res5; the stem and the laterals are unchanged),
``temporal_module`` (``tam``: TANet's TAM after conv a, in every bottleneck of both pathways),
``attention`` (``se`` or ``st``: on the residual branch before the addition).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from .blocks import ATTENTIONS, CONV_BUILDERS, TAM, NonLocal, conv_b
from .blocks import activation as activation_part  # the option named `activation` shadows the builder
from .registry import ModelOptionError, Option, register_model

__all__ = ["BlockParts", "Bottleneck", "SlowFast", "slowfast_r50", "slowfast_r101", "pack_pathways"]


@dataclass(frozen=True)
class BlockParts:
    """The interchangeable parts of a bottleneck (the Table-1 axes)."""

    conv_b: Callable[..., nn.Module]
    act: Callable[[], nn.Module]
    downsample: str = "conv"                       # "conv" | "pool"
    temporal: Callable[[int, int], nn.Module] | None = None   # (channels, frames) -> module
    attention: Callable[..., nn.Module] | None = None         # (channels, act=) -> module


class Bottleneck(nn.Module):
    """PySlowFast's ``BottleneckTransform`` + residual, assembled from :class:`BlockParts`."""

    def __init__(self, cin, cout, inner, temporal_kernel, stride, parts: BlockParts, frames: int):
        super().__init__()
        pool = parts.downsample == "pool" and stride > 1
        s = (1, 1, 1) if pool else (1, stride, stride)
        self.a = nn.Sequential(nn.Conv3d(cin, inner, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0),
                                         bias=False), nn.BatchNorm3d(inner), parts.act())
        self.temporal = parts.temporal(inner, frames) if parts.temporal else nn.Identity()
        self.pool = nn.MaxPool3d((1, 3, 3), (1, stride, stride), (0, 1, 1)) if pool else nn.Identity()
        self.b = nn.Sequential(parts.conv_b(inner, inner, s, parts.act), nn.BatchNorm3d(inner), parts.act())
        self.c = nn.Sequential(nn.Conv3d(inner, cout, 1, bias=False), nn.BatchNorm3d(cout))
        nn.init.zeros_(self.c[1].weight)           # PySlowFast ZERO_INIT_FINAL_BN
        self.attention = parts.attention(cout, act=parts.act) if parts.attention else nn.Identity()
        self.shortcut = None
        if cin != cout or stride > 1:
            self.shortcut = nn.Sequential(
                nn.MaxPool3d((1, 3, 3), (1, stride, stride), (0, 1, 1)) if pool else nn.Identity(),
                nn.Conv3d(cin, cout, 1, s, bias=False), nn.BatchNorm3d(cout))
        self.out_act = parts.act()

    def forward(self, x):
        y = self.c(self.b(self.pool(self.temporal(self.a(x)))))
        y = self.attention(y)
        return self.out_act(y + (x if self.shortcut is None else self.shortcut(x)))


def _stage(cin, cout, inner, n_blocks, tk, stride, parts, frames, nonlocal_idx=(), temporal_blocks=None):
    """``temporal_blocks``: how many leading blocks get conv a's temporal kernel ``tk`` (the rest ``1``); None: all."""
    layers = []
    for i in range(n_blocks):
        k = tk if temporal_blocks is None or i < temporal_blocks else 1
        layers.append(Bottleneck(cin if i == 0 else cout, cout, inner, k, stride if i == 0 else 1, parts, frames))
        if i in nonlocal_idx:
            layers.append(NonLocal(cout))
    return nn.Sequential(*layers)


NONLOCAL_BLOCKS = ((), (1, 3), (1, 3, 5), ())      # PySlowFast SLOWFAST_NLN_8x8_R50: res3 1,3; res4 1,3,5
R101_50_50_TEMPORAL_BLOCKS = (3, 4, 6, 3)            # SLOWFAST_16x8_R101_50_50 NUM_BLOCK_TEMP_KERNEL


def nonlocal_places(depths, places=NONLOCAL_BLOCKS) -> tuple[tuple[int, ...], ...]:
    """Block indices after which a stage gets a non-local block.

    PySlowFast's indices where the stage has them; a stage that should have some but is too
    short for any (a one-block demo stage) gets one after its last block, so ``non_local=True``
    never builds the network without it.
    """
    out = []
    for n, want in zip(depths, places):
        have = tuple(i for i in want if i < n)
        out.append(have if have or not want else (n - 1,))
    return tuple(out)


class Lateral(nn.Sequential):
    """Fast -> slow fusion: time-strided ``kx1x1`` conv to 2x channels, BN, act (PySlowFast FuseFastToSlow)."""

    def __init__(self, c_fast, alpha, kernel, act):
        super().__init__(nn.Conv3d(c_fast, 2 * c_fast, (kernel, 1, 1), (alpha, 1, 1), (kernel // 2, 0, 0), bias=False),
                         nn.BatchNorm3d(2 * c_fast), act())


def pack_pathways(x: torch.Tensor, alpha: int) -> list[torch.Tensor]:
    """(N, C, T, H, W) -> [slow (T//alpha frames, evenly spaced), fast (all T)], as PySlowFast."""
    t = x.shape[2]
    idx = torch.linspace(0, t - 1, max(1, t // alpha), device=x.device).long()
    return [x.index_select(2, idx), x]


class SlowFast(nn.Module):
    """Two-pathway SlowFast network taking one (N, C, T, H, W) clip; returns pre-softmax logits."""

    def __init__(self, num_classes, depths=(3, 4, 6, 3), width=64, alpha=8, beta=8, lateral_kernel=7,
                 parts_slow: BlockParts | None = None, parts_fast: BlockParts | None = None,
                 non_local=False, dropout=0.5, num_frames=64, in_channels=3, stem_act=None, temporal_blocks=None):
        super().__init__()
        self.alpha = alpha
        act = stem_act or parts_slow.act
        wf = max(1, width // beta)
        self.stem_slow = nn.Sequential(nn.Conv3d(in_channels, width, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
                                       nn.BatchNorm3d(width), act(), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        self.stem_fast = nn.Sequential(nn.Conv3d(in_channels, wf, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False),
                                       nn.BatchNorm3d(wf), act(), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        nl = nonlocal_places(depths) if non_local else ((),) * len(depths)
        tb = temporal_blocks or (None,) * len(depths)
        tk_slow, tk_fast = (1, 1, 3, 3), (3, 3, 3, 3)
        t_slow, t_fast = max(1, num_frames // alpha), num_frames
        self.laterals = nn.ModuleList([Lateral(wf, alpha, lateral_kernel, act)])
        self.slow, self.fast = nn.ModuleList(), nn.ModuleList()
        c_slow, c_fast = width, wf
        for i, n in enumerate(depths):
            out_s, inner_s = width * 4 * 2 ** i, width * 2 ** i
            out_f, inner_f = wf * 4 * 2 ** i, wf * 2 ** i
            stride = 1 if i == 0 else 2
            self.slow.append(_stage(c_slow + 2 * c_fast, out_s, inner_s, n, tk_slow[i], stride, parts_slow,
                                    t_slow, nl[i], tb[i]))
            self.fast.append(_stage(c_fast, out_f, inner_f, n, tk_fast[i], stride, parts_fast, t_fast,
                                    temporal_blocks=tb[i]))
            c_slow, c_fast = out_s, out_f
            if i < len(depths) - 1:
                self.laterals.append(Lateral(c_fast, alpha, lateral_kernel, act))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_slow + c_fast, num_classes)
        self.feature_dim = c_slow + c_fast
        _init(self)

    def forward(self, x):
        slow, fast = pack_pathways(x, self.alpha)
        slow, fast = self.stem_slow(slow), self.stem_fast(fast)
        for i in range(len(self.slow)):
            slow = torch.cat([slow, _match_time(self.laterals[i](fast), slow)], 1)
            slow, fast = self.slow[i](slow), self.fast[i](fast)
        feats = torch.cat([slow.mean((2, 3, 4)), fast.mean((2, 3, 4))], 1)
        return self.fc(self.dropout(feats))


def _match_time(lat, slow):
    """Lateral output and slow pathway can differ by a frame when T is not a multiple of alpha."""
    t = slow.shape[2]
    if lat.shape[2] == t:
        return lat
    return nn.functional.interpolate(lat, size=(t, *lat.shape[3:]), mode="nearest")


def _init(model: nn.Module):
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for m in model.modules():        # re-apply the zero-inits that kaiming would not touch
        if isinstance(m, Bottleneck):
            nn.init.zeros_(m.c[1].weight)
        if isinstance(m, NonLocal):
            nn.init.zeros_(m.bn.weight)


SLOWFAST_OPTIONS = {
    "non_local": Option(False, kind=bool, help="non-local blocks in the slow pathway (res3: 1,3; res4: 1,3,5; "
                                               "a too-short stage: after its last block)"),
    "conv": Option("3d", choices=CONV_BUILDERS,
                   help="conv b: 3d | 2plus1d | tri (3x3x3+3x1x1+1x3x3) | acnet (1x3x3+1x3x1+1x1x3)"),
    "activation": Option("relu", choices=("relu", "elu")),
    "downsample": Option("conv", choices=("conv", "pool"), help="pool: max-pooling replaces strided convs"),
    "temporal_module": Option("none", choices=("none", "tam")),
    "attention": Option("none", choices=tuple(ATTENTIONS)),
    "alpha": Option(8, kind=int, ge=1, help="slow pathway takes every alpha-th frame"),
    "beta": Option(8, kind=int, ge=1, help="fast pathway has 1/beta of the slow channels (8 in the paper)"),
    "width": Option(64, kind=int, ge=1, help="slow stem width (64 in the paper); stages are 4x,8x,16x,32x"),
    "depths": Option(None, kind=(tuple, type(None)), ge=1, length=4,
                     help="blocks per stage, e.g. [1,1,1,1] for a tiny model"),
    "dropout": Option(0.5, kind=float, ge=0, lt=1),
    "num_frames": Option(64, kind=int, ge=1, help="fast-pathway frames (used by TAM)"),
    "lateral_kernel": Option(None, kind=(int, type(None)), ge=1, help="default 7 (R50) / 5 (R101)"),
}
R101_OPTIONS = {**SLOWFAST_OPTIONS, "layout": Option("101_101", choices=("101_101", "50_50"), help=(
    "101_101: temporal kernel in every block (SLOWFAST_8x8_R101_101_101); 50_50: only in the first "
    "3,4,6,3 blocks of res2-res5 (SLOWFAST_16x8_R101_50_50)"))}


def _build(num_classes, depth, non_local, conv, activation: str, downsample, temporal_module, attention,
           alpha, beta, width, depths, dropout, num_frames, lateral_kernel, layout="101_101"):
    act = activation_part(activation)
    att = ATTENTIONS[attention]
    tmod = (lambda c, t: TAM(c, t)) if temporal_module == "tam" else None
    parts = BlockParts(conv_b(conv), act, downsample, tmod, att)
    depths = depths or DEPTHS[depth]
    temporal_blocks = R101_50_50_TEMPORAL_BLOCKS if layout == "50_50" else None
    return SlowFast(num_classes, depths, width, alpha, beta, lateral_kernel or {50: 7, 101: 5}[depth], parts, parts,
                    non_local, dropout, num_frames, temporal_blocks=temporal_blocks)


DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def _check(name: str, o: dict) -> None:
    depths = o["depths"] or DEPTHS[101 if name.endswith("101") else 50]
    if o.get("layout") == "50_50" and all(n <= k for n, k in zip(depths, R101_50_50_TEMPORAL_BLOCKS)):
        raise ModelOptionError(f"{name}: option layout=50_50 changes nothing at depths={list(depths)}: it drops "
                               f"the temporal kernel of blocks beyond {list(R101_50_50_TEMPORAL_BLOCKS)} per "
                               f"stage; use a deeper res4 (e.g. depths=[1,1,8,1]) or layout=101_101")


@register_model("slowfast", 64, SLOWFAST_OPTIONS, check=_check)
def slowfast_r50(num_classes=101, **opts):
    """SlowFast 3D ResNet-50 (PySlowFast SLOWFAST_8x8_R50 structure, alpha=8 on 64 frames)."""
    return _build(num_classes, 50, **opts)


@register_model("slowfast", 64, R101_OPTIONS, check=_check)
def slowfast_r101(num_classes=101, **opts):
    """SlowFast 3D ResNet-101 (PySlowFast SLOWFAST_8x8_R101_101_101 structure, lateral kernel 5; or layout=50_50)."""
    return _build(num_classes, 101, **opts)
