"""Torch datasets of clips drawn from split entries.

:class:`ClipDataset` serves training clips (one random clip per video per epoch) and test clips
(``num_clips`` fixed clips per video, each an item so they batch across videos).

Bad videos (missing, empty, corrupt, truncated) are found when the dataset is built by probing
every file; in training they are skipped, counted and reported in one warning that lists them.
At test time they stay in the video list (``bad_videos``) so evaluation can count them wrong.
A video that fails later, mid-epoch, is replaced by another clip and reported once per worker.

``cache_decoded=True`` keeps every decoded video in memory (at the decode size), which pays for
itself when a small dataset is read for many epochs (the demo); the clip and augmentation
randomness is the same either way.
"""
from __future__ import annotations

import warnings
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
from torch.utils.data import Dataset

from .clips import eval_clip_indices, train_clip_indices
from .splits import VideoEntry
from .transforms import ClipTransform
from .video import VideoError, probe, read_frames

__all__ = ["ClipDataset", "scan_videos"]


def scan_videos(entries: Sequence[VideoEntry], root: Path, progress: bool = False):
    """Probe every entry -> (frame counts per entry (0 if bad), [(path, reason)] of bad ones)."""
    counts, bad = [], []
    it = entries
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(entries, desc="probing videos", unit="video", leave=False)
    for e in it:
        try:
            counts.append(probe(Path(root) / e.path).frames)
        except VideoError as err:
            counts.append(0)
            bad.append((e.path, err.reason + (f": {err.detail}" if err.detail else "")))
    return counts, bad


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

    def put(self, key, value: np.ndarray):
        self.items[key] = value
        self.bytes += value.nbytes
        while self.bytes > self.max_bytes and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.bytes -= old.nbytes


_DECODED = _DecodedCache()


class ClipDataset(Dataset):
    """Clips of ``clip_len`` frames for training (``train=True``) or testing.

    Items are ``(clip (C,T,H,W) float32, label, video index)``. ``extra`` frames are added for
    residual input automatically. ``short_side`` is the size videos are decoded at.
    """

    def __init__(self, entries: Sequence[VideoEntry], root, transform: ClipTransform, clip_len: int,
                 train: bool, short_side: int = 128, interval: int = 1, num_clips: int = 1,
                 positions: str = "uniform", short_policy: str = "loop", seed: int = 0,
                 progress: bool = False, cache_decoded: bool = False):
        self.root = Path(root)
        self.transform = transform
        self.clip_len, self.train, self.short_side = clip_len, train, short_side
        self.interval, self.num_clips, self.positions = interval, num_clips, positions
        self.short_policy, self.seed = short_policy, seed
        self.extra = 1 if transform.input_type == "diff" else 0
        self.epoch = 0
        counts, bad = scan_videos(entries, self.root, progress)
        self.all_entries = list(entries)
        self.bad_videos = bad
        if train:
            keep = [i for i, n in enumerate(counts) if n > 0]
            if bad:
                shown = "\n  ".join(f"{p} ({r})" for p, r in bad[:30])
                warnings.warn(f"skipping {len(bad)} unreadable training videos under {self.root}:\n  {shown}",
                              stacklevel=2)
            if not keep:
                raise VideoError(self.root, "missing", "no readable training videos")
        else:
            keep = [i for i, n in enumerate(counts) if n > 0]
        self.video_index = keep                       # dataset video -> position in all_entries
        self.frames = [counts[i] for i in keep]
        self._failed: set[str] = set()
        # decoded videos kept in memory at ``short_side`` (per process): for small datasets
        # trained for many epochs, such as the demo; UCF101 decodes every clip afresh
        self.cache_decoded = cache_decoded

    def _read(self, path: Path, idx: np.ndarray) -> np.ndarray:
        if not self.cache_decoded:
            return read_frames(path, idx, self.short_side)
        key = (str(path), self.short_side)
        video = _DECODED.get(key)
        if video is None:
            video = read_frames(path, np.arange(probe(path).frames), self.short_side)
            _DECODED.put(key, video)
        return video[idx]

    # epoch-dependent randomness that is identical with or without worker processes
    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.video_index) * (1 if self.train else self.num_clips)

    def _rng(self, item: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, item])

    def labels(self) -> list[int]:
        return [self.all_entries[i].label for i in self.video_index]

    def _indices(self, v: int, clip: int, rng, interval: int) -> np.ndarray:
        n = self.frames[v]
        if self.train:
            return train_clip_indices(n, self.clip_len, interval, rng, self.extra, self.short_policy)
        return eval_clip_indices(n, self.clip_len, interval, self.num_clips, self.extra,
                                 self.short_policy, self.positions,
                                 seed=self.seed + zlib.crc32(self.all_entries[self.video_index[v]].path.encode())
                                 )[clip]

    def __getitem__(self, item: int):
        v, clip = (item, 0) if self.train else divmod(item, self.num_clips)
        rng = self._rng(item)
        for attempt in range(10):
            entry = self.all_entries[self.video_index[v]]
            interval = self.interval
            if self.train and len(self.transform.augment.intervals) > 1:
                interval = int(rng.choice(self.transform.augment.intervals))
            idx = self._indices(v, clip, rng, interval)
            path = self.root / entry.path
            try:
                frames = self._read(path, idx)
            except VideoError as e:
                if not self.train:
                    raise
                if entry.path not in self._failed:
                    self._failed.add(entry.path)
                    warnings.warn(f"video failed while training, replaced by another clip: {e}")
                v = int(rng.integers(len(self.video_index)))
                continue
            x = self.transform(frames, rng)
            return x, entry.label, self.video_index[v]
        raise VideoError(self.root, "corrupt", "10 consecutive videos failed to decode")
