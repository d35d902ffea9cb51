"""The command registry: one decorator per command, declaring its arguments.

::

    @command("split", "write the VIPriors 2020 train/validation/test lists",
             arg("lists_dir", type=Path, help="..."), arg("--json", action="store_true", help="..."))
    def split(a): ...

Every argument carries its help text (a test checks it). The command modules register on import;
:mod:`vipar_lib.cli.main` imports them and builds the parser.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Command", "COMMANDS", "arg", "command", "JSON"]


@dataclass
class Command:
    name: str
    help: str
    fn: Callable
    args: list[tuple[tuple, dict]] = field(default_factory=list)


COMMANDS: dict[str, Command] = {}


def arg(*flags, **kw) -> tuple[tuple, dict]:
    """An argparse argument: ``arg("--clips", type=int, help="...")``."""
    return flags, kw


JSON = arg("--json", action="store_true", help="print machine-readable JSON instead of text")


def command(name: str, help: str, *args: tuple[tuple, dict]):
    """Register the decorated ``fn(args) -> exit code`` as ``vipar <name>``."""
    def deco(fn):
        if name in COMMANDS:
            raise ValueError(f"command {name!r} registered twice")
        COMMANDS[name] = Command(name, help, fn, list(args))
        return fn
    return deco
