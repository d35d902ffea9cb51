"""The lease protocol of the run store (issue #19): O_EXCL file, host/PID/heartbeat, stale take-over."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from vipar_lib.engine.errors import RunLockedError
from vipar_lib.engine.lease import Lease, _break, holder_state, host_identity, lease, read_holder
from vipar_lib.engine.runs import LOCK_NAME, run_lock


def _foreign(path, age_s: float, host="node-elsewhere", pid=4242):
    now = time.time()
    path.write_text(json.dumps({"host": host, "boot": "b", "pidns": 1, "pid": pid, "start": "1", "token": "t-old",
                                "what": "training", "worker": "w3/8 gpu 2", "since": now - age_s - 100,
                                "heartbeat": now - age_s}))
    os.utime(path, (now - age_s, now - age_s))


def test_a_lease_records_its_holder_and_is_removed_on_release(tmp_path):
    path = tmp_path / LOCK_NAME
    with lease(path, "training", worker="w1/2") as ls:
        h = read_holder(path)
        assert (h.pid, h.what, h.worker, h.host, h.token) == (os.getpid(), "training", "w1/2",
                                                              host_identity()["host"], ls.token)
        assert h.local and holder_state(path)[0] == "held" and h.age() < 5
        with pytest.raises(RunLockedError, match=f"process {os.getpid()} is training it .*worker w1/2, since .*"
                                                 "heartbeat 0 s ago") as e:
            with lease(path, "training"):
                pass
        assert e.value.pid == os.getpid() and "\n" not in str(e.value)
    assert not path.exists() and holder_state(path) == ("free", None)


def test_a_killed_holder_on_this_host_is_taken_over_at_once(tmp_path):
    run = tmp_path / "run"
    code = ("import sys, time; from vipar_lib.engine.runs import run_lock\n"
            f"with run_lock({str(run)!r}):\n    print('held', flush=True); time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=f"process {p.pid} is training this run"):
            with run_lock(run):
                pass
        p.send_signal(signal.SIGKILL)
        time.sleep(0.3)                       # not reaped yet: a zombie still counts as dead
        assert holder_state(run / LOCK_NAME)[0] == "stale"
        with run_lock(run):
            assert read_holder(run / LOCK_NAME).pid == os.getpid()
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("age,state", [(5, "held"), (10_000, "stale")])
def test_another_hosts_lease_is_stale_only_when_its_heartbeat_is(tmp_path, monkeypatch, age, state):
    monkeypatch.setenv("VIPAR_LOCK_STALE_S", "300")
    path = tmp_path / LOCK_NAME
    _foreign(path, age)
    got, h = holder_state(path)
    assert got == state and h.host == "node-elsewhere" and not h.local and h.worker == "w3/8 gpu 2"
    if state == "held":
        with pytest.raises(RunLockedError, match=r"process 4242 is training it \(on node-elsewhere, worker w3/8 "
                                                 r"gpu 2, since .*, heartbeat 5 s ago\)"):
            with lease(path, "training"):
                pass
    else:
        with lease(path, "training"):
            assert read_holder(path).pid == os.getpid()


def test_the_heartbeat_moves_and_a_lease_taken_over_is_known_lost(tmp_path, monkeypatch):
    monkeypatch.setenv("VIPAR_LOCK_HEARTBEAT_S", "0.05")
    path = tmp_path / LOCK_NAME
    with lease(path, "evaluating") as ls:
        first = read_holder(path).heartbeat
        time.sleep(0.3)
        assert read_holder(path).heartbeat > first and not ls.lost
        os.unlink(path)                            # another host judged it stale and took it
        _foreign(path, 0)
        time.sleep(0.3)
        assert ls.lost
    assert read_holder(path).pid == 4242           # the new holder's lease is left alone


def test_two_contenders_for_one_stale_lease_never_remove_a_fresh_one(tmp_path):
    path = tmp_path / LOCK_NAME
    _foreign(path, 10_000)
    seen = read_holder(path)                       # both contenders read the stale lease
    a = Lease(path, "training", "a")
    assert a.try_acquire() is None                 # the first breaks it and takes the lease
    try:
        _break(path, seen)                         # the second breaks what it saw: a fresh lease is not that one
        assert read_holder(path).token == a.token
        assert Lease(path, "training", "b").try_acquire().worker == "a"
    finally:
        a.release()
    assert not path.exists() and not path.with_name(path.name + ".break").exists()


def test_unreadable_and_flock_era_lock_files(tmp_path, monkeypatch):
    monkeypatch.setenv("VIPAR_LOCK_STALE_S", "300")
    path = tmp_path / LOCK_NAME
    path.write_text('{"host": "x", "pid": 1')     # a line being rewritten: held until its mtime is old
    assert holder_state(path)[0] == "held"
    os.utime(path, (time.time() - 10_000,) * 2)
    assert holder_state(path)[0] == "stale"
    path.write_text("12345\n")                     # the former protocol: a PID, locked with flock
    fd = os.open(path, os.O_RDWR)
    code = f"import fcntl, os, time; fd = os.open({str(path)!r}, os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); " \
           "print('held', flush=True); time.sleep(600)"
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        assert holder_state(path)[0] == "held"
    finally:
        p.kill()
        p.wait()
        os.close(fd)
    assert holder_state(path)[0] == "stale"
    with lease(path, "training"):
        assert read_holder(path).pid == os.getpid()
