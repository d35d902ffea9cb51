"""``vipar`` command line: the same functions the notebooks call."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_COMMANDS = {}


def command(name, help):
    def deco(fn):
        _COMMANDS[name] = (fn, help)
        return fn
    return deco


# --- data -------------------------------------------------------------------------------
def _add_split(p):
    p.add_argument("lists_dir", type=Path, help="UCF101 ucfTrainTestlist/ folder, or the challenge's "
                   "mod-ucf101/ folder (videos/ + annotations/)")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--group-disjoint", action="store_true",
                   help="validation holds whole actor groups, none shared with train")
    p.add_argument("--json", action="store_true")


@command("split", "write the VIPriors 2020 train/validation/test lists")
def cmd_split(a):
    from .data import splits as S
    if (a.lists_dir / "annotations").is_dir():        # the challenge's mod-ucf101/ layout
        split = S.read_challenge_layout(a.lists_dir)
    else:
        split = S.vipriors_split(a.lists_dir, group_disjoint=a.group_disjoint)
    S.write_split(split, a.out_dir)
    leak = S.group_leakage(split) if all(e.group >= 0 for e in split["train"]) else None
    info = {"out_dir": str(a.out_dir), "counts": split.counts(), "num_classes": split.num_classes,
            "classes_leaking": None if leak is None else leak["classes_leaking"],
            "validation_videos_in_shared_groups": None if leak is None else leak["videos_in_shared_groups"]}
    if a.json:
        print(json.dumps(info, indent=1))
    else:
        c = info["counts"]
        print(f"wrote {a.out_dir}: train {c['train']}, validation {c['validation']}, test {c['test']} "
              f"videos, {split.num_classes} classes")
        if leak is not None:
            print(f"group leakage train/validation: {leak['classes_leaking']} of {split.num_classes} classes "
                  f"share actor groups ({leak['videos_in_shared_groups']} validation videos)"
                  + ("" if a.group_disjoint else "; --group-disjoint removes it"))
    return 0


@command("synth", "generate the synthetic UCF101-layout dataset")
def cmd_synth(a):
    from .data.synth import generate
    info = generate(a.out_dir, classes=a.classes, groups=a.groups, clips=a.clips, seed=a.seed,
                    workers=a.workers, progress=not a.quiet)
    print(json.dumps(info, indent=1) if a.json else
          f"wrote {info['videos']} videos of {len(info['classes'])} classes to {a.out_dir}/UCF-101 "
          f"and lists to {a.out_dir}/ucfTrainTestlist")
    return 0


def _add_synth(p):
    p.add_argument("out_dir", type=Path)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--groups", type=int, default=10)
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--json", action="store_true")


@command("check-videos", "decode every video; report frames/fps/size or why it is unreadable")
def cmd_check(a):
    from .data.video import check_videos, format_check_report
    rows = check_videos(a.paths, root=a.root, progress=not a.json and sys.stderr.isatty(),
                        workers=a.workers)
    print(format_check_report(rows, a.json))
    return 1 if any(not r["ok"] for r in rows) else 0


def _add_check(p):
    p.add_argument("paths", nargs="+", type=Path, help="folders, split lists (.txt) or video files")
    p.add_argument("--root", type=Path, default=None, help="video root for paths in split lists")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--json", action="store_true")


_ARGS = {"split": _add_split, "synth": _add_synth, "check-videos": _add_check}


def register(name, add_args):
    _ARGS[name] = add_args


def build_parser() -> argparse.ArgumentParser:
    from . import cli_more  # noqa: F401  (registers model/engine/report commands)
    ap = argparse.ArgumentParser(prog="vipar", description="DeepBlue VIPriors 2020 reproducibility study")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, (fn, help) in _COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        _ARGS[name](p)
        p.set_defaults(_fn=fn)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    a = ap.parse_args(argv)
    from .data.splits import SplitError
    from .data.video import VideoError
    from .engine.config import ConfigError
    from .models.registry import ModelOptionError
    try:
        return int(a._fn(a) or 0)
    except (SplitError, VideoError, ConfigError, ModelOptionError, FileNotFoundError, FileExistsError) as e:
        print(f"vipar {a.cmd}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":      # `python -m vipar_lib.cli`: use the package's module, where commands register
    from vipar_lib.cli import main as _main
    sys.exit(_main())
