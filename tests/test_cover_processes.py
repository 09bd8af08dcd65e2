"""The parent watch of worker processes, piece by piece (tests/test_orphans.py kills real
commands; these check how a dead, a zombie and a reused process are told apart)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cascadesim._util import processes


def test_this_process_is_running_and_keeps_its_start_time():
    me = os.getpid()
    started = processes.start_time(me)
    assert processes.running(me, started)
    if started is not None:  # Linux: a reused pid has another start time
        assert not processes.running(me, str(int(started) + 1))


def test_an_exited_child_is_not_running_even_before_it_is_reaped():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = processes.start_time(child.pid)
    deadline = time.monotonic() + 30
    # Not reaped yet: on Linux a zombie, which has ended (its pid is only still listed).
    while processes.running(child.pid, started):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.wait()
    assert not processes.running(child.pid, started)
    assert processes.proc_stat(child.pid) is None or processes.start_time(child.pid) != started


def test_the_watch_ends_the_process_once_the_command_is_gone(monkeypatch):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    exits = []

    def recorded_exit(code):
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(processes.os, "_exit", recorded_exit)
    monkeypatch.setattr(processes, "PARENT_POLL_S", 0.01)
    with pytest.raises(SystemExit):
        processes.watch(child.pid, None)
    assert exits == [processes.ORPHAN_EXIT_CODE]


def test_a_pool_runs_its_initializer_after_the_watch(tmp_path):
    marker = tmp_path / "initialized"
    with processes.worker_pool(1, initializer=marker.write_text, initargs=("yes",)) as pool:
        assert pool.submit(os.getpid).result(timeout=120) != os.getpid()
    assert marker.read_text() == "yes"
