"""``vipar``: the command line. The same functions the notebooks call.

Errors a user can cause (a bad params file, a missing video, a logits file that does not match)
print one line, ``vipar <cmd>: error: ...``, and exit with 2; a mistyped command gets a suggestion.
Ctrl-C prints one line, ``vipar <cmd>: interrupted; ...`` saying what resumes, and exits with 130.
"""
from __future__ import annotations

import argparse
import difflib
import sys

from .. import __version__
from . import data, launch, models, released, runs, study, videos  # noqa: F401  (each registers its commands)
from .registry import COMMANDS

__all__ = ["main", "build_parser", "user_errors", "INTERRUPTED"]

# what a Ctrl-C leaves behind, per command (the run store keeps every finished step)
INTERRUPTED = {
    "train": "; the run resumes from its last finished epoch when you run the same command again",
    "run-study": "; finished runs are kept and the run in flight resumes from its last finished epoch when you run "
                 "the same command again",
    "reproduce": "; finished notebooks and runs are kept; the same command resumes",
    "evaluate": "; logits files already written are kept; the same command writes the rest",
    "synth": "; videos already written are kept; the same command writes the rest",
}


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that are the user's input, not a bug: printed as one line."""
    from ..challenge import ChallengeError
    from ..data.splits import SplitError
    from ..data.video import VideoError
    from ..engine.errors import EngineError
    from ..logits import LogitsError
    from ..models import ModelOptionError
    from ..released import ReleasedError
    from ..typed import ConfigError
    return (ConfigError, SplitError, ChallengeError, EngineError, VideoError, ModelOptionError, LogitsError,
            ReleasedError, FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="vipar", description="DeepBlue VIPriors 2020 reproducibility study "
                                 "(run `vipar <command> -h` for a command's options)")
    ap.add_argument("--version", action="version", version=f"vipar {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="<command>")
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.help, description=c.help)
        for flags, kw in c.args:
            p.add_argument(*flags, **kw)
        p.set_defaults(_fn=c.fn)
    return ap


def _suggest(argv: list[str]) -> str | None:
    """For ``vipar trian``: a one-line error naming the closest commands."""
    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] in COMMANDS or argv[0].startswith("-"):
        return None
    close = difflib.get_close_matches(words[0], list(COMMANDS), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"vipar: unknown command {words[0]!r}{hint} (commands: {', '.join(COMMANDS)})"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    msg = _suggest(argv)
    if msg:
        print(msg, file=sys.stderr)
        return 2
    a = build_parser().parse_args(argv)
    try:
        return int(a._fn(a) or 0)
    except user_errors() as e:
        print(f"vipar {a.cmd}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:          # `vipar plan | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:        # Ctrl-C: one line, and what happens next
        print(f"vipar {a.cmd}: interrupted" + INTERRUPTED.get(a.cmd, ""), file=sys.stderr)
        return 130
