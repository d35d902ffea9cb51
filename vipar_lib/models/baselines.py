"""The 3D networks the report compared SlowFast against (III.B): R3D-18, R(2+1)D-18, MFNet-3D.

* ``r3d_18`` / ``r2plus1d_18`` follow torchvision's ``models/video/resnet.py`` (VideoResNet with
  BasicBlock; R3D's ``3x7x7`` stem, R(2+1)D's factorised ``1x7x7``/``3x1x1`` stem with 45 mid
  channels; torchvision's (2+1)D mid-channel count, computed once per block from its input and
  output widths). Parameter counts match torchvision's at the same class count.
* ``mfnet_3d`` follows the Multi-Fiber Network (Chen et al. 2018, cypw/PyTorch-MFNet
  ``network/mfnet_3d.py`` at 4d0f5a9, which the release copies as xdw1995/123 ``libb/MFnet.py``):
  16 fibres (groups), multiplexer 1x1x1 convs, pre-activation BN-ReLU-conv units, stages of
  3/4/6/3 units at widths 96/192/384/768. The first unit of a stage has a dense ``1x1x1`` second
  conv (``mfnet_3d.py``:44, no ``g``) and a dense ``1x1x1`` adapter on the shortcut (:49); the
  others a grouped ``1x3x3``. 7,766,437 parameters at 101 classes, as the anchor. The anchor's
  global pool is a fixed ``AvgPool3d((8, 7, 7))`` (:140) that needs 16x224x224 clips; here it is
  adaptive so any clip size works (same parameters). ``init``: ``kaiming`` (default, the text
  reading: torchvision's Kaiming-normal convs) or ``pytorch`` — PyTorch's own layer defaults, as
  the release runs it: ``libb/MFnet.py`` comments out both the initializer import (:10-13) and its
  call (``# initializer.xavier(net=self)``, :148; cypw's Xavier-uniform), so nothing re-initialises
  the layers. ``mfnet_3d_release`` is MFNet under the release reading: ``init=pytorch``.
* ``r2plus1d_34_release`` is the release's R(2+1)D (xdw1995/123 ``libb/R2_1D.py`` ``model_r3d``
  :930-942 with ``ResNet_R3D`` :716-857 and ``libb/resnet_r3d_utils.py``): ResNet-34 depth
  (3/4/6/3 basic blocks), every 3x3x3 conv factorised as ``1x3x3`` -> BN -> ReLU -> ``3x1x1`` with
  the mid-channel count computed per conv (``resnet_r3d_utils.py``:58-60, unlike torchvision's once
  per block), BatchNorm eps 1e-3, stages 2-4 strided by 2 in time as well as space (:543-547), a
  ``1x7x7``(45)/``3x1x1`` stem without pooling, dropout 0.8 and a linear layer. Its BatchNorm is
  **frozen** (``ResNet_R3D.train`` :847-855 keeps every BN in eval mode with ``requires_grad=False``;
  ``bn_eval=True, bn_frozen=True`` are the defaults :728-729 that ``model_r3d`` keeps): trained
  from scratch, each BN stays at its initial identity (running mean 0, variance 1, weight 1,
  bias 0). ``frozen_bn=False`` trains them. The commented ``model_r3d(101, depth=50)`` calls of the
  training scripts (e.g. ``trainrgb.py``) would crash: a depth-50 trunk ends in 2048 channels and
  ``fc_cls`` is ``Linear(512, ...)`` (:937).
"""
from __future__ import annotations

import torch.nn as nn

from .blocks import activation, init_conv_weights, mid_channels
from .blocks import activation as activation_part  # the option named `activation` shadows the builder
from .registry import ModelOptionError, Option, register_model

__all__ = ["VideoResNet", "r3d_18", "r2plus1d_18", "r2plus1d_34_release", "MFNet3D", "mfnet_3d", "mfnet_3d_release",
           "MFNET_INITS"]


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
    "width": Option(64, kind=int, ge=1, help="stem/res2 width (64)"),
    "depths": Option(None, kind=(tuple, type(None)), ge=1, length=4, help="blocks per stage, e.g. [1,1,1,1]"),
    "dropout": Option(0.0, kind=float, ge=0, lt=1),
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
        # the first unit's second conv is dense (cypw mfnet_3d.py:44), the others grouped 1x3x3 (:46)
        self.m2 = (_BnActConv(mid, cout, (1, 1, 1), act=act) if first
                   else _BnActConv(mid, cout, (1, 3, 3), groups=groups, act=act))
        self.w1 = _BnActConv(cin, cout, (1, 1, 1), stride, act=act) if first else None

    def forward(self, x):
        h = self.m2(self.m1(x + self.i2(self.i1(x))))
        return h + (self.w1(x) if self.w1 is not None else x)


MFNET_INITS = ("kaiming", "pytorch")


class MFNet3D(nn.Module):
    def __init__(self, num_classes, width=96, depths=(3, 4, 6, 3), groups=16, stem=16, act=None, dropout=0.0,
                 init="kaiming"):
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
        if init == "kaiming":
            init_conv_weights(self)
        elif init != "pytorch":                  # pytorch: each layer keeps its own default (libb/MFnet.py:148)
            raise ValueError(f"init={init!r}; allowed: {list(MFNET_INITS)}")

    def forward(self, x):
        return self.fc(self.dropout(self.tail(self.units(self.stem(x))).mean((2, 3, 4))))


def _check_mfnet(name: str, o: dict) -> None:
    if o["width"] % o["groups"]:
        raise ModelOptionError(f"{name}: option width={o['width']} must be a multiple of groups={o['groups']}")


def _mfnet_options(init: str) -> dict:
    return {**BASE_OPTIONS, "width": Option(96, kind=int, ge=1),
            "groups": Option(16, kind=int, ge=1, help="fibres (16)"),
            "init": Option(init, choices=MFNET_INITS, help="kaiming: Kaiming-normal convs (torchvision); pytorch: "
                                                           "PyTorch's layer defaults, as released (libb/MFnet.py:148)")}


def _mfnet(num_classes, width, depths, dropout, activation, groups, init):
    stem = groups * max(1, round(16 * width / 96 / groups))     # 16 at the paper width, a multiple of groups
    return MFNet3D(num_classes, width, depths or (3, 4, 6, 3), groups, stem, activation_part(activation),
                   dropout, init)


@register_model("mfnet", 16, _mfnet_options("kaiming"), check=_check_mfnet)
def mfnet_3d(num_classes=101, width=96, depths=None, dropout=0.0, activation="relu", groups=16, init="kaiming"):
    """MFNet-3D (Chen et al. 2018), 16 fibres."""
    return _mfnet(num_classes, width, depths, dropout, activation, groups, init)


@register_model("mfnet", 16, _mfnet_options("pytorch"), check=_check_mfnet)
def mfnet_3d_release(num_classes=101, width=96, depths=None, dropout=0.0, activation="relu", groups=16,
                     init="pytorch"):
    """MFNet-3D as released (xdw1995/123 libb/MFnet.py): the same network, PyTorch's default initialisation."""
    return _mfnet(num_classes, width, depths, dropout, activation, groups, init)


class _R3DConv2Plus1D(nn.Sequential):
    """The release's factorised conv (``add_conv3d(..., block_type='2.5d')``, ``resnet_r3d_utils.py``:57-67).

    ``1x3x3`` (spatial stride) -> BN(eps 1e-3) -> ReLU -> ``3x1x1`` (temporal stride); the mid
    width ``int(3*cin*cout*9 / (9*cin + 3*cout))`` is computed for each conv from its own in/out widths.
    """

    def __init__(self, cin, cout, stride):
        mid = int(3 * cin * cout * 9 / (cin * 9 + 3 * cout))
        super().__init__(nn.Conv3d(cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
                         nn.BatchNorm3d(mid, eps=1e-3), nn.ReLU(),
                         nn.Conv3d(mid, cout, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False))


class _R3DBasicBlock(nn.Module):
    """``libb/R2_1D.py`` ``BasicBlock`` (:516-593): two factorised convs; a 1x1x1 conv + BN shortcut if needed."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Sequential(_R3DConv2Plus1D(cin, cout, stride), nn.BatchNorm3d(cout, eps=1e-3), nn.ReLU())
        self.conv2 = nn.Sequential(_R3DConv2Plus1D(cout, cout, 1), nn.BatchNorm3d(cout, eps=1e-3))
        self.shortcut = None
        if cin != cout or stride > 1:
            self.shortcut = nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False), nn.BatchNorm3d(cout, eps=1e-3))
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.conv2(self.conv1(x))
        return self.act(y + (x if self.shortcut is None else self.shortcut(x)))


class R2Plus1DRelease(nn.Module):
    """The release's ``model_r3d``: ``ResNet_R3D`` (depth 34, '2.5d'), adaptive average pool, dropout, linear."""

    def __init__(self, num_classes, width=64, depths=(3, 4, 6, 3), dropout=0.8, frozen_bn=True):
        super().__init__()
        stem_mid = max(1, width * 45 // 64)
        self.stem = nn.Sequential(
            nn.Conv3d(3, stem_mid, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), nn.BatchNorm3d(stem_mid, eps=1e-3),
            nn.ReLU(), nn.Conv3d(stem_mid, width, (3, 1, 1), 1, (1, 0, 0), bias=False),
            nn.BatchNorm3d(width, eps=1e-3), nn.ReLU())
        layers, cin = [], width
        for i, n in enumerate(depths):
            cout = width * 2 ** i
            for j in range(n):
                layers.append(_R3DBasicBlock(cin, cout, 2 if (i > 0 and j == 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        self.feature_dim = cin
        self.frozen_bn = frozen_bn
        for m in self.modules():                     # ResNet_R3D.init_weights (:840-845); fc keeps the default
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
                if frozen_bn:
                    m.weight.requires_grad_(False)
                    m.bias.requires_grad_(False)

    def train(self, mode: bool = True):
        """As ``ResNet_R3D.train`` (:847-855): with ``frozen_bn`` every BN stays in eval mode."""
        super().train(mode)
        if self.frozen_bn:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm3d):
                    m.eval()
        return self

    def forward(self, x):
        return self.fc(self.dropout(self.layers(self.stem(x)).mean((2, 3, 4))))


@register_model("3d-resnet", 16, {
    "width": Option(64, kind=int, ge=1, help="stem/res2 width (64)"),
    "depths": Option(None, kind=(tuple, type(None)), ge=1, length=4, help="basic blocks per stage (3,4,6,3)"),
    "dropout": Option(0.8, kind=float, ge=0, lt=1, help="0.8 as released (model_r3d, R2_1D.py:931)"),
    "frozen_bn": Option(True, kind=bool, help="BN frozen at its initial identity, as released (R2_1D.py:847-855)"),
})
def r2plus1d_34_release(num_classes=101, width=64, depths=None, dropout=0.8, frozen_bn=True):
    """R(2+1)D-34 as the DeepBlue release built it (libb/R2_1D.py model_r3d; frozen BatchNorm)."""
    return R2Plus1DRelease(num_classes, width, depths or (3, 4, 6, 3), dropout, frozen_bn)
