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

**The release reading** (the authors' code, xdw1995/123 @ 40c31aa; "release:" below; README:
interpretation table). Options beside the text reading, each off by
default (the defaults reproduce the text reading's tensors bit for bit):

* ``augment.scheme="release"`` — the 112-pixel training pipeline of ``libb/zhongjichuli_xdw.py``
  (release:282-292), after the dataset's own random crop (``libb/dataset.py:143-153``):
  a random ``crop_size`` crop at the decode size; ``RandomScale`` (:112-127): aspect
  r ~ U[``aspect_range``], r or 1/r with p=0.5, the crop resized (bilinear, no antialias, as
  ``cv2.resize``) to ``(int(w*r*g + 1), int(h/r*g + 1))`` with g = U[``rescale_short``] /
  min(w*r, h/r); a random ``crop_size`` crop (:161-167); a horizontal flip with p=0.5 (:175-182);
  ``RandomHLS`` (:218-243): with p=``hls_p`` one (dH, dL, dS) per clip, each a rounded
  U(-v, v) for v in ``hls``, added to the frames in OpenCV's 8-bit HLS (H 0..180, L and S 0..255),
  clipped (hue too: not wrapped), back to RGB (:func:`hls_jitter`). The geometry is done on uint8
  by :meth:`ClipTransform.clip`; the HLS shift is drawn there and travels with the clip in its
  affine, ``(a, b, on, dH, dL, dS)`` (:data:`HLS_AFFINE` entries instead of 2), and
  :func:`normalize_clips` applies it on the device to the uint8 clip before the float conversion
  (the same uint8 result wherever it runs; ~100 ms a 64-frame 112x112 clip on one CPU core, which
  would slow the DataLoader workers down several times, against a negligible cost on a GPU). The
  conversions are OpenCV's to the bit (tested against OpenCV's answers; :func:`rgb_to_hls8`).
  Crop offsets are drawn as ``randint(n - crop)`` (release), i.e. never the last position. The
  time reversal (``reverse_p``) comes last, as in the text pipeline. **Reading:** the release as
  written imports the repository-root ``zhongjichuli.py``, whose ``RandomCrop((224, 224))`` cannot
  run on a 112 crop; this is the same file's runnable 112 state (the faithful runnable choice,
  protocol A4). ``multiscale``, ``scale_range``, ``corner_crop``, ``lighting`` and ``contrast``
  are ignored under it (not part of the release's pipeline; left out of the run hash).
* ``short_side_range=(lo, hi)`` (a :class:`ClipTransform` field, from ``data.short_side_range``):
  every clip, training or test, is resized to its own random integer short side U{lo..hi}
  (release: ``libb/dataset.py:96-102``, one ``np.random.randint(128, 161)`` per clip). The
  dataset decodes at ``hi``; the transform resizes the clip's frames to the drawn side
  (:func:`resize_short_side`, antialiased bilinear) before anything else: one function for
  training, per-view and decode-once evaluation, so all paths give the same clip. **Reading:** the
  release resizes once from the native size with ``cv2.resize`` (bilinear, no antialias).
* ``normalize="imagenet"``: ``(y - mean_c) / std_c`` with ImageNet's per-channel mean
  (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) on [0, 1] values (release:
  ``libb/zhongjichuli_xdw.py:275-278``); ``kinetics`` (default) is 0.45 / 0.225 on every channel.
  Residual frames are differences of the normalised frames (release: ``libb/dataset.py:256-260``),
  computed as ``(y[t+1] - y[t]) / std_c`` (the mean cancels): under ``kinetics`` that is today's
  ``(y[t+1] - y[t]) / 0.225`` bit for bit.
* ``augment.reverse_p``: the probability of the time reversal when ``reverse`` is on (0.5
  default; release: 1.0 for RGB, ``libb/dataset.py:62``; 0.5 for Diff, ``lastdataset.py:215-216``).
  **Reading:** the release reverses the whole decoded buffer before the temporal crop; here the
  clip is reversed (the same clips, up to a one-frame shift of the start range).
* ``crop="random"`` (test clips, ``eval.crop``): every test clip is cut at a random ``crop_size``
  position, seeded per clip as the ``random_crop`` view is (release: ``libb/dataset.py:143-146``
  in test mode). The views compose with it: ``center`` then means "no further transform" (so
  the release's "Center crop" files are random crops), ``flip``/``reverse``/``concat_reverse``
  act on the random crop, and ``random_crop`` is the same clip as ``center``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..typed import option

__all__ = ["AugmentConfig", "TTA_VIEWS", "INPUT_TYPES", "CONCAT_MODES", "NORMALIZATIONS", "SCHEMES", "INTERVAL_RULES",
           "EVAL_CROPS", "ClipTransform", "to_input", "residual_frames", "normalize_clips", "plain_affines",
           "IDENTITY_AFFINE", "HLS_AFFINE", "PLAN_FIELDS", "PLAN_SIZE", "text_affine",
           "release_affine", "hls_rows", "resize_short_side", "rgb_to_hls8", "hls8_to_rgb", "hls_jitter"]

TTA_VIEWS = ("center", "flip", "random_crop", "reverse", "concat_reverse")
INPUT_TYPES = ("rgb", "diff")
CONCAT_MODES = ("double", "same")
MEAN, STD = 0.45, 0.225
# per-channel (mean, std) on [0, 1] values; "kinetics" is MEAN, STD on every channel
NORMALIZATIONS = {"kinetics": ((MEAN,) * 3, (STD,) * 3),
                  "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}
SCHEMES = ("text", "release")
INTERVAL_RULES = ("any", "long_only")
EVAL_CROPS = ("center", "random")


@dataclass
class AugmentConfig:
    """Training augmentations (III.A), each a switch; the ``data.augment`` section of a run config."""

    multiscale: bool = option(True, help="TSN multi-scale crop: a square of side crop*s, s ~ U[scale_range]")
    scale_range: tuple[float, float] = option((0.8, 1.25), gt=0, help="[lo, hi] with 0 < lo <= hi")
    corner_crop: bool = option(True, help="crop at one of TSN's five positions")
    flip: bool = option(True, help="horizontal flip with p=0.5")
    lighting: float = option(0.2, ge=0, lt=1, help="brightness factor 1 +- lighting")
    contrast: float = option(0.2, ge=0, lt=1, help="contrast factor 1 +- contrast")
    reverse: bool = option(False, help="play the clip backwards with p=reverse_p")
    intervals: tuple[int, ...] = option((1,), ge=1, help="frame interval drawn per clip")
    # the release reading (module docstring; protocol A3-A4)
    scheme: str = option("text", choices=SCHEMES,
                         help="text: the pipeline above; release: libb/zhongjichuli_xdw.py:282-292 (crop, aspect "
                              "jitter + rescale, crop, flip, HLS); multiscale, corner_crop, lighting and contrast "
                              "are ignored under release")
    reverse_p: float = option(0.5, ge=0, le=1, help="probability of the time reversal when reverse is on (release: "
                                                    "1.0 RGB, libb/dataset.py:62; 0.5 Diff, lastdataset.py:215-216)")
    interval_rule: str = option("any", choices=INTERVAL_RULES,
                                help="any: an interval from intervals for every clip; long_only: only videos of "
                                     "more than 2T+2 frames draw one, the others take the smallest "
                                     "(release: libb/dataset.py:140-141)")
    aspect_range: tuple[float, float] = option((0.8, 1.25), gt=0, help="scheme=release: aspect jitter r ~ U[lo, hi], "
                                                                       "r or 1/r (zhongjichuli_xdw.py:112-127)")
    rescale_short: tuple[float, float] = option((144.0, 160.0), gt=0,
                                                help="scheme=release: the jittered crop's short side ~ U[lo, hi] "
                                                     "before the final crop; lo >= crop_size")
    hls: tuple[int, int, int] = option((15, 35, 25), ge=0, help="scheme=release: max |dH|, |dL|, |dS| in OpenCV "
                                                                "8-bit HLS units (hue 0..180), one draw per clip")
    hls_p: float = option(0.8, ge=0, le=1, help="scheme=release: probability of the HLS jitter per clip")

    def __post_init__(self):
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must be 0 < lo <= hi, got {self.scale_range}")
        if not self.intervals or any(int(i) < 1 for i in self.intervals):
            raise ValueError(f"intervals must be positive integers, got {self.intervals}")
        for name in ("aspect_range", "rescale_short"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be [lo, hi] with 0 < lo <= hi, got {list(getattr(self, name))}")
        dh, dl, ds = self.hls
        if not (0 <= dh <= 180 and 0 <= dl <= 255 and 0 <= ds <= 255):
            raise ValueError(f"hls must be [dH, dL, dS] with 0 <= dH <= 180 and 0 <= dL, dS <= 255, got {[dh, dl, ds]}")
        for name, allowed in (("scheme", SCHEMES), ("interval_rule", INTERVAL_RULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}; allowed: {list(allowed)}")
        for name in ("reverse_p", "hls_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 0 and <= 1")

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(multiscale=False, corner_crop=False, flip=False, lighting=0.0, contrast=0.0,
                   reverse=False, intervals=(1,))


def _check_normalize(normalize: str) -> None:
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize={normalize!r}; allowed: {list(NORMALIZATIONS)}")


def residual_frames(x: torch.Tensor, diff_std: float = STD) -> torch.Tensor:
    """(T+1, C, H, W) frames in [0,1] -> (T, C, H, W) scaled differences x[t+1]-x[t]."""
    return (x[1:] - x[:-1]) / diff_std


def to_input(frames01: torch.Tensor, input_type: str, diff_std: float = STD,
             normalize: str = "kinetics") -> torch.Tensor:
    """(T', C, H, W) in [0,1] -> model input (C, T, H, W). ``diff`` consumes one frame."""
    _check_normalize(normalize)
    if input_type not in INPUT_TYPES:
        raise ValueError(f"input_type={input_type!r}; allowed: {INPUT_TYPES}")
    if normalize == "kinetics":
        x = (frames01 - MEAN) / STD if input_type == "rgb" else residual_frames(frames01, diff_std)
    else:
        mean, std = (torch.tensor(v, dtype=frames01.dtype).view(1, 3, 1, 1) for v in NORMALIZATIONS[normalize])
        x = (frames01 - mean) / std if input_type == "rgb" else residual_frames(frames01, std)
    return x.permute(1, 0, 2, 3).contiguous()


IDENTITY_AFFINE = (1.0 / 255.0, 0.0)      # (a, b) of a clip without brightness/contrast change
HLS_AFFINE = 6                            # entries of a release-scheme training clip's affine: a, b, on, dH, dL, dS
# a clip's random choices (ClipTransform.plan), one float64 vector that travels with the clip's frames
PLAN_FIELDS = ("side", "x0", "y0", "w", "h", "rh", "rw", "x1", "y1", "flip", "reverse", "gain", "contrast",
               "hls_on", "dH", "dL", "dS")
PLAN_SIZE = len(PLAN_FIELDS)


def plain_affines(affine: torch.Tensor) -> bool:
    """True when no clip of the batch changes brightness or contrast (every (a, b) is the identity's)."""
    ident = torch.tensor(IDENTITY_AFFINE, dtype=torch.float32, device=affine.device)
    return bool((affine[:, :2].to(torch.float32) == ident).all())


def hls_rows(affine: torch.Tensor) -> list[int]:
    """The clips of a batch whose affine carries an HLS shift (``scheme=release`` training clips)."""
    if affine.shape[1] < HLS_AFFINE:
        return []
    return torch.nonzero(affine[:, 2] > 0).flatten().tolist()


def normalize_clips(clips: torch.Tensor, affine: torch.Tensor, input_type: str, diff_std: float = STD,
                    channels_last: bool = False, plain: bool | None = None,
                    normalize: str = "kinetics", hls: list[int] | None = None) -> torch.Tensor:
    """uint8 clips (B, T', H, W, 3) and per-clip affines (B, 2) -> model input float32 (B, 3, T, H, W).

    Runs wherever ``clips`` lives (the device, in the training and evaluation steps). The result
    is contiguous, or with ``channels_last`` a channels-last-3d tensor (a permuted view of
    contiguous (B, T, H, W, 3) data, which is what the uint8 clips already are). ``diff`` consumes
    one frame. The reordering is done on uint8 (4x fewer bytes than on float32), and every float
    pass runs over contiguous memory. ``plain`` (computed from ``affine`` when None; pass it from the
    host copy to avoid a device sync) says no clip changes brightness or contrast: the ``+ 0`` and
    the clamp, which then change no value, are skipped (evaluation batches).

    ``normalize`` (:data:`NORMALIZATIONS`): ``kinetics`` is ``(y - 0.45) / 0.225`` and residual frames
    ``(y[t+1] - y[t]) / diff_std``, the former maths unchanged; ``imagenet`` is ``(y - mean_c) / std_c``
    and residual frames ``(y[t+1] - y[t]) / std_c``, the difference of the normalised frames (the
    mean cancels; ``diff_std`` is not used).

    Affines of :data:`HLS_AFFINE` entries (``augment.scheme=release`` training clips) also carry an
    8-bit HLS shift ``(on, dH, dL, dS)``: the clips with ``on`` are shifted (:func:`hls_jitter`, on
    uint8, one shift per clip) before anything else. ``hls`` lists those clips (:func:`hls_rows`;
    pass it from the host copy to avoid a device sync); None computes it from ``affine``.
    """
    if input_type not in INPUT_TYPES:
        raise ValueError(f"input_type={input_type!r}; allowed: {INPUT_TYPES}")
    _check_normalize(normalize)
    rows = hls_rows(affine) if hls is None else hls
    if rows:
        clips = clips.clone()
        for i in rows:
            clips[i] = hls_jitter(clips[i], affine[i, 3:6], dim=-1)
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
    if normalize == "kinetics":
        mean, std = MEAN, STD
    else:
        shape = (3,) if channels_last else (3, 1, 1, 1)        # the channel axis: last, or after the batch
        mean, std = (torch.tensor(v, dtype=torch.float32, device=y.device).view(shape)
                     for v in NORMALIZATIONS[normalize])
        diff_std = std
    if input_type == "rgb":
        y = y.sub_(mean).div_(std)
    else:
        t_dim, n = (1, y.shape[1]) if channels_last else (2, y.shape[2])
        y = (y.narrow(t_dim, 1, n - 1) - y.narrow(t_dim, 0, n - 1)).div_(diff_std)
    return y.permute(0, 4, 1, 2, 3) if channels_last else y


def resize_short_side(x: torch.Tensor, short_side: int) -> torch.Tensor:
    """uint8 frames (N, H, W, 3) -> (N, h, w, 3) with the shorter side ``short_side`` (bilinear, antialiased).

    The one resize of ``data.short_side_range`` (every path calls it through :meth:`ClipTransform.clip`).
    The other side is ``round(long * short_side / short)`` (:func:`~vipar_lib.data.video.resized_shape`).
    """
    from .video import resized_shape
    _, h, w, _ = x.shape
    tw, th = resized_shape(w, h, short_side)
    if (tw, th) == (w, h):
        return x
    y = _resize(x.permute(0, 3, 1, 2), (th, tw), antialias=th < h or tw < w)
    return y.permute(0, 2, 3, 1)


# -- OpenCV's 8-bit HLS (cv2.COLOR_RGB2HLS / COLOR_HLS2RGB on uint8), in torch -------------------------
# Same float32 formulas as OpenCV's colour conversion (imgproc color_hsv), including the fused
# multiply-add of the hue (emulated in float64: the product of two float32 is exact there, so one
# rounding, as an FMA). Checked against opencv-python-headless 5.0.0: identical for all 2^24 RGB
# colours and all 181*256*256 HLS triples; builds without the FMA differ by 1 in H on ~0.01% of
# colours (tests/test_release_protocol.py keeps a sample of OpenCV's answers).
_EPS = float(torch.finfo(torch.float32).eps)
_SECTORS = torch.tensor([[0, 2, 1, 1, 3, 0],          # the tab entry giving r, g, b in each 60-degree sector
                         [3, 0, 0, 2, 1, 1],
                         [1, 1, 3, 0, 0, 2]])


def rgb_to_hls8(x: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """uint8 RGB, channels on axis ``dim`` -> uint8 HLS in OpenCV's 8-bit units: H 0..180 (degrees / 2), L and S
    0..255 (``cv2.cvtColor(x, cv2.COLOR_RGB2HLS)``)."""
    f = x.float().mul_(1 / 255)
    r, g, b = f.unbind(dim)
    vmax = torch.maximum(torch.maximum(r, g), b)
    vmin = torch.minimum(torch.minimum(r, g), b)
    diff = vmax - vmin
    total = vmax + vmin
    lum = total * 0.5
    sat = diff / torch.where(lum < 0.5, total, 2 - total)
    rmax, gmax = vmax == r, vmax == g
    hraw = torch.where(rmax, g - b, torch.where(gmax, b - r, r - g))
    offset = torch.where(rmax, torch.where(g < b, 360.0, 0.0), torch.where(gmax, 120.0, 240.0))
    rev = torch.full_like(diff, 60.0).div_(diff)              # not 60 / diff: torch computes that as 60 * (1/diff)
    hue = (hraw.double() * rev.double() + offset.double()).float() * 0.5      # a fused multiply-add, as OpenCV's
    chroma = diff > _EPS
    hue = torch.where(chroma, hue, 0.0)
    sat = torch.where(chroma, sat, 0.0)
    return torch.stack([hue, lum * 255, sat * 255], dim).round_().clamp_(0, 255).to(torch.uint8)


def hls8_to_rgb(x: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """uint8 HLS in OpenCV's 8-bit units, channels on axis ``dim`` -> uint8 RGB (``cv2.COLOR_HLS2RGB``)."""
    hue, lum, sat = x.float().unbind(dim)
    lum, sat = lum * (1 / 255), sat * (1 / 255)
    p2 = torch.where(lum <= 0.5, lum * (1 + sat), lum + sat - lum * sat)
    p1 = 2 * lum - p2
    h6 = hue * (6 / 180)
    h6 = torch.where(h6 >= 6, h6 - 6, h6)                      # H = 180 is 360 degrees
    sector = h6.floor()
    frac = h6 - sector
    sector = sector.long().clamp_(0, 5)
    tab = torch.stack([p2, p1, p1 + (p2 - p1) * (1 - frac), p1 + (p2 - p1) * frac])
    rgb = tab.gather(0, _SECTORS.to(sector.device)[:, sector])  # (3, ...): r, g, b from each sector's entries
    rgb = torch.where(sat == 0, lum, rgb)
    return rgb.movedim(0, dim).mul_(255).round_().clamp_(0, 255).to(torch.uint8)


def hls_jitter(x: torch.Tensor, delta, dim: int = -3) -> torch.Tensor:
    """uint8 RGB (channels on axis ``dim``) shifted by ``delta = (dH, dL, dS)`` in OpenCV's 8-bit HLS and
    clipped (release ``libb/zhongjichuli_xdw.py:218-243``): H to [0, 180] (not wrapped), L and S to [0, 255]."""
    shape = [1] * x.dim()
    shape[dim] = 3
    d = torch.as_tensor(delta, device=x.device).to(torch.int16).view(shape)
    hi = torch.tensor([180, 255, 255], dtype=torch.int16, device=x.device).view(shape)
    hls = rgb_to_hls8(x, dim).to(torch.int16).add_(d)
    return hls8_to_rgb(torch.minimum(hls.clamp_(min=0), hi).to(torch.uint8), dim)


def _corner_positions(w, h, cw, ch):
    return [(0, 0), (w - cw, 0), (0, h - ch), (w - cw, h - ch), ((w - cw) // 2, (h - ch) // 2)]


def _release_offset(rng: np.random.Generator, n: int, side: int) -> int:
    """A crop offset as the release draws it, ``randint(n - side)`` = U{0..n-side-1} (never the last
    position; release ``libb/dataset.py:145-153``, ``zhongjichuli_xdw.py:161-167``); 0 when the crop fills ``n``."""
    return int(rng.integers(0, n - side)) if n > side else 0


@dataclass
class ClipTransform:
    """uint8 frames (T', H, W, 3) -> a clip: uint8 (T'', crop, crop, 3) and its affine (:meth:`clip`).

    ``view=None`` trains with ``augment``; a view name from :data:`TTA_VIEWS` evaluates.
    Calling the transform returns the float model input (C, T, crop, crop) of one clip.
    ``normalize``, ``short_side_range`` and ``crop`` (test clips) are the release reading's
    options (module docstring); their defaults change nothing.
    """

    crop_size: int = 112
    input_type: str = "rgb"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    view: str | None = None
    concat_mode: str = "double"
    diff_std: float = STD
    normalize: str = "kinetics"
    short_side_range: tuple[int, ...] = ()
    crop: str = "center"

    def __post_init__(self):
        if self.input_type not in INPUT_TYPES:
            raise ValueError(f"input_type={self.input_type!r}; allowed: {INPUT_TYPES}")
        if self.view is not None and self.view not in TTA_VIEWS:
            raise ValueError(f"view={self.view!r}; allowed: {TTA_VIEWS}")
        if self.concat_mode not in CONCAT_MODES:
            raise ValueError(f"concat_mode={self.concat_mode!r}; allowed: {CONCAT_MODES}")
        _check_normalize(self.normalize)
        if self.crop not in EVAL_CROPS:
            raise ValueError(f"crop={self.crop!r}; allowed: {list(EVAL_CROPS)}")
        r = tuple(self.short_side_range)
        if r and not (len(r) == 2 and 1 <= r[0] <= r[1]):
            raise ValueError(f"short_side_range must be () or (lo, hi) with 1 <= lo <= hi, got {r}")
        a = self.augment
        if self.view is None and a.scheme == "release" and a.rescale_short[0] < self.crop_size:
            raise ValueError(f"augment.rescale_short={list(a.rescale_short)} must start at crop_size={self.crop_size} "
                             f"or more (the final crop is cut from that size)")

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        x, affine = self.clip(frames, rng)
        return normalize_clips(x[None], affine[None], self.input_type, self.diff_std, normalize=self.normalize)[0]

    def clip(self, frames, rng: np.random.Generator, idx=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Geometry on uint8 -> (clip uint8 (T'', crop, crop, 3) contiguous, affine float32 (2,)).

        The affine has :data:`HLS_AFFINE` entries for training clips of ``augment.scheme=release``
        (``(a, b, on, dH, dL, dS)``: the clip's HLS shift, applied by :func:`normalize_clips`).

        ``frames`` is a uint8 (N, H, W, 3) array or tensor. ``idx`` (optional) picks the clip's
        frames from it *after* cropping, so a clip is cut from a longer decoded run of frames
        without copying whole frames (evaluation decodes once per video, :class:`MultiViewDataset`).
        Every random choice of the clip is drawn from ``rng`` here, in the same order as always;
        with ``short_side_range`` the clip's short side is drawn first and its frames resized to it.
        It is :meth:`plan` (the draws) followed by :meth:`apply` (the geometry) where the frames are.
        """
        x = frames if torch.is_tensor(frames) else torch.from_numpy(np.ascontiguousarray(frames))
        p = self.plan(x.shape[1], x.shape[2], rng)
        y = self.apply(x, p, idx)
        if self.view is None and self.augment.scheme == "release":
            affine = release_affine(tuple(float(v) for v in p[13:17]))
        else:
            affine = text_affine(y, float(p[11]), float(p[12]))            # 1, 1 for test views
        return y.permute(0, 2, 3, 1).contiguous(), affine

    # -- the two halves: draws (plan, wherever the frames are decoded) and geometry (apply, anywhere) ------
    def plan(self, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        """Every random choice of one clip whose frames are ``width`` x ``height`` -> float64 (:data:`PLAN_SIZE`,).

        The same draws, in the same order, as :meth:`clip` makes (so a clip planned by a worker and
        cut on the device is today's clip); only the frame size is needed, not the frames.
        Fields (:data:`PLAN_FIELDS`): the drawn short side, the first crop box, the release's
        rescaled size and second crop, flip, reverse, gain, contrast and the HLS shift.
        """
        p = np.zeros(PLAN_SIZE)
        h, w = height, width
        if self.short_side_range:
            lo, hi = self.short_side_range
            p[0] = int(rng.integers(lo, hi + 1))
            w, h = _resized(w, h, int(p[0]))
        if self.view is None and self.augment.scheme == "release":
            self._plan_release(p, h, w, rng)
        elif self.view is None:
            self._plan_train(p, h, w, rng)
        else:
            self._plan_test(p, h, w, rng)
        return p

    def apply(self, x: torch.Tensor, p, idx=None) -> torch.Tensor:
        """The geometry of plan ``p`` on uint8 frames ``x`` (N, H, W, 3), on their device -> (T'', 3, c, c) uint8
        (a channels-last view). ``idx`` picks the clip's frames from ``x`` (after cropping)."""
        p = [float(v) for v in (p.tolist() if hasattr(p, "tolist") else p)]
        if idx is not None:
            idx = torch.as_tensor(idx, dtype=torch.long, device=x.device)
        if p[0]:
            x = resize_short_side(x if idx is None else x.index_select(0, idx), int(p[0]))
            idx = None
        if self.view is None and self.augment.scheme == "release":
            return self._apply_release(x, p, idx)
        if self.view is None:
            return self._apply_train(x, p, idx)
        return self._apply_test(x, p, idx)

    # -- crops -------------------------------------------------------------------------
    def _crop_resize(self, x, x0, y0, side_w, side_h, idx=None):
        """Crop (N,H,W,3) frames, pick ``idx`` frames, resize -> (T,3,crop,crop) (channels-last in memory)."""
        x = x[:, y0:y0 + side_h, x0:x0 + side_w]
        if idx is not None:
            x = x.index_select(0, idx)              # copies only the cropped region of the clip's frames
        x = x.permute(0, 3, 1, 2)
        if side_w != self.crop_size or side_h != self.crop_size:
            x = _resize(x, (self.crop_size, self.crop_size), antialias=side_w > self.crop_size)
        return x

    def _reverse_draw(self, rng) -> bool:
        a = self.augment
        return bool(a.reverse and rng.random() < a.reverse_p)

    def _plan_train(self, p, h, w, rng):
        a = self.augment
        side = self.crop_size
        if a.multiscale:
            side = int(round(self.crop_size * rng.uniform(*a.scale_range)))
        side = min(side, h, w)
        if a.corner_crop:
            x0, y0 = _corner_positions(w, h, side, side)[int(rng.integers(5))]
        else:
            x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        p[1:5] = x0, y0, side, side
        p[9] = bool(a.flip and rng.random() < 0.5)
        p[11] = float(rng.uniform(1 - a.lighting, 1 + a.lighting)) if a.lighting else 1.0
        p[12] = float(rng.uniform(1 - a.contrast, 1 + a.contrast)) if a.contrast else 1.0
        p[10] = self._reverse_draw(rng)

    def _apply_train(self, x, p, idx=None):
        x = self._crop_resize(x, int(p[1]), int(p[2]), int(p[3]), int(p[4]), idx)
        if p[9]:
            x = x.flip(-1)
        return x.flip(0) if p[10] else x

    def _plan_release(self, p, h, w, rng):
        """``augment.scheme="release"`` (module docstring): crop, RandomScale, crop, flip and the HLS shift
        ``(on, dH, dL, dS)``, each drawn once per clip."""
        a = self.augment
        c = self.crop_size
        # the dataset's crop at the decode size (release libb/dataset.py:145-153)
        ch, cw = min(c, h), min(c, w)
        y0, x0 = _release_offset(rng, h, ch), _release_offset(rng, w, cw)
        # RandomScale (zhongjichuli_xdw.py:112-127): aspect r or 1/r, short side ~ U[rescale_short]
        r = float(rng.uniform(*a.aspect_range))
        if rng.random() < 0.5:
            r = 1.0 / r
        sw, sh = cw * r, ch / r
        g = float(rng.uniform(*a.rescale_short)) / min(sw, sh)
        size = (int(sh * g + 1), int(sw * g + 1))
        # RandomCrop(crop) (:161-167) and RandomHorizontalFlip (:175-182)
        y1, x1 = _release_offset(rng, size[0], c), _release_offset(rng, size[1], c)
        p[1:9] = x0, y0, cw, ch, size[0], size[1], x1, y1
        p[9] = bool(a.flip and rng.random() < 0.5)
        p[11:13] = 1.0, 1.0
        # RandomHLS (:218-243): one (dH, dL, dS) per clip with p = hls_p, applied by normalize_clips
        if a.hls_p > 0 and rng.random() < a.hls_p:
            p[13:17] = (1.0, *(float(np.round(rng.uniform(-v, v))) for v in a.hls))
        p[10] = self._reverse_draw(rng)

    def _apply_release(self, x, p, idx=None):
        c = self.crop_size
        x0, y0, cw, ch, sh, sw, x1, y1 = (int(v) for v in p[1:9])
        x = x[:, y0:y0 + ch, x0:x0 + cw]
        if idx is not None:
            x = x.index_select(0, idx)
        x = x.permute(0, 3, 1, 2)                                  # (T, 3, ch, cw), channels-last in memory
        x = _resize(x, (sh, sw), antialias=False)                  # cv2.resize: bilinear, no antialias
        x = x[:, :, y1:y1 + c, x1:x1 + c]
        if p[9]:
            x = x.flip(-1)
        return x.flip(0) if p[10] else x

    def _plan_test(self, p, h, w, rng):
        side = min(self.crop_size, h, w)
        if self.view == "random_crop" or self.crop == "random":
            x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        else:
            x0, y0 = (w - side) // 2, (h - side) // 2
        p[1:5] = x0, y0, side, side
        p[11:13] = 1.0, 1.0

    def _apply_test(self, x, p, idx=None):
        x = self._crop_resize(x, int(p[1]), int(p[2]), int(p[3]), int(p[4]), idx)
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


def text_affine(x: torch.Tensor, gain: float, contrast: float) -> torch.Tensor:
    """The (a, b) of a text-scheme clip (T, 3, h, w): brightness and contrast around the clip's mean grey level
    as one multiply-add on [0, 255] values (:func:`normalize_clips`)."""
    scale = gain / 255.0
    a, b = scale * contrast, 0.0
    if contrast != 1.0:
        m = float(x[:, :, ::4, ::4].float().mean()) * scale                 # the clip's mean grey level
        b = m * (1.0 - contrast)
    return torch.tensor([a, b], dtype=torch.float32)


def release_affine(hls) -> torch.Tensor:
    """The affine of a release-scheme training clip: the identity and its HLS shift ``(on, dH, dL, dS)``."""
    return torch.tensor([*IDENTITY_AFFINE, *hls], dtype=torch.float32)


def _resized(width: int, height: int, short_side: int) -> tuple[int, int]:
    from .video import resized_shape
    return resized_shape(width, height, short_side)


def _resize(x: torch.Tensor, size, antialias: bool) -> torch.Tensor:
    """Bilinear resize of uint8 (T, 3, h, w): on the CPU in uint8 (as always); elsewhere (CUDA has no uint8
    kernel) in float32, rounded back to uint8."""
    if x.device.type == "cpu":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)
    y = F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=antialias)
    return y.round_().clamp_(0, 255).to(torch.uint8)
