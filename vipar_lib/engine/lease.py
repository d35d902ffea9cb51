"""Leases: the run store's locks, safe between processes, hosts and checkouts on a shared filesystem.

A lease is one small file (``runs/<run>/.lock`` for training, ``.eval-*.lock`` for an evaluation,
``runs/<profile>/.prepare.lock`` while the data is prepared) that holds one JSON line::

    {"host": "node07", "boot": "<boot id>", "pidns": 4026531836, "pid": 81234, "start": "3456789",
     "token": "<uuid>", "what": "training", "worker": "w2/8 gpu 1", "since": 1764750000.1,
     "heartbeat": 1764750090.3}

**Protocol** (issue #19)

* *acquire*: create the file with ``O_CREAT | O_EXCL``, which is atomic on a local filesystem and
  on NFS v3 and later (``open(2)``), and write the line. Whoever creates it holds it.
* *heartbeat*: a thread rewrites the line every :data:`HEARTBEAT_S` seconds in place, through the
  descriptor that created it (same length, so a reader never sees a shorter line). Before each
  beat it checks that the file at the path is still its own (same inode); if not, the lease is
  *lost* (:attr:`Lease.lost`, a warning in the log).
* *release*: remove the file if it is still ours. Leaving a ``with`` block by an exception, by
  ``SystemExit`` (the executor turns SIGTERM and SIGUSR2 into one), or by ``KeyboardInterrupt``
  releases it.
* *stale*: a holder is gone when, on this host (same host name, boot id and PID namespace), its
  PID no longer exists, is a zombie, or is another process now (its start time differs); or,
  from anywhere, when its heartbeat (the later of the time it wrote and the file's mtime) is older
  than :data:`STALE_S` seconds. A ``kill -9`` on the same host is seen at once; a crashed node
  after ``STALE_S``.
* *take over*: a contender that finds a stale lease takes a break mutex (``<lease>.break``, created
  with ``O_EXCL``), reads the lease again, removes it only if it is still the same stale lease
  (same token), drops the mutex, and then competes with ``O_EXCL`` like everyone else. Of two
  contenders that judged the same lease stale, one removes it and the create decides who holds
  it next; a lease taken in between is never removed. A break mutex older than
  :data:`BREAK_STALE_S` (its holder died in the milliseconds it holds it) is removed.

**Why not flock.** The engine used ``flock`` before. On NFS, ``flock`` is emulated with POSIX
locks and locks across clients only when the mount and server support it: with ``nolock`` or
``local_lock=all`` it is silently local, some parallel filesystems refuse it (Lustre without
``-o flock``), and a crashed client's lock is held until the server's lease expires. A lock that
silently does not lock between nodes is the one failure a shared run store must not have; this
protocol needs only atomic create, rename and unlink and is the same on every filesystem.

**What it assumes.** Across hosts, staleness compares this host's clock with the holder's: clocks
must agree to well within ``STALE_S`` (NTP keeps them within milliseconds; the default is five
minutes, which also covers NFS attribute caching, at most 60 s by default). A holder that stops
for longer than ``STALE_S`` (a suspended job, a hung mount) and then continues finds its lease
lost; the run may then be trained twice at once, which wastes time but not results (every write
is atomic and a run's result does not depend on who trains it). Tune with the environment:
``VIPAR_LOCK_HEARTBEAT_S`` (default 30) and ``VIPAR_LOCK_STALE_S`` (default 300).
Files written by the older flock protocol (a bare PID) are honoured: held while a process holds
their flock, stale otherwise.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import RunDirError, RunLockedError

__all__ = ["Lease", "Holder", "lease", "read_holder", "holder_state", "is_stale", "host_identity", "pid_alive",
           "heartbeat_s", "stale_s", "HEARTBEAT_S", "STALE_S", "BREAK_STALE_S"]

log = logging.getLogger("vipar.lease")

HEARTBEAT_S = 30.0        #: seconds between heartbeats (VIPAR_LOCK_HEARTBEAT_S)
STALE_S = 300.0           #: a heartbeat older than this is a dead holder's (VIPAR_LOCK_STALE_S)
BREAK_STALE_S = 60.0      #: a break mutex older than this belonged to a contender that died


def _env_s(name: str, default: float) -> float:
    try:
        v = float(os.environ.get(name, default))
    except ValueError:
        return default
    return v if v > 0 else default


def heartbeat_s() -> float:
    return _env_s("VIPAR_LOCK_HEARTBEAT_S", HEARTBEAT_S)


def stale_s() -> float:
    return _env_s("VIPAR_LOCK_STALE_S", STALE_S)


@functools.lru_cache(maxsize=1)
def host_identity() -> dict:
    """This machine as a lease names it: host name, kernel boot id, PID namespace (containers)."""
    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    pidns = 0
    with contextlib.suppress(OSError):
        pidns = os.stat("/proc/self/ns/pid").st_ino
    return {"host": socket.gethostname(), "boot": boot, "pidns": pidns}


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of ``pid`` from /proc; None when it does not exist; ("", "") without /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else ("", "")
    except OSError:
        return ("", "")
    fields = text[text.rfind(")") + 2:].split()      # after "pid (comm) "
    return (fields[0], fields[19]) if len(fields) > 19 else ("", "")


def pid_alive(pid: int, start: str = "") -> bool:
    """True when ``pid`` is a live process of this host (not a zombie) and, if ``start`` is given, the same one."""
    if pid <= 0:
        return False
    st = _proc_stat(pid)
    if st is None:
        return False
    state, started = st
    if state in ("Z", "X", "x"):
        return False
    if start and started and started != start:
        return False                                     # the PID was reused
    if not state:                                        # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


@dataclass
class Holder:
    """Who holds a lease, as read from its file."""

    path: Path
    host: str = ""
    boot: str = ""
    pidns: int = 0
    pid: int = 0
    start: str = ""
    token: str = ""
    what: str = ""
    worker: str = ""
    since: float = 0.0
    heartbeat: float = 0.0
    mtime: float = 0.0
    legacy: bool = False          # a bare PID written by the former flock protocol
    readable: bool = True         # False: the line did not parse (being rewritten, or damaged)

    @property
    def local(self) -> bool:
        me = host_identity()
        return (self.host, self.boot, self.pidns) == (me["host"], me["boot"], me["pidns"])

    def age(self, now: float | None = None) -> float:
        """Seconds since the holder last showed life (its heartbeat or the file's mtime, the later)."""
        return max(0.0, (now or time.time()) - max(self.heartbeat, self.mtime))

    def who(self) -> str:
        return f"process {self.pid}" if self.pid else "another process"

    def details(self) -> str:
        parts = []
        if self.host and not self.local:
            parts.append(f"on {self.host}")
        if self.worker:
            parts.append(f"worker {self.worker}")
        if self.since:
            parts.append(f"since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.since))}")
        if self.readable and not self.legacy:
            parts.append(f"heartbeat {self.age():.0f} s ago")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {"host": self.host, "pid": self.pid, "worker": self.worker, "what": self.what, "since": self.since,
                "heartbeat": self.heartbeat, "age_s": round(self.age(), 1), "local": self.local}


def read_holder(path) -> Holder | None:
    """The holder recorded in lease file ``path``; None when there is no such file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(4096)
            mtime = os.fstat(f.fileno()).st_mtime
    except (FileNotFoundError, IsADirectoryError):
        return None
    except OSError:
        return Holder(path, readable=False, token="unreadable", mtime=time.time())
    text = raw.decode("utf-8", "replace").strip()
    if re.fullmatch(r"\d+", text):
        return Holder(path, pid=int(text), legacy=True, token=f"legacy:{text}:{mtime}", mtime=mtime,
                      what="training")
    try:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError
        return Holder(path, str(d.get("host", "")), str(d.get("boot", "")), int(d.get("pidns", 0)),
                      int(d.get("pid", 0)), str(d.get("start", "")), str(d.get("token", "")),
                      str(d.get("what", "")), str(d.get("worker", "")), float(d.get("since", 0.0)),
                      float(d.get("heartbeat", 0.0)), mtime)
    except (ValueError, TypeError):
        return Holder(path, readable=False, token=f"raw:{hash(raw)}:{mtime}", mtime=mtime)


def _legacy_free(path: Path) -> bool:
    """A bare-PID lock file of the flock protocol: free when nobody holds its flock."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)                    # releases the flock we may have taken


def is_stale(h: Holder, now: float | None = None) -> bool:
    """True when the holder is gone (see the module docstring): the lease may be taken over."""
    if h.legacy:
        return _legacy_free(h.path)
    if h.readable and h.local:
        return not pid_alive(h.pid, h.start)
    return h.age(now) > stale_s()


def holder_state(path) -> tuple[str, Holder | None]:
    """``("free", None)``, ``("held", holder)`` or ``("stale", holder)`` for lease file ``path``."""
    h = read_holder(path)
    if h is None:
        return "free", None
    return ("stale" if is_stale(h) else "held"), h


class Lease:
    """One held lease (see the module docstring). Use :func:`lease` as a context manager."""

    def __init__(self, path, what: str = "", worker: str | None = None):
        self.path = Path(path)
        self.what = what
        self.worker = os.environ.get("VIPAR_WORKER", "") if worker is None else worker
        self.token = uuid.uuid4().hex
        self.lost = False
        self._fd: int | None = None
        self._size = 0
        self._since = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the line -----------------------------------------------------------------------------------
    def _line(self, now: float) -> bytes:
        me = host_identity()
        st = _proc_stat(os.getpid())
        d = {"host": me["host"], "boot": me["boot"], "pidns": me["pidns"], "pid": os.getpid(),
             "start": st[1] if st else "", "token": self.token, "what": self.what, "worker": self.worker,
             "since": round(self._since, 3), "heartbeat": round(now, 3)}
        return json.dumps(d).encode()

    def _write(self, now: float) -> None:
        line = self._line(now)
        if not self._size:
            self._size = len(line) + 64
        os.pwrite(self._fd, line.ljust(self._size)[:self._size] + b"\n", 0)

    # -- acquire / release --------------------------------------------------------------------------
    def try_acquire(self) -> Holder | None:
        """Take the lease; return None when taken, else the live holder (nothing changed then)."""
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                h = read_holder(self.path)
                if h is None:
                    continue                                   # released meanwhile: try again
                if not is_stale(h):
                    return h
                _break(self.path, h)
                continue
            self._fd, self._since = fd, time.time()
            try:
                self._write(self._since)
                os.fsync(fd)
            except BaseException:
                self._close(unlink=True)
                raise
            self._thread = threading.Thread(target=self._beat, name=f"lease {self.path.name}", daemon=True)
            self._thread.start()
            return None
        return read_holder(self.path) or Holder(self.path)

    def _beat(self) -> None:
        while not self._stop.wait(heartbeat_s()):
            if not self._still_ours():
                if not self.lost:
                    self.lost = True
                    log.warning(f"{self.path}: this process's lease was taken over (its heartbeat was older than "
                                f"{stale_s():.0f} s); another process may be {self.what or 'using'} the same thing")
                return
            try:
                self._write(time.time())
                os.fsync(self._fd)
            except OSError as e:                              # a full or vanished filesystem: keep trying
                log.warning(f"{self.path}: heartbeat not written ({e.strerror})")

    def _still_ours(self) -> bool:
        try:
            a, b = os.stat(self.path), os.fstat(self._fd)
        except OSError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def _close(self, unlink: bool) -> None:
        if self._fd is None:
            return
        if unlink and self._still_ours():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._close(unlink=True)


def _break(path: Path, seen: Holder) -> None:
    """Remove the stale lease ``seen`` at ``path``, if it is still that one, under the break mutex."""
    mutex = path.with_name(path.name + ".break")
    try:
        fd = os.open(mutex, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        with contextlib.suppress(OSError):
            if time.time() - os.stat(mutex).st_mtime > BREAK_STALE_S:
                os.unlink(mutex)                          # its contender died while holding it
        time.sleep(0.05)
        return
    try:
        now = read_holder(path)
        if now is not None and now.token == seen.token and is_stale(now):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            log.info(f"{path}: took over a stale lease ({seen.who()}, {seen.details() or 'no details'})")
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(mutex)


@contextlib.contextmanager
def lease(path, what: str, subject: str = "", thing: str = "it", wait: bool = False, poll_s: float = 0.5,
          worker: str | None = None):
    """Hold the lease at ``path`` for the ``with`` block; yields the :class:`Lease`.

    Without ``wait``, a live holder raises :class:`RunLockedError` (one line: ``subject``, the
    holder and what it is doing to ``thing``). With ``wait``, polls every ``poll_s`` seconds.
    A lock file that cannot be written raises :class:`RunDirError`.
    """
    ls = Lease(path, what, worker)
    while True:
        try:
            h = ls.try_acquire()
        except OSError as e:
            raise RunDirError(f"{subject}cannot write the lock file {path} ({e.strerror}); the folder is not "
                              f"writable: make it writable or use another runs_dir") from None
        if h is None:
            break
        if not wait:
            detail = h.details()
            raise RunLockedError(f"{subject}{h.who()} is {h.what or 'using'} {thing}"
                                 f"{f' ({detail})' if detail else ''}; it holds {path}. Wait for it to finish "
                                 f"or stop it first", h.pid)
        time.sleep(poll_s)
    try:
        yield ls
    finally:
        ls.release()
