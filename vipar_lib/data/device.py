"""The device half of the feed (issue #18): decoded planes -> clips -> model input, for a whole batch.

Workers (:class:`~vipar_lib.data.dataset.ClipDataset` with ``feed="device"``) decode a clip's
frames as uint8 at source size (:mod:`.decode`) and draw its random choices
(:meth:`~vipar_lib.data.transforms.ClipTransform.plan`); nothing else. The training and
evaluation steps call :func:`batch_clips` (or :func:`item_views` for evaluation's decode-once
items), which does everything else where the model is, in this order and in one place:

1. **colour conversion and the decode size** (:func:`frames_to_rgb`): YUV 4:2:0 planes are
   resized to the decode size (short side ``data.short_side``) plane by plane, bilinear with
   antialiasing, then converted with the BT.601 limited-range matrix (BT.709 when the stream says
   so), which is what decord's reader (FFmpeg's swscale) gives today: measured on a real
   320x240 XviD clip at short side 128, 71 dB PSNR against decord's frames. At source size the
   chroma is repeated over each 2x2 block, as swscale's unscaled converter does (44 dB). RGB
   frames (other pixel formats) are resized as today's fallback does (antialiased bilinear);
2. **geometry** (:meth:`~vipar_lib.data.transforms.ClipTransform.apply`): the clip's own short
   side (``short_side_range``), crops, resizes, flips, time reversal, views — the host code, run
   on the device's tensors (bilinear resizes in float32 there, rounded to uint8 as the host's
   uint8 kernels do);
3. **colour jitter and normalisation** (:func:`~vipar_lib.data.transforms.normalize_clips`):
   brightness/contrast as one multiply-add per clip (the clip's mean grey level is taken on the
   device), the release scheme's OpenCV-exact HLS shift, then RGB or residual frames.

The random draws are the host path's, per ``(seed, epoch, item)``: a clip planned by a worker
and cut here is today's clip up to the rounding of the colour conversion and resizes (tests
compare both paths on the synthetic AVIs: >= 40 dB PSNR for every augmentation and view). On a
CPU-only machine the device is the CPU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .decode import FORMATS, Planes, plane_bytes, tight_lines
from .transforms import IDENTITY_AFFINE, STD, ClipTransform, normalize_clips

__all__ = ["frames_to_rgb", "source_row", "planes_source", "collate_device", "batch_clips", "item_views", "batch_input",
           "SOURCE_FIELDS", "COLORSPACES"]

SOURCE_FIELDS = ("fmt", "width", "height", "out_width", "out_height", "colorspace", "luma_line", "chroma_line")
COLORSPACES = ("bt601", "bt709")
# (kr, kb) of each matrix: R = Y' + 2(1-kr) V, B = Y' + 2(1-kb) U, G from the luma equation
_MATRIX = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}
_CHUNK = 1024                     # frames converted per call (bounds the float temporaries)


def source_row(fmt: str, width: int, height: int, out_width: int, out_height: int,
               colorspace: str = "bt601", lines: tuple[int, int] | None = None) -> torch.Tensor:
    """What the device needs to know about an item's frames: int64 (:data:`SOURCE_FIELDS`,). ``lines``: the
    planes' row bytes (default: unpadded)."""
    ly, lc = lines or tight_lines(fmt, width)
    return torch.tensor([FORMATS.index(fmt), width, height, out_width, out_height, COLORSPACES.index(colorspace),
                         ly, lc])


def planes_source(planes: Planes, out_width: int, out_height: int) -> torch.Tensor:
    """:func:`source_row` of decoded :class:`~vipar_lib.data.decode.Planes`."""
    return source_row(planes.fmt, planes.width, planes.height, out_width, out_height, planes.colorspace, planes.lines)


def _resize_planes(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False,
                         antialias=size[0] < x.shape[-2] or size[1] < x.shape[-1])


def _yuv_to_rgb(data: torch.Tensor, w: int, h: int, ow: int, oh: int, colorspace: str, ly: int,
                lc: int) -> torch.Tensor:
    n = data.shape[0]
    cw, ch = (w + 1) // 2, (h + 1) // 2
    y = data[:, :ly * h].reshape(n, 1, h, ly)[..., :w].float()
    u = data[:, ly * h:ly * h + lc * ch].reshape(n, 1, ch, lc)[..., :cw].float()
    v = data[:, ly * h + lc * ch:ly * h + 2 * lc * ch].reshape(n, 1, ch, lc)[..., :cw].float()
    if (ow, oh) == (w, h):                                   # swscale's unscaled path: chroma per 2x2 block
        u = u.repeat_interleave(2, -1).repeat_interleave(2, -2)[..., :h, :w]
        v = v.repeat_interleave(2, -1).repeat_interleave(2, -2)[..., :h, :w]
    else:                                                    # swscale scales each plane, then converts
        y, u, v = (_resize_planes(p, (oh, ow)) for p in (y, u, v))
    kr, kb = _MATRIX[colorspace]
    kg = 1 - kr - kb
    y = (y - 16).mul_(255 / 219)
    u = (u - 128).mul_(255 / 224)
    v = (v - 128).mul_(255 / 224)
    r = y + 2 * (1 - kr) * v
    b = y + 2 * (1 - kb) * u
    g = y - (2 * (1 - kb) * kb / kg) * u - (2 * (1 - kr) * kr / kg) * v
    return torch.cat([r, g, b], 1).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def frames_to_rgb(data: torch.Tensor, source) -> torch.Tensor:
    """Packed frames uint8 (N, bytes) described by ``source`` (:func:`source_row`) -> RGB uint8 (N, oh, ow, 3).

    Runs on ``data``'s device; see the module docstring for the conversion and resize."""
    fmt, w, h, ow, oh, cs, ly, lc = (int(v) for v in source)
    fmt, cs = FORMATS[fmt], COLORSPACES[cs]
    data = data[:, :plane_bytes(fmt, w, h, (ly, lc))]
    outs = []
    for s in range(0, data.shape[0], _CHUNK):
        part = data[s:s + _CHUNK]
        if fmt == "yuv420p":
            outs.append(_yuv_to_rgb(part, w, h, ow, oh, cs, ly, lc))
            continue
        x = part.reshape(-1, h, ly)[..., :w * 3].reshape(-1, h, w, 3)
        if (ow, oh) != (w, h):
            from .transforms import resize_short_side
            x = resize_short_side(x, min(ow, oh)).contiguous()
        outs.append(x)
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def collate_device(items: list[dict]) -> dict:
    """DataLoader ``collate_fn`` of device-feed items: frames stacked (padded to the longest item) when every
    item has the same kind and size of frame, else kept as a list; the rest stacked."""
    rows = [it["frames"] for it in items]
    if len({r.shape[1] for r in rows}) == 1 and len({tuple(it["source"].tolist()) for it in items}) == 1:
        n = max(r.shape[0] for r in rows)
        frames = rows[0].new_zeros((len(rows), n, rows[0].shape[1]))
        for i, r in enumerate(rows):
            frames[i, :r.shape[0]] = r
    else:
        frames = rows
    out = {"frames": frames}
    for k in ("source", "pos", "plan", "label", "video"):
        out[k] = torch.stack([torch.as_tensor(it[k]) for it in items])
    out["failed"] = [it["failed"] for it in items]
    return out


def _affines(transform: ClipTransform, clips: torch.Tensor, plans: torch.Tensor) -> torch.Tensor:
    """Per-clip affines on the clips' device: (a, b) (text scheme; the clip's mean grey level measured here) or
    (a, b, on, dH, dL, dS) (release scheme's training clips)."""
    p = plans.tolist()
    dev = clips.device
    if transform.view is None and transform.augment.scheme == "release":
        return torch.tensor([[*IDENTITY_AFFINE, *q[13:17]] for q in p], dtype=torch.float32, device=dev)
    a = torch.tensor([q[11] / 255.0 * q[12] for q in p], dtype=torch.float32, device=dev)
    coef = [q[11] / 255.0 * (1.0 - q[12]) for q in p]
    b = torch.zeros_like(a)
    if any(q[12] != 1.0 for q in p):
        m = clips[:, :, ::4, ::4, :].float().mean(dim=(1, 2, 3, 4))                 # each clip's mean grey level
        b = (m.double() * torch.tensor(coef, dtype=torch.float64, device=dev)).float()
    return torch.stack([a, b], 1)


def _rgb_items(frames, source: torch.Tensor, pos: torch.Tensor, device) -> list[torch.Tensor]:
    """Each item's distinct frames as RGB at the decode size, on ``device`` (one conversion for the batch when
    the items' frames are alike)."""
    n = (pos.reshape(len(source), -1).max(1).values + 1).tolist()
    if torch.is_tensor(frames):
        frames = frames.to(device, non_blocking=True)
        if len(set(n)) == 1:
            b, m, nb = frames.shape
            rgb = frames_to_rgb(frames[:, :n[0]].reshape(-1, nb), source[0])
            return list(rgb.reshape(b, n[0], *rgb.shape[1:]))
    return [frames_to_rgb(f[:k].to(device, non_blocking=True), s) for f, s, k in zip(frames, source, n)]


def batch_clips(batch: dict, transform: ClipTransform, device) -> tuple[torch.Tensor, torch.Tensor]:
    """A device-feed batch (:func:`collate_device`) -> (clips uint8 (B, T'', c, c, 3), affines (B, k)) on
    ``device``; :func:`~vipar_lib.data.transforms.normalize_clips` makes them the model input."""
    device = torch.device(device)
    rgb = _rgb_items(batch["frames"], batch["source"], batch["pos"], device)
    pos = batch["pos"].to(device, non_blocking=True)
    clips = torch.stack([transform.apply(x, p, idx=i).permute(0, 2, 3, 1) for x, p, i in
                         zip(rgb, batch["plan"], pos)])
    return clips, _affines(transform, clips, batch["plan"])


def item_views(item: dict, transforms: list[ClipTransform], device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """An evaluation item (all K clips of every view from one decode) -> [(clips (K, T'', c, c, 3), affines)] per
    view, on ``device``: the frames are converted once, every view's clips cut from them."""
    device = torch.device(device)
    rgb = frames_to_rgb(item["frames"].to(device, non_blocking=True), item["source"])
    pos = item["pos"].to(device, non_blocking=True)
    out = []
    for tr, plans, idx in zip(transforms, item["plan"], pos):
        clips = torch.stack([tr.apply(rgb, p, idx=i).permute(0, 2, 3, 1) for p, i in zip(plans, idx)])
        out.append((clips, _affines(tr, clips, plans)))
    return out


def batch_input(batch: dict, transform: ClipTransform, device, channels_last: bool = False,
                diff_std: float = STD) -> torch.Tensor:
    """A device-feed batch -> the model input on ``device`` (:func:`batch_clips`, then
    :func:`~vipar_lib.data.transforms.normalize_clips` with the transform's input type and normalisation).
    Which clips change brightness/contrast or carry an HLS shift is read from the plans on the host: no
    device sync."""
    clips, affine = batch_clips(batch, transform, device)
    p = batch["plan"]
    plain = bool(((p[:, 11] == 1) & (p[:, 12] == 1)).all())
    release = transform.view is None and transform.augment.scheme == "release"
    rows = torch.nonzero(p[:, 13] > 0).flatten().tolist() if release else []
    return normalize_clips(clips, affine, transform.input_type, diff_std, channels_last=channels_last and
                           clips.device.type == "cuda", plain=plain, normalize=transform.normalize, hls=rows)
