"""Clip transforms: the paper's augmentations, test-time views, RGB and residual-frame tensors.

Every random choice is drawn once per clip and applied to all its frames (III.A).

Training augmentations (each a switch in :class:`AugmentConfig`):

* ``multiscale`` — "randomly scale the data to 0.8x–1.25x of 112, then randomly crop 112x112".
  Read as TSN's multi-scale crop: a square of side ``crop_size * s`` (s ~ U[0.8, 1.25], clamped
  to the frame) is cut from the frame (read at short side ``resize``) and resized to
  ``crop_size``. Without it, a plain random ``crop_size`` crop.
* ``corner_crop`` — the crop is placed at one of TSN's five fixed positions (4 corners, centre)
  instead of anywhere.
* ``flip`` — horizontal flip with p=0.5.
* ``lighting`` / ``contrast`` — brightness factor ``1 ± lighting`` and contrast factor
  ``1 ± contrast`` around the clip's mean grey level.
* ``reverse`` — play the clip backwards with p=0.5 ("we play the video in reverse order as new
  training samples"). Not label-preserving for direction classes; the synthetic data shows this.
* ``intervals`` — the frame interval is drawn from this tuple per clip ("randomly extracting
  frames in one or double step"); handled by the dataset when the clip is sampled.

Test-time views (Table 3): ``center`` (centre crop), ``flip`` (centre crop, flipped),
``random_crop`` (a seeded random crop), ``reverse`` (centre crop, frames reversed) and
``concat_reverse`` (the clip followed by its reverse: "normal and reverse concatenated video";
``concat_mode="double"`` keeps all T frames then T reversed ones, 2T in all, ``"same"`` keeps T by
concatenating the first T/2 frames with their reverse).

Normalisation: frames are scaled to [0, 1]; RGB is ``(x - 0.45) / 0.225`` per channel (PySlowFast's
Kinetics defaults, as nothing is pretrained). Residual frames are ``(x[t+1] - x[t]) / diff_std``
with ``diff_std=0.225`` by default, so both inputs have the same scale and 3 channels and every
model takes either one unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..typed import option

__all__ = ["AugmentConfig", "TTA_VIEWS", "INPUT_TYPES", "CONCAT_MODES", "ClipTransform", "to_input", "residual_frames"]

TTA_VIEWS = ("center", "flip", "random_crop", "reverse", "concat_reverse")
INPUT_TYPES = ("rgb", "diff")
CONCAT_MODES = ("double", "same")
MEAN, STD = 0.45, 0.225


@dataclass
class AugmentConfig:
    """Training augmentations (III.A), each a switch; the ``data.augment`` section of a run config."""

    multiscale: bool = option(True, help="TSN multi-scale crop: a square of side crop*s, s ~ U[scale_range]")
    scale_range: tuple[float, float] = option((0.8, 1.25), gt=0, help="[lo, hi] with 0 < lo <= hi")
    corner_crop: bool = option(True, help="crop at one of TSN's five positions")
    flip: bool = option(True, help="horizontal flip with p=0.5")
    lighting: float = option(0.2, ge=0, lt=1, help="brightness factor 1 +- lighting")
    contrast: float = option(0.2, ge=0, lt=1, help="contrast factor 1 +- contrast")
    reverse: bool = option(False, help="play the clip backwards with p=0.5")
    intervals: tuple[int, ...] = option((1,), ge=1, help="frame interval drawn per clip")

    def __post_init__(self):
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must be 0 < lo <= hi, got {self.scale_range}")
        if not self.intervals or any(int(i) < 1 for i in self.intervals):
            raise ValueError(f"intervals must be positive integers, got {self.intervals}")

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(multiscale=False, corner_crop=False, flip=False, lighting=0.0, contrast=0.0,
                   reverse=False, intervals=(1,))


def residual_frames(x: torch.Tensor, diff_std: float = STD) -> torch.Tensor:
    """(T+1, C, H, W) frames in [0,1] -> (T, C, H, W) scaled differences x[t+1]-x[t]."""
    return (x[1:] - x[:-1]) / diff_std


def to_input(frames01: torch.Tensor, input_type: str, diff_std: float = STD) -> torch.Tensor:
    """(T', C, H, W) in [0,1] -> model input (C, T, H, W). ``diff`` consumes one frame."""
    if input_type == "rgb":
        x = (frames01 - MEAN) / STD
    elif input_type == "diff":
        x = residual_frames(frames01, diff_std)
    else:
        raise ValueError(f"input_type={input_type!r}; allowed: {INPUT_TYPES}")
    return x.permute(1, 0, 2, 3).contiguous()


def _corner_positions(w, h, cw, ch):
    return [(0, 0), (w - cw, 0), (0, h - ch), (w - cw, h - ch), ((w - cw) // 2, (h - ch) // 2)]


@dataclass
class ClipTransform:
    """uint8 frames (T', H, W, 3) -> float tensor (C, T, crop, crop).

    ``view=None`` trains with ``augment``; a view name from :data:`TTA_VIEWS` evaluates.
    """

    crop_size: int = 112
    input_type: str = "rgb"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    view: str | None = None
    concat_mode: str = "double"
    diff_std: float = STD

    def __post_init__(self):
        if self.input_type not in INPUT_TYPES:
            raise ValueError(f"input_type={self.input_type!r}; allowed: {INPUT_TYPES}")
        if self.view is not None and self.view not in TTA_VIEWS:
            raise ValueError(f"view={self.view!r}; allowed: {TTA_VIEWS}")
        if self.concat_mode not in CONCAT_MODES:
            raise ValueError(f"concat_mode={self.concat_mode!r}; allowed: {CONCAT_MODES}")

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        # geometry on uint8 (cropping, antialiased resizing, flips, time reversal are cheap there:
        # uint8 resizing is ~9x faster than float on CPU), then one conversion to float
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # T,3,H,W uint8 (channels-last)
        if self.view is None:
            x, gain, contrast = self._train(x, rng)
        else:
            x, gain, contrast = self._test(x, rng), 1.0, 1.0
        return self._to_float_input(x, gain, contrast)

    def _to_float_input(self, x: torch.Tensor, gain: float, contrast: float) -> torch.Tensor:
        """uint8 (T,3,h,w) -> model input (3,T,h,w), with brightness/contrast folded into one affine pass."""
        y = x.permute(1, 0, 2, 3).contiguous().float()     # 3,T,h,w: reorder as uint8 (4x fewer bytes), then convert
        scale = gain / 255.0
        if contrast != 1.0:
            m = float(x[:, :, ::4, ::4].float().mean()) * scale                 # the clip's mean grey level
            y.mul_(scale * contrast).add_(m * (1.0 - contrast))
        else:
            y.mul_(scale)
        if gain != 1.0 or contrast != 1.0:
            y.clamp_(0, 1)
        if self.input_type == "rgb":
            return y.sub_(MEAN).div_(STD)
        if self.input_type == "diff":
            return (y[:, 1:] - y[:, :-1]).div_(self.diff_std)
        raise ValueError(f"input_type={self.input_type!r}; allowed: {INPUT_TYPES}")

    # -- crops -------------------------------------------------------------------------
    def _crop_resize(self, x, x0, y0, side_w, side_h):
        x = x[:, :, y0:y0 + side_h, x0:x0 + side_w]
        if side_w != self.crop_size or side_h != self.crop_size:
            x = F.interpolate(x, size=(self.crop_size, self.crop_size), mode="bilinear", align_corners=False,
                              antialias=side_w > self.crop_size)
        return x

    def _train(self, x, rng):
        a = self.augment
        _, _, h, w = x.shape
        side = self.crop_size
        if a.multiscale:
            side = int(round(self.crop_size * rng.uniform(*a.scale_range)))
        side = min(side, h, w)
        if a.corner_crop:
            x0, y0 = _corner_positions(w, h, side, side)[int(rng.integers(5))]
        else:
            x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        x = self._crop_resize(x, x0, y0, side, side)
        if a.flip and rng.random() < 0.5:
            x = x.flip(-1)
        gain = float(rng.uniform(1 - a.lighting, 1 + a.lighting)) if a.lighting else 1.0
        contrast = float(rng.uniform(1 - a.contrast, 1 + a.contrast)) if a.contrast else 1.0
        if a.reverse and rng.random() < 0.5:
            x = x.flip(0)
        return x, gain, contrast

    def _test(self, x, rng):
        _, _, h, w = x.shape
        side = min(self.crop_size, h, w)
        if self.view == "random_crop":
            x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        else:
            x0, y0 = (w - side) // 2, (h - side) // 2
        x = self._crop_resize(x, x0, y0, side, side)
        if self.view == "flip":
            x = x.flip(-1)
        elif self.view == "reverse":
            x = x.flip(0)
        elif self.view == "concat_reverse":
            if self.concat_mode == "same":
                x = x[: (x.shape[0] + 1) // 2]
            # residual input: the turning point contributes one zero difference
            x = torch.cat([x, x.flip(0)], 0)
        return x
