"""Data commands: ``vipar split``, ``vipar synth``, ``vipar check-videos``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .registry import JSON, arg, command


@command("split", "write the VIPriors 2020 train/validation/test lists",
         arg("lists_dir", type=Path, help="UCF101's ucfTrainTestlist/ folder, or the challenge's mod-ucf101/ folder "
                                          "(videos/ + annotations/)"),
         arg("out_dir", type=Path, help="folder to write train.txt, validation.txt, test.txt and classInd.txt to"),
         arg("--group-disjoint", action="store_true",
             help="validation holds whole actor groups, none shared with train"), JSON)
def split(a):
    from ..data import splits as S
    if (a.lists_dir / "annotations").is_dir():        # the challenge's mod-ucf101/ layout
        sp = S.read_challenge_layout(a.lists_dir)
    else:
        sp = S.vipriors_split(a.lists_dir, group_disjoint=a.group_disjoint)
    S.write_split(sp, a.out_dir)
    leak = S.group_leakage(sp) if all(e.group >= 0 for e in sp["train"]) else None
    info = {"out_dir": str(a.out_dir), "counts": sp.counts(), "num_classes": sp.num_classes,
            "classes_leaking": None if leak is None else leak["classes_leaking"],
            "validation_videos_in_shared_groups": None if leak is None else leak["videos_in_shared_groups"]}
    if a.json:
        print(json.dumps(info, indent=1))
        return 0
    c = info["counts"]
    print(f"wrote {a.out_dir}: train {c['train']}, validation {c['validation']}, test {c['test']} videos, "
          f"{sp.num_classes} classes")
    if leak is not None:
        print(f"group leakage train/validation: {leak['classes_leaking']} of {sp.num_classes} classes share actor "
              f"groups ({leak['videos_in_shared_groups']} validation videos)"
              + ("" if a.group_disjoint else "; --group-disjoint removes it"))
    return 0


@command("synth", "generate the synthetic UCF101-layout dataset (real XviD AVIs, official-format lists)",
         arg("out_dir", type=Path, help="output folder (UCF-101/ and ucfTrainTestlist/ are written inside)"),
         arg("--classes", type=int, default=10, help="number of classes (default 10)"),
         arg("--groups", type=int, default=10, help="actor groups per class (default 10)"),
         arg("--clips", type=int, default=3, help="clips per group (default 3)"),
         arg("--seed", type=int, default=0, help="generator seed; the same seed writes the same videos"),
         arg("--size", default="320x240", metavar="WxH", help="frame size of the AVIs (default 320x240, UCF101's)"),
         arg("--workers", type=int, default=None, help="processes (default: all cores)"),
         arg("--quiet", action="store_true", help="no progress bar"), JSON)
def synth(a):
    from ..data.synth import generate
    from ..typed import ConfigError
    try:
        w, h = (int(x) for x in a.size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {a.size!r}: expected WIDTHxHEIGHT, e.g. 320x240") from None
    info = generate(a.out_dir, classes=a.classes, groups=a.groups, clips=a.clips, seed=a.seed, workers=a.workers,
                    progress=not a.quiet, size=(w, h))
    print(json.dumps(info, indent=1) if a.json else
          f"wrote {info['videos']} videos of {len(info['classes'])} classes to {a.out_dir}/UCF-101 "
          f"and lists to {a.out_dir}/ucfTrainTestlist")
    return 0


@command("check-videos", "decode every video; report frames/fps/size or why it is unreadable (exit 1 if any is bad)",
         arg("paths", nargs="+", type=Path, help="folders, split lists (.txt) or video files"),
         arg("--root", type=Path, default=None, help="video root for the paths in split lists (default: guessed)"),
         arg("--workers", type=int, default=1, help="decoding processes (default 1)"), JSON)
def check_videos(a):
    from ..data.video import check_videos as check
    from ..data.video import format_check_report
    rows = check(a.paths, root=a.root, progress=not a.json and sys.stderr.isatty(), workers=a.workers)
    print(format_check_report(rows, a.json))
    return 1 if any(not r["ok"] for r in rows) else 0
