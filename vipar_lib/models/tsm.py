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
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import activation, init_conv_weights
from .registry import Option, register_model

__all__ = ["temporal_shift", "TemporalShift", "TSM", "tsm_r50", "tsm_r101"]


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


class TSM(nn.Module):
    """TSN-style 2D ResNet with residual temporal shift; input (N, C, T, H, W), output logits."""

    def __init__(self, num_classes, depths=(3, 4, 6, 3), width=64, shift=True, shift_every=1, fold_div=8,
                 dropout=0.5, act="relu", in_channels=3):
        super().__init__()
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
        for m in self.modules():
            if isinstance(m, Bottleneck2d):
                nn.init.zeros_(m.bn3.weight)

    def forward(self, x):
        n, c, t, h, w = x.shape
        for s in self.shifts:
            s.n_segment = t
        f = self.layers(self.stem(x.transpose(1, 2).reshape(n * t, c, h, w)))
        logits = self.fc(self.dropout(f.mean((2, 3))))
        return logits.view(n, t, -1).mean(1)


TSM_OPTIONS = {
    "shift": Option(True, kind=bool, help="False: the paper's 'no shift' rows"),
    "shift_every": Option(None, kind=(int, type(None)), help="shift every k-th block (default 1 for R50, 2 for R101)"),
    "fold_div": Option(8, kind=int, help="1/fold_div of the channels shift each way"),
    "width": Option(64, kind=int),
    "depths": Option(None, kind=(tuple, type(None))),
    "dropout": Option(0.5, kind=float),
    "activation": Option("relu", choices=("relu", "elu")),
}


def _build(num_classes, depth, shift, shift_every, fold_div, width, depths, dropout, activation):
    if fold_div < 2 or width < 1:
        raise ValueError("fold_div must be >= 2 and width >= 1")
    return TSM(num_classes, depths or {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}[depth], width, shift,
               shift_every or {50: 1, 101: 2}[depth], fold_div, dropout, activation)


@register_model("tsm", 16, TSM_OPTIONS)
def tsm_r50(num_classes=101, **opts):
    """TSM, 2D ResNet-50 backbone, residual shift 1/8+1/8."""
    return _build(num_classes, 50, **opts)


@register_model("tsm", 16, TSM_OPTIONS)
def tsm_r101(num_classes=101, **opts):
    """TSM, 2D ResNet-101 backbone, shift in every other block (official n_round=2)."""
    return _build(num_classes, 101, **opts)
