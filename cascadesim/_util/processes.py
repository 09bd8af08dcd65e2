"""Worker processes: how every pool of the package starts them, and how they die with it.

A worker must not outlive the command that started it: after a ``kill -9`` of a sweep, its
workers would otherwise run their chunks to the end (minutes of both cores) and then wait
forever on a queue no one reads. The command's death does not reach a pool worker by itself:
its parent is the forkserver, which exits only once every worker has closed its copy of the
forkserver's pipe, and the workers wait on the forkserver. So each worker watches the command
itself:

- a daemon thread checks once a second that the command's process (its pid, and the start
  time read at the start, so that a reused pid is not mistaken for it) is still running and
  not a zombie, and ends the worker with ``os._exit`` when it is not;
- on Linux the kernel also sends the worker SIGKILL when its immediate parent exits
  (``PR_SET_PDEATHSIG``): at once for a Dask-local worker, whose parent is the command, and
  even while a kernel holds the GIL.

Chunks are written by the parent (atomically, a temporary file renamed into place), so a
worker that dies in the middle of one leaves every saved chunk intact.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 1.0
ORPHAN_EXIT_CODE = 70


def worker_context() -> BaseContext:
    """'forkserver' where the platform has it, else 'spawn'; never 'fork'.

    A forked copy of a process that holds threads (numba's, a progress bar's, a background
    import's) can deadlock on a lock one of them held at the fork.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def worker_pool(
    max_workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()
) -> ProcessPoolExecutor:
    """A process pool of ``worker_context()`` workers that exit when this process dies.

    Parameters
    ----------
    max_workers : int, processes
    initializer, initargs : run in each worker after its watch of this process starts (as
        :class:`concurrent.futures.ProcessPoolExecutor` takes them)
    """
    return ProcessPoolExecutor(
        max_workers=max_workers,
        mp_context=worker_context(),
        initializer=start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


def start_worker(command: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    """Pool initializer: watch the command's process, then the caller's own initializer."""
    exit_with(command)
    if initializer is not None:
        initializer(*initargs)


def exit_with(command: int | None = None) -> None:
    """End this process when the process ``command`` (default: the parent) ends.

    Parameters
    ----------
    command : int or None, pid of the process to outlive not
    """
    command = os.getppid() if command is None else command
    started = start_time(command)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl here: the thread below still watches
            pass
    if not running(command, started):  # it died before the watch began
        os._exit(ORPHAN_EXIT_CODE)
    watcher = threading.Thread(
        target=watch, args=(command, started), name="cascadesim-command-watch", daemon=True
    )
    watcher.start()


def watch(command: int, started: str | None) -> None:
    """Poll until the command's process is gone, then end this one."""
    while running(command, started):
        time.sleep(PARENT_POLL_S)
    os._exit(ORPHAN_EXIT_CODE)


def proc_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None elsewhere."""
    fields = proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def running(pid: int, started: str | None) -> bool:
    """True while ``pid`` is the same live process (a zombie has ended: it is only unreaped)."""
    if os.path.isdir("/proc/self"):
        fields = proc_stat(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return False
        return started is None or (len(fields) > 19 and fields[19] == started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
