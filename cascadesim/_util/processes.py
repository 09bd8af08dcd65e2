"""The start method of every worker process pool the package makes."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext


def worker_context() -> BaseContext:
    """'forkserver' where the platform has it, else 'spawn'; never 'fork'.

    A forked copy of a process that holds threads (numba's, a progress bar's, a background
    import's) can deadlock on a lock one of them held at the fork.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
