"""Video commands: ``vipar prepare-videos``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .registry import JSON, arg, command


@command("prepare-videos", "transcode a video folder once to a small short side (same layout), for a faster feed",
         arg("src", type=Path, help="folder of videos, e.g. /data/UCF101/UCF-101 (class folders inside)"),
         arg("dst", type=Path, help="output folder: the same relative paths, prepared; then set dataset.prepared "
                                    "to it in the profile (or --set dataset.prepared=DST)"),
         arg("--short-side", type=int, default=128,
             help="short side of the prepared videos (default 128: the ucf101 profile's data.short_side; use the "
                  "top of data.short_side_range for the release reading)"),
         arg("--workers", type=int, default=1, help="transcoding processes (default 1)"),
         arg("--quiet", action="store_true", help="no progress bar"), JSON)
def prepare_videos(a):
    from ..data.prepare import prepare_videos as run
    res = run(a.src, a.dst, short_side=a.short_side, workers=a.workers,
              progress=not a.quiet and not a.json and sys.stderr.isatty())
    if a.json:
        print(json.dumps(res, indent=1))
    else:
        for path, why in res["bad"]:
            print(f"bad source: {path}: {why}")
        print(f"{a.dst}: {res['videos']} videos at short side {res['short_side']}: {res['prepared']} prepared now, "
              f"{res['skipped']} already done, {len(res['bad'])} bad")
    return 1 if res["bad"] else 0
