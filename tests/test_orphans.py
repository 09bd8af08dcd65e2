"""Workers die with their parent: ``kill -9`` of a sweep leaves no worker behind.

Found by the issue-20 fuzzing run: two process-pool workers of a SIGKILLed ``cascadesim sweep
--workers 2`` were still running 120 s later. Each worker now watches its parent
(:mod:`cascadesim._util.processes`); these tests kill the command mid-sweep, on the process
pool and on a Dask LocalCluster, and check that every worker process it had is gone within
seconds and that the chunks it saved are whole (the resumed sweep reads them).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pyarrow.parquet as pq
import pytest

from tests.cli import REPO_ROOT
from tests.test_sweep import TINY

# The workers' parent watch polls once a second; the kernel's parent-death signal is at once.
GONE_WITHIN_S = 10.0


def start_sweep(tmp_path, *options: str) -> subprocess.Popen:
    """``cascadesim sweep`` of 20,000 tiny paths on two workers, in a fresh process."""
    sweep_file = tmp_path / "many.toml"
    sweep_file.write_text(TINY.replace("paths = 3", "paths = 20000"), encoding="utf-8")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cascadesim.cli.commands",
            "sweep",
            str(sweep_file),
            "--workers",
            "2",
            *options,
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def reaped(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """The process, killed and reaped at the end if the test left it running."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def workers_of(process: subprocess.Popen, count: int) -> list[psutil.Process]:
    """The command's descendant processes once at least ``count`` of them run and a first
    chunk is saved (the workers run paths)."""
    partial = process.args[-1] + "/.partial"
    deadline = time.monotonic() + 600
    while True:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "no chunk saved in 600 s"
        children = list(psutil.Process(process.pid).children(recursive=True))
        saved = (
            [n for n in os.listdir(partial) if n.startswith("chunk-")]
            if os.path.isdir(partial)
            else []
        )
        if saved and len(children) >= count:
            return children
        time.sleep(0.05)


def assert_all_gone(processes: list[psutil.Process]) -> None:
    deadline = time.monotonic() + GONE_WITHIN_S
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if is_running(p)]
        time.sleep(0.1)
    assert alive == [], [(p.pid, p.cmdline()[:4]) for p in alive]


def is_running(process: psutil.Process) -> bool:
    """Alive and not a zombie (an exited orphan that this container's init has not reaped)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_saved_chunks_are_whole(tmp_path) -> None:
    chunks = sorted((tmp_path / "out" / ".partial").glob("chunk-*.parquet"))
    assert chunks
    for chunk in chunks:
        assert pq.read_table(chunk).num_rows >= 1  # a torn file would not parse


@pytest.mark.parametrize(
    ("options", "minimum"),
    [((), 2), (("--scheduler", "local"), 2)],
    ids=["process-pool", "dask-local"],
)
def test_sigkill_of_a_sweep_leaves_no_worker_running(options, minimum, tmp_path):
    with reaped(start_sweep(tmp_path, *options)) as process:
        workers = workers_of(process, minimum)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert_all_gone(workers)
    assert_saved_chunks_are_whole(tmp_path)


def test_a_worker_ends_when_its_parent_is_killed_even_inside_a_long_call(tmp_path):
    """The watch itself: a pool worker busy in a call that never returns (as a kernel that
    holds the GIL for a long chunk) still ends when the parent dies."""
    script = (
        "import time\n"
        "from cascadesim._util.processes import worker_pool\n"
        "pool = worker_pool(1)\n"
        "future = pool.submit(time.sleep, 3600)\n"
        "print('started', flush=True)\n"
        "time.sleep(3600)\n"
    )
    command = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        stdout=subprocess.PIPE,
        text=True,
    )
    with reaped(command) as process:
        assert process.stdout is not None and process.stdout.readline().strip() == "started"
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + 60
        while len(parent.children(recursive=True)) < 2:  # the forkserver and the worker
            assert time.monotonic() < deadline
            time.sleep(0.05)
        descendants = parent.children(recursive=True)
        assert descendants
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert_all_gone(descendants)
