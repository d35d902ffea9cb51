"""The engine's error types: one line each, naming the run, file or key and what to do.

Every error a user can cause or meet through the run store derives from :class:`EngineError`,
so the command line prints any of them as one line (``vipar train: error: ...``) and exits 2
instead of showing a traceback. Programming errors stay ordinary exceptions.

* :class:`RunLockedError` — another process holds the run directory's lock (it is training
  that run); the message names the holder's PID.
* :class:`CheckpointError` — a checkpoint file is damaged or is not a vipar checkpoint; the
  message names the file and the two ways on (resume from the other checkpoint, or delete it).
* :class:`RunDirError` — a run directory (or the runs folder) cannot be written.
"""
from __future__ import annotations

__all__ = ["EngineError", "RunLockedError", "CheckpointError", "RunDirError"]


class EngineError(RuntimeError):
    """Base of the run-store errors the command line prints as one line."""


class RunLockedError(EngineError):
    """A run directory is locked by another live process (``pid``: its process id, 0 if unknown)."""

    def __init__(self, msg: str, pid: int = 0):
        super().__init__(msg)
        self.pid = pid


class CheckpointError(EngineError):
    """A checkpoint cannot be read (truncated, garbled, not a vipar checkpoint)."""


class RunDirError(EngineError):
    """A run directory or runs folder is not writable."""
