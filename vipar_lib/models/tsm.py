"""TSM: Temporal Shift Module on a 2D ResNet-50/101 (Lin et al. 2019; mit-han-lab/temporal-shift-module).

* The backbone is torchvision's ResNet (v1.5: stride on the 3x3 conv) applied to every frame
  of a (N, C, T, H, W) clip as (N*T, C, H, W); the head is TSN's: dropout, a linear layer per
  frame, then the average over frames ("avg" consensus).
* **Residual shift** ("blockres" in the official code, the paper's "residual TSM"): the input of
  each bottleneck's residual branch is shifted — 1/8 of the channels one frame back, 1/8 one
  frame forward, zero-padded at the ends — before its first conv; the identity path is untouched.
* **R101**: the official code shifts every other block when a stage has >= 23 blocks
  (``n_round = 2``); we do the same (``shift_every`` defaults to 1 for R50, 2 for R101).
* ``shift=False`` is the paper's "no shift" rows: the same 2D ResNet/TSN with no temporal
  modelling. Shifting adds no parameters.
* **Single-frame mode**: with T = 1 (the first stage of the paper's TSM training, "we first used
  single-frame as input"), there are no neighbours to shift to, so the shift is skipped and the
  model is a 2D ResNet; the weights carry over unchanged to the 16-frame fine-tuning.

**As released** (xdw1995/123 ``TSM.py``, the ``TSN`` that ``traintsm.py`` builds as
``TSN(101, 16, modality='RGB', is_shift=True, pretrain=None, base_model='resnet50')``), options
that default to the plain TSM above; :data:`TSM_RELEASE` sets them all:

* ``partial_bn=True`` (``TSN(partial_bn=True)`` default, ``TSM.py``:125): ``TSN.train()``
  (:235-251) puts every ``BatchNorm2d`` but the first (the stem's) in eval mode and freezes its
  weight and bias, in every training epoch. Trained from scratch (``pretrain=None``), those BNs
  keep their initial running statistics and affine (0/1, 1/0): only the stem BN normalises.
* ``zero_init_residual=False``: torchvision's ``resnet50()`` leaves each block's last BN at
  weight 1 (:215); the zero init used here by default would, under ``partial_bn``, freeze every
  residual branch at zero.
* ``dropout=0.8`` (:124) and ``fc_init_std=0.001``: the classifier is N(0, 0.001), bias 0
  (``_prepare_tsn`` :197-199); by default it keeps PyTorch's ``nn.Linear`` initialisation.
* ``frame_layout="release"`` — **a defect of the release, off by default**: ``TSN.forward``
  (:334) reshapes its ``(N, 3, T, H, W)`` clip (``zhongjichuli.py`` ``ToTensor`` returns C x T x H x W)
  with ``input.view(-1, 3, H, W)``. That splits the flat ``(3, T)`` block of each clip into
  consecutive triples, so "frame" k of a clip is channels ``(3k, 3k+1, 3k+2)`` of the
  colour-major sequence ``R0..R(T-1), G0.., B0..``: for T = 16, frame 0 is (R0, R1, R2) and frame
  5 is (R15, G0, G1). Each "frame" is three time steps of (mostly) one colour channel, and the
  shift mixes these pseudo-frames. ``frame_layout="clip"`` (default) is the intended
  ``(N, C, T, H, W) -> (N*T, C, H, W)``. With ``"release"`` the channel count must be 3.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import activation, init_conv_weights
from .registry import ModelOptionError, Option, register_model

__all__ = ["temporal_shift", "TemporalShift", "TSM", "tsm_r50", "tsm_r101", "frames_to_images", "TSM_RELEASE",
           "FRAME_LAYOUTS"]


def temporal_shift(x: torch.Tensor, n_segment: int, fold_div: int = 8) -> torch.Tensor:
    """Shift channels along time on (N*T, C, H, W) input, with the official semantics.

    Channels ``[0, C/fold_div)`` take the *next* frame's values (shift left in time),
    ``[C/fold_div, 2C/fold_div)`` the *previous* frame's (shift right), the rest stay;
    vacated positions are zero.
    """
    nt, c, h, w = x.shape
    if nt % n_segment:
        raise ValueError(f"batch*time {nt} is not a multiple of n_segment={n_segment}")
    x = x.view(nt // n_segment, n_segment, c, h, w)
    fold = c // fold_div
    zeros = x.new_zeros(x.shape[0], 1, fold, h, w)
    left = torch.cat([x[:, 1:, :fold], zeros], 1)
    right = torch.cat([zeros, x[:, :-1, fold:2 * fold]], 1)
    return torch.cat([left, right, x[:, :, 2 * fold:]], 2).view(nt, c, h, w)


class TemporalShift(nn.Module):
    """The shift as a module; the number of frames is set by :class:`TSM` before each forward."""

    def __init__(self, fold_div: int = 8):
        super().__init__()
        self.fold_div, self.n_segment = fold_div, 1

    def forward(self, x):
        return x if self.n_segment == 1 else temporal_shift(x, self.n_segment, self.fold_div)


class Bottleneck2d(nn.Module):
    """torchvision's ResNet bottleneck with a part in front of the residual branch (shift or identity)."""

    def __init__(self, cin, planes, stride, act, shift: nn.Module):
        super().__init__()
        out = planes * 4
        self.shift = shift
        self.conv1, self.bn1 = nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out)
        self.act1, self.act2, self.act3 = act(), act(), act()
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = self.act1(self.bn1(self.conv1(self.shift(x))))
        y = self.act2(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.act3(y + (x if self.downsample is None else self.downsample(x)))


FRAME_LAYOUTS = ("clip", "release")


def frames_to_images(x: torch.Tensor, layout: str = "clip") -> torch.Tensor:
    """(N, C, T, H, W) clip -> (N*T, C, H, W) images, ordered clip by clip.

    ``clip``: image ``n*T + t`` is frame t of clip n. ``release``: the release's
    ``input.view(-1, 3, H, W)`` on the contiguous clip (``TSM.py``:334), which takes consecutive
    triples of the colour-major ``(C, T)`` planes as one image (see the module docstring).
    """
    n, c, t, h, w = x.shape
    if layout == "clip":
        return x.transpose(1, 2).reshape(n * t, c, h, w)
    if layout == "release":
        if c != 3:
            raise ValueError(f"frame_layout='release' needs 3 channels, got {c}")
        return x.contiguous().view(-1, 3, h, w)
    raise ValueError(f"frame_layout={layout!r}; allowed: {list(FRAME_LAYOUTS)}")


class TSM(nn.Module):
    """TSN-style 2D ResNet with residual temporal shift; input (N, C, T, H, W), output logits."""

    def __init__(self, num_classes, depths=(3, 4, 6, 3), width=64, shift=True, shift_every=1, fold_div=8,
                 dropout=0.5, act="relu", in_channels=3, partial_bn=False, zero_init_residual=True,
                 fc_init_std=None, frame_layout="clip"):
        super().__init__()
        self.partial_bn, self.frame_layout = partial_bn, frame_layout
        a = activation(act)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), a(),
                                  nn.MaxPool2d(3, 2, 1))
        self.shifts: list[TemporalShift] = []
        stages, cin = [], width
        for i, n in enumerate(depths):
            blocks = []
            for j in range(n):
                sh = nn.Identity()
                if shift and j % shift_every == 0:
                    sh = TemporalShift(fold_div)
                    self.shifts.append(sh)
                blocks.append(Bottleneck2d(cin, width * 2 ** i, (1 if i == 0 else 2) if j == 0 else 1, a, sh))
                cin = width * 2 ** i * 4
            stages.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        self.feature_dim = cin
        init_conv_weights(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck2d):
                    nn.init.zeros_(m.bn3.weight)
        if fc_init_std is not None:                    # TSM.py:197-199
            nn.init.normal_(self.fc.weight, 0, fc_init_std)
            nn.init.zeros_(self.fc.bias)
        if partial_bn:                                 # frozen affine (TSM.py:250-251)
            for bn in self._frozen_bns():
                bn.weight.requires_grad_(False)
                bn.bias.requires_grad_(False)

    def _frozen_bns(self) -> list[nn.BatchNorm2d]:
        """Every BatchNorm2d but the first, in module order (TSN.train's ``count >= 2``, TSM.py:243-247)."""
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)][1:]

    def train(self, mode: bool = True):
        """With ``partial_bn``, training mode keeps every BN but the first in eval mode (TSN.train, TSM.py:235-251)."""
        super().train(mode)
        if self.partial_bn and mode:
            for bn in self._frozen_bns():
                bn.eval()
        return self

    def forward(self, x):
        n, c, t, h, w = x.shape
        for s in self.shifts:
            s.n_segment = t
        f = self.layers(self.stem(frames_to_images(x, self.frame_layout)))
        logits = self.fc(self.dropout(f.mean((2, 3))))
        return logits.view(n, t, -1).mean(1)


TSM_OPTIONS = {
    "shift": Option(True, kind=bool, help="False: the paper's 'no shift' rows"),
    "shift_every": Option(None, kind=(int, type(None)), ge=1,
                          help="shift every k-th block (default 1 for R50, 2 for R101)"),
    "fold_div": Option(8, kind=int, ge=2, help="1/fold_div of the channels shift each way"),
    "width": Option(64, kind=int, ge=1),
    "depths": Option(None, kind=(tuple, type(None)), ge=1, length=4),
    "dropout": Option(0.5, kind=float, ge=0, lt=1, help="0.8 as released (TSM.py:124)"),
    "activation": Option("relu", choices=("relu", "elu")),
    "partial_bn": Option(False, kind=bool, help="freeze every BN but the first, as TSN.train() does (TSM.py:235-251)"),
    "zero_init_residual": Option(True, kind=bool, help="zero-init each block's last BN (False: torchvision's default, "
                                                      "as released)"),
    "fc_init_std": Option(None, kind=(float, type(None)), gt=0, help="classifier N(0, std), bias 0 (0.001 as released, "
                                                                     "TSM.py:197-199); None: PyTorch's default"),
    "frame_layout": Option("clip", choices=FRAME_LAYOUTS, help="release: the release's view(-1,3,H,W) on (N,3,T,H,W), "
                                                              "which mixes time and colour (TSM.py:334); a defect"),
}

#: The release's TSN/TSM (TSM.py, as traintsm.py builds it), layout defect included; pass ``**TSM_RELEASE``.
TSM_RELEASE = {"partial_bn": True, "zero_init_residual": False, "dropout": 0.8, "fc_init_std": 0.001,
               "frame_layout": "release"}


DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def _check(name: str, o: dict) -> None:
    shift, shift_every = o["shift"], o["shift_every"]
    depths = o["depths"] or DEPTHS[101 if name.endswith("101") else 50]
    if not shift and (shift_every is not None or o["fold_div"] != 8):
        raise ModelOptionError(f"{name}: options shift_every/fold_div do nothing with shift=false; "
                               f"drop them or set shift=true")
    if shift and shift_every is not None and shift_every > 1 and max(depths) <= 1:
        raise ModelOptionError(f"{name}: option shift_every={shift_every} does nothing at depths={list(depths)} "
                               f"(one block per stage, and block 0 always shifts); use a stage of >= 2 blocks "
                               f"or drop the option")
    if o["partial_bn"] and o["zero_init_residual"]:
        raise ModelOptionError(f"{name}: option partial_bn=true with zero_init_residual=true freezes every residual "
                               f"branch at zero; set zero_init_residual=false (as released)")


def _build(num_classes, depth, shift, shift_every, fold_div, width, depths, dropout, activation, partial_bn,
           zero_init_residual, fc_init_std, frame_layout):
    depths = depths or DEPTHS[depth]
    every = shift_every or {50: 1, 101: 2}[depth]
    return TSM(num_classes, depths, width, shift, every, fold_div, dropout, activation, partial_bn=partial_bn,
               zero_init_residual=zero_init_residual, fc_init_std=fc_init_std, frame_layout=frame_layout)


@register_model("tsm", 16, TSM_OPTIONS, check=_check)
def tsm_r50(num_classes=101, **opts):
    """TSM, 2D ResNet-50 backbone, residual shift 1/8+1/8."""
    return _build(num_classes, 50, **opts)


@register_model("tsm", 16, TSM_OPTIONS, check=_check)
def tsm_r101(num_classes=101, **opts):
    """TSM, 2D ResNet-101 backbone, shift in every other block (official n_round=2)."""
    return _build(num_classes, 101, **opts)
