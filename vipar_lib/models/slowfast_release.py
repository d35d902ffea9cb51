"""SlowFast as the DeepBlue release built it (the *release reading* of Table 1).

The authors' SlowFast is r1c7/SlowFastNetworks ``lib/slowfastnet.py`` (commit 251a97a; "r1c7:"
below) modified in xdw1995/123 ``libb/slowfastnet.py`` (commit 40c31aa; "release:" below).
``slowfast_release_r50``/``_r101`` build r1c7's network by default, and each modification as an
option, so every Table-1 row is a choice of parts. :mod:`.slowfast` is the *text reading* (the
paper's words on PySlowFast's network).

One clip feeds both pathways; the split is inside the model (r1c7:90-96, release:167-173)::

    clip (N, 3, T, H, W)
     ├─ [::s] ──> fast stem ────────┬─> fres2 ─────┬─> fres3 ─────┬─> fres4 ─────┬─> fres5 ─> avg ───┐
     │  T/s frames                  │ lat0         │ lat1         │ lat2         │ lat3              ├> cat, dropout, fc
     │                              v              v              v              v                   │
     └─ [::s*alpha] ─> slow stem ─(cat)─> sres2 ─(cat)─> sres3 ─(cat)─> sres4 ─(cat)─> sres5 ─> avg ─┘
        T/(s*alpha) frames

``s`` = ``fast_stride`` = 2 and ``alpha`` = 8: a 64-frame clip gives the fast pathway 32 frames
and the slow pathway 4 (every 16th). A lateral is a ``5x1x1`` conv to twice the fast channels,
strided by alpha in time, with **no BN and no activation**, concatenated to the slow features
(r1c7:71-74; release:128-135). Fast channels are the slow ones / beta (beta = 8). The head pools
each pathway (adaptive average), concatenates, applies dropout and a linear layer without bias
(r1c7:88-89). Neither file initialises weights: PyTorch's defaults, as here.

A bottleneck (r1c7:10-51, release:11-72)::

    x ─┬─> conv a ─> [TAM] ─> conv b ─> BN ─> act ─> conv c (1x1x1) ─> BN ─(+)─> act
       │   t | t∥s summed, BN, act                                          │
       │   [+ st: kxkxk ─> [NL] ─> BN ─> act, added after]                   │
       └─> identity, or shortcut: 1x1x1 conv (downsampling part), BN ────────┘

**Options** (defaults build r1c7):

* ``activation``: ``relu`` (r1c7) | ``elu`` — the release's ELU everywhere: stems, blocks
  (release:37, :101, :140). The laterals have no activation; the optional T+O stem keeps ReLU
  (release:82).
* ``downsample``: ``stride`` (r1c7) | ``pool`` — the release's "POOL": every strided conv (spatially;
  in the laterals, temporally) becomes a stride-1 conv followed by a max-pool with the conv's
  kernel, stride and padding
  (:func:`.blocks.conv_then_pool`): the slow stem (``1x7x7`` pool, release:137-138), the plain fast
  stem (``5x7x7`` pool, :98-99), every conv b (``1x3x3`` pool — also in stride-1 blocks, where it
  max-filters, :31-33), every shortcut (a kernel-1 pool, which subsamples exactly as the strided
  1x1 conv did, :238-246, :257-265) and the laterals (a ``5x1x1`` temporal pool, :128-135).
* ``conv_a``: the branches of conv a. ``t`` (r1c7): ``kx1x1`` with k = 1 in sres2/sres3 and 3
  elsewhere (r1c7:15-20). ``t+s``: plus a parallel ``1xkxk`` conv, summed before conv a's one BN
  (release:17-28, :49-53) — where k = 1 the two parallel ``1x1x1`` convs add parameters but
  nothing a single ``1x1x1`` conv cannot express. ``+st``: the release's commented-out third
  branch (release:25-27, :43-47, :54-57): a ``kxkxk`` conv with its own BN and activation,
  **added after** conv a's activation, in the k = 3 blocks only. ``t+s`` is the released final
  network's.
* ``st_attention``: the commented code wraps that ``kxkxk`` conv in the release's non-local block
  (``self.non = NL3DWrapper_xdw(self.conv3x3, planes)``, release:27) — "spatio-temporal attention
  added to 3D convolution" (the file ``libb/slowfast_c3dattention.py`` holds the same network with
  the non-local import enabled, :9). Needs ``st`` in ``conv_a``. The branch's lines only run with
  it: the forward calls ``self.non(x)`` (release:45), which only line 27 defines, so the release's
  own T1.7 (``t+s+st``) is ``st_attention=True``. The release sums the branch in place
  (``out +=out_3x3``, release:56) into the output of an in-place ELU (:53), which autograd refuses
  to backpropagate ("modified by an inplace operation"); :class:`.blocks.LayersPlusBranch` sums
  out of place, the only form of that network that trains.
* ``non_local``: the release's non-local block (:class:`.blocks.NonLocal` with
  ``scaled=False, pool_first=False``, ``libb/non_local.py``:8-87, 152-161) after res3 blocks 0
  and 2 of both pathways (release:106-112, :145-151); in a res3 shorter than 3 blocks only after
  block 0 (which every depth has). As released, ``non_local=True`` raises ``NameError``: the import
  of ``NL3DWrapper_xdw`` is commented out (release:8); we build what the code names.
* ``fast_stem``: ``plain`` | ``t+o``: the release's optional factorised fast stem
  (release:81-92, :199-205): ``1x7x7`` conv (spatial stride 2) to 5 channels, BN, ReLU, ``5x1x1``
  conv to 8, BN, ReLU — a strided conv under either ``downsample``, as released.
* ``temporal_module``: ``tam`` puts TANet's TAM after conv a of every block (no release
  counterpart: the release has no TAM; this is the text reading's placement, for Table 1's TAM row).
* ``width``/``depths``/``alpha``/``beta``/``fast_stride``: sizes (64; 3,4,6,3 or 3,4,23,3; 8; 8; 2)
  for tiny demo variants; ``dropout`` 0.5 (r1c7:55; the release's :data:`RELEASE_DROPOUT` 0.6 is
  release:76, which every release script keeps: ``slowfastnet.resnet50(class_num=101)``,
  trainrgb.py:183, traindiff.py:183); ``num_frames`` (64) only sizes TAM.

:data:`RELEASE_FINAL` is the released final network. Which options each Table-1 row means under
the release reading is data, beside the text reading's: ``release`` in ``vipar_lib/paper_tables.yaml``
(T1.1 is r1c7's network with r1c7's dropout; every other row adds a part of the release's file
and takes its dropout 0.6).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from .blocks import DOWNSAMPLERS, TAM, ConvPlusBranches, LayersPlusBranch, NonLocal
from .blocks import activation as activation_part  # the option named `activation` shadows the builder
from .registry import ModelOptionError, Option, register_model

__all__ = ["ReleaseParts", "ReleaseBottleneck", "SlowFastRelease", "conv_a_builder", "slowfast_release_r50",
           "slowfast_release_r101", "RELEASE_FINAL", "RELEASE_DROPOUT", "CONV_A"]

CONV_A = ("t", "t+s", "t+st", "t+s+st")
RELEASE_NONLOCAL_BLOCKS = (0, 2)          # res3 blocks followed by a non-local block (release:106-112, :145-151)


def release_nonlocal(dim: int) -> NonLocal:
    """The release's non-local block: AlexHex7's embedded Gaussian (``libb/non_local.py``)."""
    return NonLocal(dim, (1, 2, 2), scaled=False, pool_first=False)


def conv_a_builder(kind: str, act: Callable[[], nn.Module], st_attention: bool = False):
    """Builder ``(cin, planes, k) -> Module`` for conv a with the branches named by ``kind``.

    ``t``: ``kx1x1``; ``s``: ``1xkxk``, summed with ``t`` before one BN and the activation
    (release:49-53); ``st``: ``kxkxk`` [-> non-local] -> BN -> act, added after conv a's
    activation (release:43-47, :54-57), only where k > 1 (the release's ``head_conv == 3``).
    """
    branches = set(kind.split("+"))

    def build(cin: int, planes: int, k: int) -> nn.Module:
        # the t conv keeps r1c7's name and place (a.0), so Table 1's rows warm-started from the base load it
        t_args = (cin, planes, (k, 1, 1), (k // 2, 0, 0))
        if "s" in branches:
            t = ConvPlusBranches(*t_args, [nn.Conv3d(cin, planes, (1, k, k), padding=(0, k // 2, k // 2), bias=False)])
        else:
            t = nn.Conv3d(*t_args[:3], padding=t_args[3], bias=False)
        layers = [t, nn.BatchNorm3d(planes), act()]
        if "st" not in branches or k == 1:
            return nn.Sequential(*layers)
        st = [nn.Conv3d(cin, planes, k, padding=k // 2, bias=False)]
        if st_attention:
            st.append(release_nonlocal(planes))
        return LayersPlusBranch(layers, nn.Sequential(*st, nn.BatchNorm3d(planes), act()))

    return build


@dataclass(frozen=True)
class ReleaseParts:
    """The interchangeable parts of a release bottleneck (the Table-1 axes under the release reading)."""

    conv_a: Callable[[int, int, int], nn.Module]          # (cin, planes, k) -> conv a with BN and act
    act: Callable[[], nn.Module]
    down: Callable[..., nn.Module]                        # (cin, cout, kernel, stride, padding) -> conv [+ pool]
    temporal: Callable[[int, int], nn.Module] | None = None   # (channels, frames) -> module after conv a


class ReleaseBottleneck(nn.Module):
    """r1c7's ``Bottleneck`` (r1c7:10-51) / the release's (release:11-72), from :class:`ReleaseParts`."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, k: int, parts: ReleaseParts, frames: int):
        super().__init__()
        cout = planes * self.expansion
        self.a = parts.conv_a(cin, planes, k)
        self.temporal = parts.temporal(planes, frames) if parts.temporal else nn.Identity()
        self.b = nn.Sequential(parts.down(planes, planes, (1, 3, 3), (1, stride, stride), (0, 1, 1)),
                               nn.BatchNorm3d(planes), parts.act())
        self.c = nn.Sequential(nn.Conv3d(planes, cout, 1, bias=False), nn.BatchNorm3d(cout))
        self.shortcut = None
        if stride != 1 or cin != cout:              # r1c7:146-153 / release:238-246
            self.shortcut = nn.Sequential(parts.down(cin, cout, (1, 1, 1), (1, stride, stride), (0, 0, 0)),
                                          nn.BatchNorm3d(cout))
        self.out_act = parts.act()

    def forward(self, x):
        y = self.c(self.b(self.temporal(self.a(x))))
        return self.out_act(y + (x if self.shortcut is None else self.shortcut(x)))


def _stage(cin, planes, n_blocks, k, stride, parts, frames, nonlocal_after=()):
    layers = []
    for i in range(n_blocks):
        block_in = cin if i == 0 else planes * ReleaseBottleneck.expansion
        layers.append(ReleaseBottleneck(block_in, planes, stride if i == 0 else 1, k, parts, frames))
        if i in nonlocal_after:                     # NL3DWrapper_xdw(block) = the block, then the non-local block
            layers.append(release_nonlocal(planes * 4))
    return nn.Sequential(*layers)


class SlowFastRelease(nn.Module):
    """r1c7's two-pathway SlowFast, with the release's parts; one (N, C, T, H, W) clip in, logits out."""

    def __init__(self, num_classes, depths=(3, 4, 6, 3), width=64, alpha=8, beta=8, fast_stride=2,
                 parts: ReleaseParts | None = None, non_local=False, fast_stem="plain", dropout=0.5,
                 num_frames=64, in_channels=3):
        super().__init__()
        self.alpha, self.fast_stride = alpha, fast_stride
        act, down = parts.act, parts.down
        wf = max(1, width // beta)
        self.slow_stem = nn.Sequential(down(in_channels, width, (1, 7, 7), (1, 2, 2), (0, 3, 3)),
                                       nn.BatchNorm3d(width), act(), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        if fast_stem == "t+o":                       # release:81-92, always a strided conv and ReLU
            mid = max(1, 5 * wf // 8)
            self.fast_stem = nn.Sequential(
                nn.Conv3d(in_channels, mid, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), nn.BatchNorm3d(mid),
                nn.ReLU(inplace=True), nn.Conv3d(mid, wf, (5, 1, 1), 1, (2, 0, 0), bias=False), nn.BatchNorm3d(wf),
                nn.ReLU(inplace=True), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        else:
            self.fast_stem = nn.Sequential(down(in_channels, wf, (5, 7, 7), (1, 2, 2), (2, 3, 3)),
                                           nn.BatchNorm3d(wf), act(), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        k_slow, k_fast = (1, 1, 3, 3), (3, 3, 3, 3)      # head_conv: r1c7:80-87 (slow), :62-68 (fast)
        t_fast = -(-num_frames // fast_stride)
        t_slow = -(-t_fast // alpha)
        self.slow, self.fast, self.laterals = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c_slow, c_fast = width, wf
        for i, n in enumerate(depths):
            nl = tuple(j for j in RELEASE_NONLOCAL_BLOCKS if j < n) if (non_local and i == 1) else ()
            self.laterals.append(down(c_fast, 2 * c_fast, (5, 1, 1), (alpha, 1, 1), (2, 0, 0)))
            stride = 1 if i == 0 else 2
            self.slow.append(_stage(c_slow + 2 * c_fast, width * 2 ** i, n, k_slow[i], stride, parts, t_slow, nl))
            self.fast.append(_stage(c_fast, wf * 2 ** i, n, k_fast[i], stride, parts, t_fast, nl))
            c_slow, c_fast = width * 2 ** i * 4, wf * 2 ** i * 4
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_slow + c_fast, num_classes, bias=False)
        self.feature_dim = c_slow + c_fast

    def forward(self, x):
        fast = self.fast_stem(x[:, :, ::self.fast_stride])
        slow = self.slow_stem(x[:, :, ::self.fast_stride * self.alpha])
        for lateral, slow_stage, fast_stage in zip(self.laterals, self.slow, self.fast):
            slow = slow_stage(torch.cat([slow, lateral(fast)], 1))
            fast = fast_stage(fast)
        return self.fc(self.dropout(torch.cat([slow.mean((2, 3, 4)), fast.mean((2, 3, 4))], 1)))


#: The release's head dropout: ``SlowFast(..., dropout=0.6)`` (release:76; ``libb/slowfast_c3dattention.py``:77),
#: never overridden by a release script (r1c7's is 0.5, r1c7:55).
RELEASE_DROPOUT = 0.6

#: The released final network ("SlowFast with ELU, POOL, and 2+1D with k=3"; release file defaults,
#: as ``trainrgb.py``/``traindiff.py`` build it: ``slowfastnet.resnet50(class_num=101)``).
RELEASE_FINAL = {"activation": "elu", "downsample": "pool", "conv_a": "t+s", "dropout": RELEASE_DROPOUT}

RELEASE_OPTIONS = {
    "activation": Option("relu", choices=("relu", "elu"), help="elu: the release's ELU (release:37,101,140)"),
    "downsample": Option("stride", choices=tuple(DOWNSAMPLERS), help="pool: stride-1 conv + max-pool of the conv's "
                                                                     "kernel/stride/padding at every strided conv"),
    "conv_a": Option("t", choices=CONV_A, help="conv a branches: t (kx1x1), s (1xkxk, summed before BN), "
                                               "st (kxkxk, own BN+act, added after; the release's commented branch)"),
    "st_attention": Option(False, kind=bool, help="non-local block after the st branch's kxkxk conv (release:27)"),
    "non_local": Option(False, kind=bool, help="non-local blocks after res3 blocks 0 and 2 of both pathways"),
    "fast_stem": Option("plain", choices=("plain", "t+o"), help="t+o: 1x7x7 then 5x1x1 fast stem (release:81-92)"),
    "temporal_module": Option("none", choices=("none", "tam"), help="tam: TAM after conv a (no release counterpart)"),
    "width": Option(64, kind=int, ge=1, help="slow stem width (64); stages are 4x,8x,16x,32x"),
    "depths": Option(None, kind=(tuple, type(None)), ge=1, length=4, help="blocks per stage, e.g. [1,1,1,1]"),
    "alpha": Option(8, kind=int, ge=1, help="slow pathway: every alpha-th fast frame; lateral temporal stride (8)"),
    "beta": Option(8, kind=int, ge=1, help="fast pathway has width/beta channels (8)"),
    "fast_stride": Option(2, kind=int, ge=1, help="fast pathway: every fast_stride-th clip frame (2)"),
    "dropout": Option(0.5, kind=float, ge=0, lt=1, help="0.5 as r1c7 (:55); the release file's is 0.6 (release:76)"),
    "num_frames": Option(64, kind=int, ge=1, help="clip frames (sizes TAM only)"),
}


def _check(name: str, o: dict) -> None:
    if o["st_attention"] and "st" not in o["conv_a"].split("+"):
        raise ModelOptionError(f"{name}: option st_attention=true needs the st branch; use conv_a=t+st or t+s+st")


def _build(num_classes, depth, activation, downsample, conv_a, st_attention, non_local, fast_stem, temporal_module,
           width, depths, alpha, beta, fast_stride, dropout, num_frames):
    act = activation_part(activation)
    tmod = (lambda c, t: TAM(c, t)) if temporal_module == "tam" else None
    parts = ReleaseParts(conv_a_builder(conv_a, act, st_attention), act, DOWNSAMPLERS[downsample], tmod)
    return SlowFastRelease(num_classes, depths or {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}[depth], width, alpha, beta,
                           fast_stride, parts, non_local, fast_stem, dropout, num_frames)


@register_model("slowfast", 64, RELEASE_OPTIONS, check=_check)
def slowfast_release_r50(num_classes=101, **opts):
    """SlowFast R50 as released: r1c7/SlowFastNetworks, with the DeepBlue release's modifications as options."""
    return _build(num_classes, 50, **opts)


@register_model("slowfast", 64, RELEASE_OPTIONS, check=_check)
def slowfast_release_r101(num_classes=101, **opts):
    """SlowFast R101 as released: r1c7/SlowFastNetworks, with the DeepBlue release's modifications as options."""
    return _build(num_classes, 101, **opts)
