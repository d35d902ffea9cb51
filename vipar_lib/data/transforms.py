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

**Where the work happens** (issue #12). :meth:`ClipTransform.clip` does the geometry on uint8
(cropping, antialiased resizing, flips, time reversal: cheap there) and returns the clip as
uint8 ``(T', h, w, 3)`` plus a per-clip affine ``(a, b)`` that folds brightness and contrast into
one multiply-add on [0, 255] values. Batches of such clips travel to the device as uint8 (4x
fewer bytes to collate, pin and copy than float32), and :func:`normalize_clips` turns them into
the model input there, in the training or evaluation step: ``y = clamp(x * a + b, 0, 1)``, then
RGB ``(y - 0.45) / 0.225`` or residual ``(y[t+1] - y[t]) / diff_std``. These are the same float32
operations, in the same order, with the same constants as the former per-clip conversion on the
CPU worker, so the model input is unchanged (a test compares against that former code).
Calling a :class:`ClipTransform` still returns the float input of one clip (it runs both halves).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..typed import option

__all__ = ["AugmentConfig", "TTA_VIEWS", "INPUT_TYPES", "CONCAT_MODES", "ClipTransform", "to_input", "residual_frames",
           "normalize_clips", "plain_affines", "IDENTITY_AFFINE"]

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


IDENTITY_AFFINE = (1.0 / 255.0, 0.0)      # (a, b) of a clip without brightness/contrast change


def plain_affines(affine: torch.Tensor) -> bool:
    """True when no clip of the batch changes brightness or contrast (every affine is the identity's)."""
    ident = torch.tensor(IDENTITY_AFFINE, dtype=torch.float32, device=affine.device)
    return bool((affine.to(torch.float32) == ident).all())


def normalize_clips(clips: torch.Tensor, affine: torch.Tensor, input_type: str, diff_std: float = STD,
                    channels_last: bool = False, plain: bool | None = None) -> torch.Tensor:
    """uint8 clips (B, T', H, W, 3) and per-clip affines (B, 2) -> model input float32 (B, 3, T, H, W).

    Runs wherever ``clips`` lives (the device, in the training and evaluation steps). The result
    is contiguous, or with ``channels_last`` a channels-last-3d tensor (a permuted view of
    contiguous (B, T, H, W, 3) data, which is what the uint8 clips already are). ``diff`` consumes
    one frame. The reordering is done on uint8 (4x fewer bytes than on float32), and every float
    pass runs over contiguous memory. ``plain`` (computed from ``affine`` when None; pass it from the
    host copy to avoid a device sync) says no clip changes brightness or contrast: the ``+ 0`` and
    the clamp, which then change no value, are skipped (evaluation batches).
    """
    if input_type not in INPUT_TYPES:
        raise ValueError(f"input_type={input_type!r}; allowed: {INPUT_TYPES}")
    x = clips if channels_last else clips.permute(0, 4, 1, 2, 3).contiguous()     # uint8
    a = affine[:, 0].to(torch.float32).view(-1, 1, 1, 1, 1)
    b = affine[:, 1].to(torch.float32).view(-1, 1, 1, 1, 1)
    # x * (gain/255 * contrast) + mean * (1 - contrast), then [0, 1]. Without brightness/contrast
    # a = 1/255, b = 0 and the clamp changes nothing (255 * float32(1/255) rounds to 1.0 exactly).
    if plain is None:
        plain = plain_affines(affine)
    y = x.float().mul_(a)
    if not plain:
        y = y.add_(b).clamp_(0, 1)
    if input_type == "rgb":
        y = y.sub_(MEAN).div_(STD)
    else:
        t_dim, n = (1, y.shape[1]) if channels_last else (2, y.shape[2])
        y = (y.narrow(t_dim, 1, n - 1) - y.narrow(t_dim, 0, n - 1)).div_(diff_std)
    return y.permute(0, 4, 1, 2, 3) if channels_last else y


def _corner_positions(w, h, cw, ch):
    return [(0, 0), (w - cw, 0), (0, h - ch), (w - cw, h - ch), ((w - cw) // 2, (h - ch) // 2)]


@dataclass
class ClipTransform:
    """uint8 frames (T', H, W, 3) -> a clip: uint8 (T'', crop, crop, 3) and its affine (:meth:`clip`).

    ``view=None`` trains with ``augment``; a view name from :data:`TTA_VIEWS` evaluates.
    Calling the transform returns the float model input (C, T, crop, crop) of one clip.
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
        x, affine = self.clip(frames, rng)
        return normalize_clips(x[None], affine[None], self.input_type, self.diff_std)[0]

    def clip(self, frames, rng: np.random.Generator, idx=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Geometry on uint8 -> (clip uint8 (T'', crop, crop, 3) contiguous, affine float32 (2,)).

        ``frames`` is a uint8 (N, H, W, 3) array or tensor. ``idx`` (optional) picks the clip's
        frames from it *after* cropping, so a clip is cut from a longer decoded run of frames
        without copying whole frames (evaluation decodes once per video, :class:`MultiViewDataset`).
        Every random choice of the clip is drawn from ``rng`` here, in the same order as always.
        """
        x = frames if torch.is_tensor(frames) else torch.from_numpy(np.ascontiguousarray(frames))
        if idx is not None:
            idx = torch.as_tensor(idx, dtype=torch.long)
        if self.view is None:
            x, gain, contrast = self._train(x, rng, idx)
        else:
            x, gain, contrast = self._test(x, rng, idx), 1.0, 1.0
        scale = gain / 255.0
        a, b = scale * contrast, 0.0
        if contrast != 1.0:
            m = float(x[:, :, ::4, ::4].float().mean()) * scale                 # the clip's mean grey level
            b = m * (1.0 - contrast)
        return x.permute(0, 2, 3, 1).contiguous(), torch.tensor([a, b], dtype=torch.float32)

    # -- crops -------------------------------------------------------------------------
    def _crop_resize(self, x, x0, y0, side_w, side_h, idx=None):
        """Crop (N,H,W,3) frames, pick ``idx`` frames, resize -> (T,3,crop,crop) (channels-last in memory)."""
        x = x[:, y0:y0 + side_h, x0:x0 + side_w]
        if idx is not None:
            x = x.index_select(0, idx)              # copies only the cropped region of the clip's frames
        x = x.permute(0, 3, 1, 2)
        if side_w != self.crop_size or side_h != self.crop_size:
            x = F.interpolate(x, size=(self.crop_size, self.crop_size), mode="bilinear", align_corners=False,
                              antialias=side_w > self.crop_size)
        return x

    def _train(self, x, rng, idx=None):
        a = self.augment
        _, h, w, _ = x.shape
        side = self.crop_size
        if a.multiscale:
            side = int(round(self.crop_size * rng.uniform(*a.scale_range)))
        side = min(side, h, w)
        if a.corner_crop:
            x0, y0 = _corner_positions(w, h, side, side)[int(rng.integers(5))]
        else:
            x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        x = self._crop_resize(x, x0, y0, side, side, idx)
        if a.flip and rng.random() < 0.5:
            x = x.flip(-1)
        gain = float(rng.uniform(1 - a.lighting, 1 + a.lighting)) if a.lighting else 1.0
        contrast = float(rng.uniform(1 - a.contrast, 1 + a.contrast)) if a.contrast else 1.0
        if a.reverse and rng.random() < 0.5:
            x = x.flip(0)
        return x, gain, contrast

    def _test(self, x, rng, idx=None):
        _, h, w, _ = x.shape
        side = min(self.crop_size, h, w)
        if self.view == "random_crop":
            x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        else:
            x0, y0 = (w - side) // 2, (h - side) // 2
        x = self._crop_resize(x, x0, y0, side, side, idx)
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
