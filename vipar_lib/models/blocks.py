"""Parts that blocks are built from: conv builders, activations, attention and temporal modules.

A Table-1 ablation of the DeepBlue report is a *choice of part* handed to a block, not a branch in
``forward`` (the style of torchvision's ``models/video/resnet.py`` and pytorchvideo's builders).

Conv builders (the 3x3 "conv b" of a bottleneck) — ``CONV_BUILDERS``:

* ``"3d"``: ``1xkxk`` spatial convolution — PySlowFast's bottleneck, where temporal modelling
  lives in the ``kx1x1`` "conv a".
* ``"2plus1d"``: Table 1 "+2plus1D" and Fig. 2: a spatial ``1x3x3`` conv, BN, activation, then a
  temporal ``3x1x1`` conv, with torchvision's mid-channel formula
  ``mid = t*d*d*in*out // (d*d*in + t*out)`` so the pair has the parameters of a ``3x3x3`` conv.
* ``"tri"``: Table 1 "(3*3+3*1+1*3)", reading **A** (default): the text's "one kxkxk kernel can be
  separated into three parts, kx1x1, 1xkxk and k*k*k" — three parallel branches ``3x3x3``,
  ``3x1x1`` and ``1x3x3``, each with its own BN, summed.
* ``"acnet"``: reading **B**: ACNet's asymmetric convolution block (Ding et al. 2019) on the
  spatial kernel — ``1x3x3 + 1x3x1 + 1x1x3`` branches, each with BN, summed. The row's name
  ("3*3 + 3*1 + 1*3") fits this reading literally.

  **One more BN than ACNet.** A bottleneck puts its own BN after conv b (PySlowFast's
  ``BottleneckTransform``), and ``tri``/``acnet`` keep it: the summed, individually normalised
  branches pass through that BN before the activation. ACNet's block has no BN after the sum
  (``act(bn_a(conv_a x) + bn_b(conv_b x) + bn_c(conv_c x))``), so ``acnet`` here is ACNet's
  branch structure inside a PySlowFast bottleneck, not ACNet's block verbatim.

Other parts: :class:`NonLocal` (PySlowFast's embedded-Gaussian "softmax" instantiation, or the
DeepBlue release's AlexHex7 variant), :class:`SqueezeExcite` (SE, r=16), :class:`STAttention`
(CBAM-style channel then spatio-temporal attention; the paper names "spatio-temporal attention"
only), :class:`TAM` (TANet's temporal adaptive module), :class:`ConvPlusBranches` and
:class:`LayersPlusBranch` (parallel branches summed, the main path keeping its parameter names) and
the downsampling convolutions ``DOWNSAMPLERS`` (a strided conv, or the release's "POOL": a stride-1
conv followed by a max-pool of the conv's kernel, stride and padding, :class:`ConvThenPool`).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["init_conv_weights", "ACTIVATIONS", "CONV_BUILDERS", "ATTENTIONS", "DOWNSAMPLERS", "activation", "conv_b",
           "Conv2Plus1D", "BranchSum", "ConvPlusBranches", "LayersPlusBranch", "NonLocal", "SqueezeExcite",
           "STAttention", "TAM", "ConvBuilder", "strided_conv", "conv_then_pool", "ConvThenPool"]

ConvBuilder = Callable[..., nn.Module]
ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "elu": lambda: nn.ELU(inplace=True)}


def init_conv_weights(model: nn.Module) -> None:
    """Kaiming-normal (fan-out) init of every 2D/3D conv, as torchvision's ResNets do."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def activation(name: str) -> Callable[[], nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r}; allowed: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _conv(cin, cout, k, stride=(1, 1, 1), groups=1):
    return nn.Conv3d(cin, cout, k, stride, tuple(x // 2 for x in k), groups=groups, bias=False)


def mid_channels(cin: int, cout: int, t: int = 3, d: int = 3) -> int:
    """torchvision's (2+1)D mid-channel formula (same parameters as a full txdxd conv)."""
    return (t * d * d * cin * cout) // (d * d * cin + t * cout)


class Conv2Plus1D(nn.Sequential):
    """Spatial ``1xdxd`` conv -> BN -> act -> temporal ``tx1x1`` conv (R(2+1)D, Tran et al. 2018)."""

    def __init__(self, cin, cout, stride=(1, 1, 1), act=ACTIVATIONS["relu"], t=3, d=3, mid=None):
        mid = mid or mid_channels(cin, cout, t, d)
        super().__init__(
            nn.Conv3d(cin, mid, (1, d, d), (1, stride[1], stride[2]), (0, d // 2, d // 2), bias=False),
            nn.BatchNorm3d(mid), act(),
            nn.Conv3d(mid, cout, (t, 1, 1), (stride[0], 1, 1), (t // 2, 0, 0), bias=False))


class BranchSum(nn.Module):
    """Parallel conv+BN branches of different kernels, summed (the ``tri``/``acnet`` parts)."""

    def __init__(self, cin, cout, kernels, stride=(1, 1, 1)):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(_conv(cin, cout, k, stride), nn.BatchNorm3d(cout)) for k in kernels)

    def forward(self, x):
        out = self.branches[0](x)
        for b in self.branches[1:]:
            out = out + b(x)
        return out


class ConvPlusBranches(nn.Conv3d):
    """A conv whose output is summed with parallel branches on the same input (no normalisation of its own).

    The conv itself keeps a plain conv's parameter name, so a network warm-started from the one-branch
    version (Table 1's base) loads it, and only the added branches start fresh::

        x ─┬─> this conv ───┐
           └─> branches[i] ─┴─(+)─> y
    """

    def __init__(self, cin: int, cout: int, kernel, padding, branches: list[nn.Module]):
        super().__init__(cin, cout, kernel, 1, padding, bias=False)
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        for b in self.branches:
            out = out + b(x)
        return out


class LayersPlusBranch(nn.Module):
    """Layers applied in sequence, plus one parallel branch on the same input, summed.

    The layers are named ``0``, ``1``, ... as in ``nn.Sequential``, so a warm start from the network
    without the branch loads them; the branch starts fresh::

        x ─┬─> 0 ─> 1 ─> ... ─┐
           └─> branch ────────┴─(+)─> y
    """

    def __init__(self, layers: list[nn.Module], branch: nn.Module):
        super().__init__()
        for i, m in enumerate(layers):
            self.add_module(str(i), m)
        self.depth = len(layers)
        self.branch = branch

    def __getitem__(self, i: int) -> nn.Module:
        return self._modules[str(range(self.depth)[i])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for i in range(self.depth):
            y = self._modules[str(i)](y)
        return y + self.branch(x)


def strided_conv(cin: int, cout: int, kernel, stride, padding) -> nn.Module:
    """A bias-free conv that downsamples by its own stride (r1c7/SlowFastNetworks ``lib/slowfastnet.py``)."""
    return nn.Conv3d(cin, cout, kernel, stride, padding, bias=False)


class ConvThenPool(nn.Conv3d):
    """The DeepBlue release's "POOL": a stride-1 conv, then a max-pool with the conv's kernel, stride and padding.

    xdw1995/123 ``libb/slowfastnet.py``:31-33 (conv b), :98-99 (fast stem), :128-135 (laterals),
    :137-138 (slow stem), :238-246 and :257-265 (shortcuts: a kernel-1 max-pool, which subsamples
    exactly as the strided 1x1 conv it replaces). The pool is there at stride 1 too (every conv b
    of the release has its ``1x3x3`` max-pool, so a stride-1 block max-filters its features).

    A conv subclass rather than ``Sequential(conv, pool)``: the pool has no parameters, so the weight
    keeps the strided conv's name and shape, and a model warm-started across ``downsample`` loads
    every conv (Table 1's ELU+POOL row starts from the base model's weights, as the paper's protocol says)::

        x ──► conv k, stride 1 ──► max-pool k, stride s ──►
    """

    def __init__(self, cin: int, cout: int, kernel, stride, padding):
        super().__init__(cin, cout, kernel, 1, padding, bias=False)
        self.pool = nn.MaxPool3d(kernel, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(super().forward(x))


def conv_then_pool(cin: int, cout: int, kernel, stride, padding) -> nn.Module:
    """Builder of :class:`ConvThenPool` (the same signature as :func:`strided_conv`)."""
    return ConvThenPool(cin, cout, kernel, stride, padding)


DOWNSAMPLERS = {"stride": strided_conv, "pool": conv_then_pool}


def conv_b(kind: str) -> ConvBuilder:
    """Builder ``(cin, cout, stride, act, groups) -> Module`` for a bottleneck's spatial conv."""
    if kind == "3d":
        return lambda cin, cout, stride, act, groups=1: _conv(cin, cout, (1, 3, 3), stride, groups)
    if kind == "2plus1d":
        return lambda cin, cout, stride, act, groups=1: Conv2Plus1D(cin, cout, stride, act)
    if kind == "tri":
        return lambda cin, cout, stride, act, groups=1: BranchSum(cin, cout, [(3, 3, 3), (3, 1, 1), (1, 3, 3)], stride)
    if kind == "acnet":
        return lambda cin, cout, stride, act, groups=1: BranchSum(cin, cout, [(1, 3, 3), (1, 3, 1), (1, 1, 3)], stride)
    raise ValueError(f"conv={kind!r}; allowed: {CONV_BUILDERS}")


CONV_BUILDERS = ("3d", "2plus1d", "tri", "acnet")


class NonLocal(nn.Module):
    """Non-local block (Wang et al. 2018), embedded-Gaussian ("softmax") instantiation.

    theta/phi/g are 1x1x1 convs (with bias) to ``dim/2`` channels, the affinity is softmax-normalised,
    the output conv (with bias) + BN is added to the input; the BN's weight (and bias) start at
    zero, so an inserted block starts as the identity. Keys and values are max-pooled by
    ``pool`` (kernel = stride), rounding down as PySlowFast's ``nn.MaxPool3d`` does (facebookresearch/
    SlowFast ``slowfast/models/nonlocal_helper.py``, ``Nonlocal._construct_nonlocal``): a 7x7 map
    pools to 3x3.

    Two instantiations differ in two details (not in parameters):

    * PySlowFast (``scaled=True, pool_first=True``, the default): the input is pooled before the
      phi/g convs and the affinity is scaled by ``dim_inner**-0.5`` before the softmax;
    * the DeepBlue release (``scaled=False, pool_first=False``): AlexHex7's block, xdw1995/123
      ``libb/non_local.py``:8-87 — phi/g are pooled after their convs (:61-62) and the affinity is not
      scaled (:78-79).
    """

    def __init__(self, dim: int, pool=(1, 2, 2), scaled: bool = True, pool_first: bool = True):
        super().__init__()
        inner = max(1, dim // 2)
        self.theta, self.phi, self.g = (nn.Conv3d(dim, inner, 1) for _ in range(3))
        self.pool = nn.MaxPool3d(pool, pool) if pool else nn.Identity()
        self.pool_first = pool_first
        self.out = nn.Conv3d(inner, dim, 1)
        self.bn = nn.BatchNorm3d(dim)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        self.scale = inner ** -0.5 if scaled else 1.0

    def forward(self, x):
        n, _, t, h, w = x.shape
        q = self.theta(x).flatten(2)                       # N, Ci, THW
        if self.pool_first:
            pooled = self.pool(x)
            k, v = self.phi(pooled).flatten(2), self.g(pooled).flatten(2)    # N, Ci, T'H'W'
        else:
            k, v = self.pool(self.phi(x)).flatten(2), self.pool(self.g(x)).flatten(2)
        att = torch.softmax(torch.einsum("nci,ncj->nij", q, k) * self.scale, dim=-1)
        y = torch.einsum("nij,ncj->nci", att, v).reshape(n, -1, t, h, w)
        return x + self.bn(self.out(y))


class SqueezeExcite(nn.Module):
    """SE (Hu et al. 2018) on 3D features, reduction 16, applied to a block's residual branch."""

    def __init__(self, dim: int, reduction: int = 16, act=ACTIVATIONS["relu"]):
        super().__init__()
        hidden = max(4, dim // reduction)
        self.fc = nn.Sequential(nn.Conv3d(dim, hidden, 1), act(), nn.Conv3d(hidden, dim, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x.mean((2, 3, 4), keepdim=True))


class STAttention(nn.Module):
    """Spatio-temporal attention (CBAM, Woo et al. 2018, extended to 3D).

    Channel attention (shared MLP on avg- and max-pooled features) followed by a
    spatio-temporal map from a ``3x7x7`` conv over the channel-wise mean and max. The paper says
    only "add spatio-temporal attention to 3D convolution"; CBAM-3D is our reading.
    """

    def __init__(self, dim: int, reduction: int = 16, act=ACTIVATIONS["relu"]):
        super().__init__()
        hidden = max(4, dim // reduction)
        self.mlp = nn.Sequential(nn.Conv3d(dim, hidden, 1), act(), nn.Conv3d(hidden, dim, 1))
        self.spatial = nn.Sequential(nn.Conv3d(2, 1, (3, 7, 7), padding=(1, 3, 3), bias=False),
                                     nn.BatchNorm3d(1))

    def forward(self, x):
        ca = torch.sigmoid(self.mlp(x.mean((2, 3, 4), keepdim=True)) + self.mlp(x.amax((2, 3, 4), keepdim=True)))
        x = x * ca
        sa = torch.sigmoid(self.spatial(torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)))
        return x * sa


ATTENTIONS = {"none": None, "se": SqueezeExcite, "st": STAttention}


class TAM(nn.Module):
    """Temporal adaptive module (TANet, Liu et al. 2021; liu-zhy/temporal-adaptive-module).

    On (N, C, T, H, W): spatially pooled features (N, C, T) feed a *local* branch (temporal conv,
    sigmoid) that re-weights frames, and a *global* branch (MLP over the T positions, softmax)
    that predicts a per-channel temporal kernel of size ``kernel``, applied as a depthwise
    temporal convolution. The global branch is an MLP over ``n_segment`` positions, so a clip of
    another length (e.g. the concatenated normal+reverse test view) is linearly resampled to
    ``n_segment`` positions for that branch only.
    """

    def __init__(self, dim: int, n_segment: int, kernel: int = 3, alpha: int = 2, beta: int = 4):
        super().__init__()
        self.n_segment, self.kernel = n_segment, kernel
        self.G = nn.Sequential(nn.Linear(n_segment, n_segment * alpha, bias=False),
                               nn.BatchNorm1d(n_segment * alpha), nn.ReLU(inplace=True),
                               nn.Linear(n_segment * alpha, kernel, bias=False), nn.Softmax(-1))
        hid = max(1, dim // beta)
        self.L = nn.Sequential(nn.Conv1d(dim, hid, kernel, padding=kernel // 2, bias=False),
                               nn.BatchNorm1d(hid), nn.ReLU(inplace=True),
                               nn.Conv1d(hid, dim, 1, bias=False), nn.Sigmoid())

    def forward(self, x):
        n, c, t, h, w = x.shape
        pooled = x.mean((3, 4))                                               # N, C, T
        g_in = pooled if t == self.n_segment else F.interpolate(pooled, size=self.n_segment, mode="linear")
        kern = self.G(g_in.reshape(n * c, self.n_segment)).view(n * c, 1, self.kernel, 1)
        y = x * self.L(pooled).view(n, c, t, 1, 1)
        y = F.conv2d(y.reshape(1, n * c, t, h * w), kern, padding=(self.kernel // 2, 0), groups=n * c)
        return y.view(n, c, t, h, w)
