"""Torch datasets of clips drawn from split entries.

:class:`ClipDataset` serves training clips (one random clip per video per epoch) and test clips
(``num_clips`` fixed clips per video, each an item so they batch across videos).
:class:`MultiViewDataset` serves evaluation the fast way: one item per video holding all K clips
under every test-time view, cut from **one** decode of the frames those clips need (Table 3's
views differ only in what is done to the same frames; issue #12).

**Items** are dicts, collated by the default collate into batches:

* ``clip``   uint8 (T', crop, crop, 3): the clip after its geometry (crop, resize, flip, reverse),
             ``T' = clip_len + 1`` for residual input; normalised on the device by
             :func:`~vipar_lib.data.transforms.normalize_clips` with
* ``affine`` float32 (2,): the clip's brightness/contrast as one multiply-add;
* ``label``, ``video`` (the position in ``all_entries``);
* ``failed`` str: ``"<all_entries index>\\t<reason>"`` lines for videos that failed while decoding
             for this item ("" normally). Worker processes cannot share state, so failures
             travel to the main process inside the batches.

**Bad videos.** A video is bad when it is missing, empty, not decodable, truncated (fewer frames
in decord's index than its header claims, beyond :data:`~vipar_lib.data.video.TRUNCATION_TOLERANCE`:
the rule of ``vipar check-videos``), or when it fails while its frames are decoded. The first
kinds are found when the dataset is built (:func:`scan_videos`, cached per path); training skips
them with one warning that lists them, evaluation keeps their rows (counted wrong). A video that
fails later is replaced by another clip in training (the replacement is drawn from the item's own
RNG, so runs stay reproducible) and is skipped from the next epoch on (the trainer passes the
videos known bad with each index, see :meth:`ClipDataset.__getitem__`); in evaluation its item
is marked failed and its row counted wrong.

**Epochs.** Clip sampling and augmentation draw from ``(seed, epoch, item)``. With persistent
DataLoader workers the dataset object inside each worker is never updated again, so the trainer
passes the epoch *with each index*: an index may be ``(epoch, item, skip)``, ``skip`` being the
all_entries indices known to be bad. A plain integer index uses :meth:`set_epoch`'s epoch.

``cache_decoded=True`` keeps every decoded video in memory (at the decode size), which pays for
itself when a small dataset is read for many epochs (the demo); the clip and augmentation
randomness is the same either way.

**The release reading** (xdw1995/123 @ 40c31aa): ``window`` and ``short_policy="pingpong"``
are :mod:`~vipar_lib.data.clips`'s; ``augment.interval_rule="long_only"`` lets only videos of more
than ``2T + 2`` kept frames (T = the clip's frames, the Diff frame included) draw an interval from
``augment.intervals``, the others take the smallest (release ``libb/dataset.py:140-141``: ``[::2]``
with p = 0.5 only if the buffer is longer than ``2T + 2``; **reading:** the release takes every
second frame of the buffer before drawing the start, so its interval-2 clips begin on even
positions; here any start). With ``data.short_side_range`` the
dataset decodes at the range's top (``short_side`` is then that size) and the transform resizes
each clip to its own drawn side, so decode-once evaluation still reads each video once.
"""
from __future__ import annotations

import warnings
import zlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .clips import eval_clip_indices, kept_frames, train_clip_indices
from .decode import Planes, VideoIndex, VideoIndexStore, read_planes
from .device import planes_source, source_row
from .splits import VideoEntry
from .transforms import ClipTransform
from .video import VideoError, probe, probe_checked, read_frames, resized_shape, truncation

__all__ = ["ClipDataset", "MultiViewDataset", "scan_videos", "CLIP_SAMPLERS", "parse_failed", "FEEDS"]

# where a clip is made: "device" (workers decode uint8 planes at source size; colour, geometry, jitter and
# normalisation in the training/evaluation step, :mod:`.device`) or "host" (decord decodes RGB at the decode
# size; the geometry runs in the workers, normalisation on the device: the path before issue #18)
FEEDS = ("device", "host")


def _indexed(index: VideoIndexStore, path: Path) -> VideoIndex:
    """The video's index entry; ``truncated`` when the header claims more frames than the stream holds."""
    info = index.get(path)
    why = truncation(info.frames, info.claimed)
    if why:
        raise VideoError(path, "truncated", why)
    return info


def scan_videos(entries: Sequence[VideoEntry], root: Path, progress: bool = False,
                index: VideoIndexStore | None = None):
    """Probe every entry -> (frame counts per entry (0 if bad), [(path, reason)] of bad ones[, infos]).

    A video is bad here when it is missing, empty, not decodable or truncated
    (:func:`~vipar_lib.data.video.probe_checked`; decord's index and the header, both cached per process).
    With ``index`` (a :class:`~vipar_lib.data.decode.VideoIndexStore`) the probe is PyAV's packet index,
    cached on disk (the same frame count and rule), and a third value maps entry positions to their
    :class:`~vipar_lib.data.decode.VideoIndex`.
    """
    counts, bad, infos = [], [], {}
    it = entries
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(entries, desc="probing videos", unit="video", leave=False)
    for i, e in enumerate(it):
        try:
            if index is None:
                counts.append(probe_checked(Path(root) / e.path).frames)
            else:
                infos[i] = _indexed(index, Path(root) / e.path)
                counts.append(infos[i].frames)
        except VideoError as err:
            counts.append(0)
            bad.append((e.path, _reason(err)))
    if index is None:
        return counts, bad
    index.save()
    return counts, bad, infos


def _reason(err: VideoError) -> str:
    return err.reason + (f": {err.detail}" if err.detail else "")


def parse_failed(field) -> list[tuple[int, str]]:
    """The ``failed`` field of an item or a batch (str or list of str) -> [(all_entries index, reason)]."""
    texts = [field] if isinstance(field, str) else list(field)
    out = []
    for t in texts:
        for line in t.splitlines():
            i, _, why = line.partition("\t")
            out.append((int(i), why))
    return out


class _DecodedCache:
    """Process-wide LRU of decoded videos, bounded in bytes (shared by every dataset of a process)."""

    def __init__(self, max_bytes: int = 3 << 30):
        from collections import OrderedDict
        self.max_bytes, self.bytes, self.items = max_bytes, 0, OrderedDict()

    def get(self, key):
        v = self.items.get(key)
        if v is not None:
            self.items.move_to_end(key)
        return v

    def put(self, key, value):
        self.items[key] = value
        self.bytes += value.nbytes
        while self.bytes > self.max_bytes and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.bytes -= old.nbytes


_DECODED = _DecodedCache()


class ClipDataset(Dataset):
    """Clips of ``clip_len`` frames for training (``train=True``) or testing.

    Items are dicts (see the module docstring): a uint8 clip, its affine, label, video index and
    failures (host feed), or the clip's decoded planes and plan (device feed). ``extra`` frames are added
    for residual input automatically. ``short_side`` is the size videos are decoded at. ``window``
    (0: whole videos) is the release's frame window. ``feed`` (:data:`FEEDS`): ``device`` items are
    collated by :func:`~vipar_lib.data.device.collate_device` and made clips by
    :func:`~vipar_lib.data.device.batch_clips`. ``index`` (a :class:`~vipar_lib.data.decode.VideoIndexStore`,
    the device feed's probe cache; in memory by default) spares later reads their probes: one decoder
    open per clip.
    """

    def __init__(self, entries: Sequence[VideoEntry], root, transform: ClipTransform, clip_len: int,
                 train: bool, short_side: int = 128, interval: int = 1, num_clips: int = 1,
                 positions: str = "uniform", short_policy: str = "loop", seed: int = 0,
                 progress: bool = False, cache_decoded: bool = False, window: int = 0, feed: str = "host",
                 index: VideoIndexStore | None = None):
        if feed not in FEEDS:
            raise ValueError(f"feed={feed!r}; allowed: {list(FEEDS)}")
        self.feed = feed
        self.root = Path(root)
        self.transform = transform
        self.clip_len, self.train, self.short_side = clip_len, train, short_side
        self.interval, self.num_clips, self.positions = interval, num_clips, positions
        self.short_policy, self.seed, self.window = short_policy, seed, window
        self.extra = 1 if transform.input_type == "diff" else 0
        self.epoch = 0
        self.infos: dict[int, VideoIndex] = {}
        if feed == "device":
            counts, bad, infos = scan_videos(entries, self.root, progress, index or VideoIndexStore())
        else:
            counts, bad = scan_videos(entries, self.root, progress)
        self.all_entries = list(entries)
        self.bad_videos = bad
        keep = [i for i, n in enumerate(counts) if n > 0]
        if train:
            if bad:
                shown = "\n  ".join(f"{p} ({r})" for p, r in bad[:30])
                warnings.warn(f"skipping {len(bad)} unreadable training videos under {self.root}:\n  {shown}",
                              stacklevel=2)
            if not keep:
                raise VideoError(self.root, "missing", "no readable training videos")
        self.video_index = keep                       # dataset video -> position in all_entries
        self.frames = [counts[i] for i in keep]
        if feed == "device":
            self.infos = {j: infos[i] for j, i in enumerate(keep)}          # dataset video -> its index entry
        # decoded videos kept in memory at ``short_side`` (per process): for small datasets
        # trained for many epochs, such as the demo; UCF101 decodes every clip afresh
        self.cache_decoded = cache_decoded
        self._blank = None

    def _read(self, path: Path, idx: np.ndarray, v: int = -1):
        """(frames, positions): decoded frames and the positions of the clip's frames in them (None: all, in
        order). The clip transform gathers its frames after cropping, so repeats cost no whole-frame copy.
        The device feed reads :class:`~vipar_lib.data.decode.Planes` of dataset video ``v``."""
        if self.feed == "device":
            return self._read_planes(path, idx, v)
        if not self.cache_decoded:
            return read_frames(path, idx, self.short_side, gather=False)
        key = (str(path), self.short_side)
        video = _DECODED.get(key)
        if video is None:
            video = read_frames(path, np.arange(probe(path).frames), self.short_side)
            _DECODED.put(key, video)
        return video, np.asarray(idx)

    def _read_planes(self, path: Path, idx: np.ndarray, v: int):
        info = self.infos[v]
        if not self.cache_decoded:
            return read_planes(path, idx, info)
        key = (str(path), "planes")
        video = _DECODED.get(key)
        if video is None:
            video = read_planes(path, np.arange(info.frames), info)[0]
            _DECODED.put(key, video)
        uniq, inverse = np.unique(np.asarray(idx), return_inverse=True)
        return video.take(uniq), inverse

    def _source(self, planes: Planes) -> tuple[torch.Tensor, int, int]:
        """(source row, decode height, decode width) of decoded planes (device feed)."""
        w, h = resized_shape(planes.width, planes.height, self.short_side)
        return planes_source(planes, w, h), h, w

    def _device_item(self, v: int, frames: Planes, pos, n: int, rng, entry, row: int, failed: list) -> dict:
        """The device feed's item: the clip's distinct frames, where its frames are in them, and its plan."""
        source, h, w = self._source(frames)
        plan = self.transform.plan(h, w, rng)
        pos = torch.arange(n) if pos is None else torch.as_tensor(pos, dtype=torch.long)
        return {"frames": torch.from_numpy(frames.data), "source": source, "pos": pos, "plan": torch.from_numpy(plan),
                "label": entry.label, "video": row, "failed": "\n".join(failed)}

    def _blank_item(self, entry, row: int, failed: list) -> dict:
        """A zero clip (device feed) standing in for a failed test video."""
        n, side = self.clip_len + self.extra, self.transform.crop_size
        plan = self.transform.plan(side, side, np.random.default_rng(0))
        return {"frames": torch.zeros((n, side * side * 3), dtype=torch.uint8),
                "source": source_row("rgb24", side, side, side, side), "pos": torch.arange(n),
                "plan": torch.from_numpy(plan), "label": entry.label, "video": row, "failed": "\n".join(failed)}

    # epoch-dependent randomness that is identical with or without worker processes
    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.video_index) * (1 if self.train else self.num_clips)

    def _rng(self, item: int, epoch: int | None = None) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, item])

    def labels(self) -> list[int]:
        return [self.all_entries[i].label for i in self.video_index]

    def _eval_clips(self, v: int, interval: int) -> list[np.ndarray]:
        """The K test clips of dataset video ``v`` (fixed positions, or seeded per path)."""
        return eval_clip_indices(self.frames[v], self.clip_len, interval, self.num_clips, self.extra,
                                 self.short_policy, self.positions,
                                 seed=self.seed + zlib.crc32(self.all_entries[self.video_index[v]].path.encode()),
                                 window=self.window)

    def _indices(self, v: int, clip: int, rng, interval: int) -> np.ndarray:
        if self.train:
            return train_clip_indices(self.frames[v], self.clip_len, interval, rng, self.extra, self.short_policy,
                                      self.window)
        return self._eval_clips(v, interval)[clip]

    def _train_interval(self, v: int, rng) -> int:
        """The training clip's interval: ``augment.intervals`` drawn per clip (``interval_rule``, module docstring)."""
        a = self.transform.augment
        if len(a.intervals) <= 1:
            return self.interval
        if a.interval_rule == "long_only" and \
                kept_frames(self.frames[v], self.window) <= 2 * (self.clip_len + self.extra) + 2:
            return int(min(a.intervals))
        return int(rng.choice(a.intervals))

    def blank(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A zero clip of the shape this dataset's test clips have (stands in for a failed video)."""
        if self._blank is None:
            n = self.clip_len + self.extra
            side = self.transform.crop_size
            self._blank = self.transform.clip(np.zeros((n, side, side, 3), np.uint8), np.random.default_rng(0))
        return self._blank

    def __getitem__(self, key):
        """``key``: an item index, or ``(epoch, item, skip)`` (see the module docstring)."""
        if isinstance(key, tuple):
            epoch, item, skip = key
        else:
            epoch, item, skip = self.epoch, int(key), ()
        v, clip = (item, 0) if self.train else divmod(item, self.num_clips)
        rng = self._rng(item, epoch)
        failed = []
        for _attempt in range(10):
            row = self.video_index[v]
            entry = self.all_entries[row]
            interval = self._train_interval(v, rng) if self.train else self.interval
            if self.train and row in skip:              # known bad: replaced without decoding again
                v = int(rng.integers(len(self.video_index)))
                continue
            idx = self._indices(v, clip, rng, interval)
            try:
                frames, pos = self._read(self.root / entry.path, idx, v)
            except VideoError as e:
                failed.append(f"{row}\t{_reason(e)}")
                if not self.train and self.feed == "device":
                    return self._blank_item(entry, row, failed)
                if not self.train:                      # evaluation: this row counts wrong
                    x, a = self.blank()
                    return {"clip": x, "affine": a, "label": entry.label, "video": row, "failed": "\n".join(failed)}
                v = int(rng.integers(len(self.video_index)))
                continue
            if self.feed == "device":
                return self._device_item(v, frames, pos, len(idx), rng, entry, row, failed)
            x, a = self.transform.clip(frames, rng, idx=pos)
            return {"clip": x, "affine": a, "label": entry.label, "video": row, "failed": "\n".join(failed)}
        raise VideoError(self.root, "corrupt", "10 consecutive videos failed to decode")


# How a view picks its clips' frames: fn(dataset, dataset video index, interval) -> K index arrays.
# Every view of Table 3 uses the run's K fixed test clips ("shared"); a view that samples its own
# clips (random starts, intervals) registers a sampler here under its name, and MultiViewDataset
# decodes the union of every view's frames in the same single read.
CLIP_SAMPLERS: dict[str, Callable] = {}


class MultiViewDataset(ClipDataset):
    """Evaluation with one decode per video: item ``v`` holds all K clips under every view.

    The item is ``{"video", "label", "failed", "views": [([K clips uint8 (T', c, c, 3)], affines (K, 2))
    per view]}``. The frames of every clip of every view are decoded in **one** read (their sorted
    union), then each view cuts its clips from those frames in memory with the RNG the per-view
    path gives that clip (``(seed, 0, v * K + k)``), so the clips are bit-identical to
    :class:`ClipDataset`'s one view at a time. A video that fails to decode comes back with
    ``failed`` set and no views; its rows are counted wrong. Random test clips (``eval.crop: random``,
    a ``data.short_side_range``, ``data.window``) draw from the same per-clip RNG (windows and starts
    from the per-path seed), so every view of clip k is cut at the same size and position.
    """

    def __init__(self, entries: Sequence[VideoEntry], root, transforms: Sequence[ClipTransform], clip_len: int,
                 short_side: int = 128, interval: int = 1, num_clips: int = 1, positions: str = "uniform",
                 short_policy: str = "loop", seed: int = 0, progress: bool = False, cache_decoded: bool = False,
                 view_names: Sequence[str] | None = None, window: int = 0, feed: str = "host",
                 index: VideoIndexStore | None = None):
        if not transforms:
            raise ValueError("MultiViewDataset needs at least one view")
        if len({t.input_type for t in transforms}) != 1:
            raise ValueError("all views of a MultiViewDataset must share one input type")
        super().__init__(entries, root, transforms[0], clip_len, train=False, short_side=short_side,
                         interval=interval, num_clips=num_clips, positions=positions, short_policy=short_policy,
                         seed=seed, progress=progress, cache_decoded=cache_decoded, window=window, feed=feed,
                         index=index)
        self.transforms = list(transforms)
        self.view_names = list(view_names or [t.view for t in transforms])

    def __len__(self) -> int:
        return len(self.video_index)

    def view_clips(self, v: int) -> list[list[np.ndarray]]:
        """Frame indices of every clip of every view of dataset video ``v``."""
        shared = None
        out = []
        for name in self.view_names:
            sampler = CLIP_SAMPLERS.get(name)
            if sampler is not None:
                out.append(sampler(self, v, self.interval))
            else:
                shared = shared if shared is not None else self._eval_clips(v, self.interval)
                out.append(shared)
        return out

    def __getitem__(self, v: int):
        v = int(v)
        row = self.video_index[v]
        entry = self.all_entries[row]
        clips = self.view_clips(v)
        union = np.unique(np.concatenate([i for view in clips for i in view]))
        try:
            frames, pos = self._read(self.root / entry.path, union, v)              # one decode: (U, H, W, 3)
        except VideoError as e:
            return {"video": row, "label": entry.label, "failed": f"{row}\t{_reason(e)}", "views": []}
        if self.feed == "device":
            return self._device_views(v, frames, pos, union, clips, entry, row)
        frames = torch.from_numpy(frames if pos is None else frames[pos])
        views = []
        for tr, view_idx in zip(self.transforms, clips):
            xs, affs = [], []
            for k, idx in enumerate(view_idx):
                x, a = tr.clip(frames, self._rng(v * self.num_clips + k, 0), idx=np.searchsorted(union, idx))
                xs.append(x)
                affs.append(a)
            views.append((xs, torch.stack(affs)))       # clips stay separate: batching copies them once
        return {"video": row, "label": entry.label, "failed": "", "views": views}

    def _device_views(self, v: int, frames: Planes, pos, union: np.ndarray, clips, entry, row: int) -> dict:
        """The device feed's item: the union's frames once, and every view's K clips as positions and plans
        (drawn from the per-view path's RNG per clip); :func:`~vipar_lib.data.device.item_views` cuts them."""
        data = frames.data if pos is None else frames.data[np.unique(pos)]
        source, h, w = self._source(frames)
        k = self.num_clips
        plans = [[tr.plan(h, w, self._rng(v * k + j, 0)) for j in range(k)] for tr in self.transforms]
        where = [[np.searchsorted(union, idx) for idx in view] for view in clips]
        return {"video": row, "label": entry.label, "failed": "", "views": [], "frames": torch.from_numpy(data),
                "source": source, "pos": torch.as_tensor(np.array(where), dtype=torch.long),
                "plan": torch.as_tensor(np.array(plans))}
