"""The 3D networks the report compared SlowFast against (III.B): R3D-18, R(2+1)D-18, MFNet-3D.

* ``r3d_18`` / ``r2plus1d_18`` follow torchvision's ``models/video/resnet.py`` (VideoResNet with
  BasicBlock; R3D's ``3x7x7`` stem, R(2+1)D's factorised ``1x7x7``/``3x1x1`` stem with 45 mid
  channels; torchvision's (2+1)D mid-channel count, computed once per block from its input and
  output widths). Parameter counts match torchvision's at the same class count.
* ``mfnet_3d`` follows the Multi-Fiber Network (Chen et al. 2018, cypw/PyTorch-MFNet): 16 fibres
  (groups), multiplexer 1x1x1 convs, pre-activation BN-ReLU-conv units, stages of 3/4/6/3
  units at widths 96/192/384/768; the global pool is adaptive so any clip size works.
"""
from __future__ import annotations

import torch.nn as nn

from .blocks import activation, init_conv_weights, mid_channels
from .blocks import activation as activation_part  # the option named `activation` shadows the builder
from .registry import Option, register_model

__all__ = ["VideoResNet", "r3d_18", "r2plus1d_18", "MFNet3D", "mfnet_3d"]


def _conv3d_simple(cin, cout, mid, stride, act):
    return nn.Conv3d(cin, cout, 3, stride, 1, bias=False)


def _conv2plus1d(cin, cout, mid, stride, act):
    return nn.Sequential(nn.Conv3d(cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
                         nn.BatchNorm3d(mid), act(),
                         nn.Conv3d(mid, cout, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False))


class BasicBlock3d(nn.Module):
    def __init__(self, cin, planes, stride, conv_builder, act):
        super().__init__()
        mid = mid_channels(cin, planes)
        self.conv1 = nn.Sequential(conv_builder(cin, planes, mid, stride, act), nn.BatchNorm3d(planes), act())
        self.conv2 = nn.Sequential(conv_builder(planes, planes, mid, 1, act), nn.BatchNorm3d(planes))
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv3d(cin, planes, 1, stride, bias=False), nn.BatchNorm3d(planes))
        self.act = act()

    def forward(self, x):
        y = self.conv2(self.conv1(x))
        return self.act(y + (x if self.downsample is None else self.downsample(x)))


class VideoResNet(nn.Module):
    def __init__(self, num_classes, stem: nn.Module, conv_builder, depths=(2, 2, 2, 2), width=64, act=None,
                 dropout=0.0):
        super().__init__()
        act = act or activation("relu")
        self.stem = stem
        layers, cin = [], width
        for i, n in enumerate(depths):
            planes = width * 2 ** i
            for j in range(n):
                layers.append(BasicBlock3d(cin, planes, (1 if i == 0 else 2) if j == 0 else 1, conv_builder, act))
                cin = planes
        self.layers = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        self.feature_dim = cin
        init_conv_weights(self)

    def forward(self, x):
        return self.fc(self.dropout(self.layers(self.stem(x)).mean((2, 3, 4))))


BASE_OPTIONS = {
    "width": Option(64, kind=int),
    "depths": Option(None, kind=(tuple, type(None))),
    "dropout": Option(0.0, kind=float),
    "activation": Option("relu", choices=("relu", "elu")),
}


@register_model("3d-resnet", 16, BASE_OPTIONS)
def r3d_18(num_classes=101, width=64, depths=None, dropout=0.0, activation="relu"):
    """R3D-18 (Tran et al. 2018; torchvision structure)."""
    act = activation_part(activation)
    stem = nn.Sequential(nn.Conv3d(3, width, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), nn.BatchNorm3d(width), act())
    return VideoResNet(num_classes, stem, _conv3d_simple, depths or (2, 2, 2, 2), width, act, dropout)


@register_model("3d-resnet", 16, BASE_OPTIONS)
def r2plus1d_18(num_classes=101, width=64, depths=None, dropout=0.0, activation="relu"):
    """R(2+1)D-18 (Tran et al. 2018; torchvision structure)."""
    act = activation_part(activation)
    mid = max(1, width * 45 // 64)
    stem = nn.Sequential(nn.Conv3d(3, mid, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), nn.BatchNorm3d(mid), act(),
                         nn.Conv3d(mid, width, (3, 1, 1), 1, (1, 0, 0), bias=False), nn.BatchNorm3d(width), act())
    return VideoResNet(num_classes, stem, _conv2plus1d, depths or (2, 2, 2, 2), width, act, dropout)


class _BnActConv(nn.Sequential):
    """MFNet's pre-activation unit: BN -> act -> conv."""

    def __init__(self, cin, cout, k, stride=(1, 1, 1), groups=1, act=None):
        pad = tuple(x // 2 for x in k)
        super().__init__(nn.BatchNorm3d(cin), act(), nn.Conv3d(cin, cout, k, stride, pad, groups=groups, bias=False))


class MFUnit(nn.Module):
    """Multi-fibre unit: a 1x1x1 multiplexer, then grouped 3x3x3 and 1x3x3 fibre convs."""

    def __init__(self, cin, mid, cout, stride, groups, first, act):
        super().__init__()
        ix = max(1, mid // 4)
        self.i1 = _BnActConv(cin, ix, (1, 1, 1), act=act)
        self.i2 = _BnActConv(ix, cin, (1, 1, 1), act=act)
        self.m1 = _BnActConv(cin, mid, (3, 3, 3), stride, groups, act)
        self.m2 = _BnActConv(mid, cout, (1, 1, 1) if first else (1, 3, 3), groups=groups, act=act)
        self.w1 = _BnActConv(cin, cout, (1, 1, 1), stride, act=act) if first else None

    def forward(self, x):
        h = self.m2(self.m1(x + self.i2(self.i1(x))))
        return h + (self.w1(x) if self.w1 is not None else x)


class MFNet3D(nn.Module):
    def __init__(self, num_classes, width=96, depths=(3, 4, 6, 3), groups=16, stem=16, act=None, dropout=0.0):
        super().__init__()
        act = act or activation("relu")
        self.stem = nn.Sequential(nn.Conv3d(3, stem, (3, 5, 5), (1, 2, 2), (1, 2, 2), bias=False),
                                  nn.BatchNorm3d(stem), act(), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        units, cin = [], stem
        for i, n in enumerate(depths):
            c = width * 2 ** i
            for j in range(n):
                stride = ((2, 1, 1) if i == 0 else (1, 2, 2)) if j == 0 else (1, 1, 1)
                units.append(MFUnit(cin, c, c, stride, groups, j == 0, act))
                cin = c
        self.units = nn.Sequential(*units)
        self.tail = nn.Sequential(nn.BatchNorm3d(cin), act())
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        self.feature_dim = cin
        init_conv_weights(self)

    def forward(self, x):
        return self.fc(self.dropout(self.tail(self.units(self.stem(x))).mean((2, 3, 4))))


@register_model("mfnet", 16, {**BASE_OPTIONS, "width": Option(96, kind=int), "groups": Option(16, kind=int)})
def mfnet_3d(num_classes=101, width=96, depths=None, dropout=0.0, activation="relu", groups=16):
    """MFNet-3D (Chen et al. 2018), 16 fibres."""
    if width % groups or groups < 1:
        raise ValueError(f"mfnet_3d: width={width} must be a multiple of groups={groups}")
    stem = groups * max(1, round(16 * width / 96 / groups))     # 16 at the paper width, a multiple of groups
    return MFNet3D(num_classes, width, depths or (3, 4, 6, 3), groups, stem, activation_part(activation),
                   dropout)
