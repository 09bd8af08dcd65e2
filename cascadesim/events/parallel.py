"""Event runs on worker processes: ``validate`` and ``calibrate`` with ``--workers N``.

An event run is a pure function of its scenario (populations are drawn from the scenario's
seed), so running the runs of a library on several processes gives the same figures as one
after the other; :class:`EventWorkers` returns them in the order they were asked for.

The pool starts its processes as every pool of the package does
(:func:`cascadesim._util.processes.worker_context`) and lives as long as the ``with`` block, so that
a calibration starts it, and loads the kernels in each worker, once rather than once per
evaluation. The caller runs one event in its own process first: the kernels are then
compiled once, into the cache every worker loads from (concurrent compiles into one cache
folder can corrupt it).

With ``scheduler`` (``"local"``: a new LocalCluster of ``workers`` processes; an address: a
running Dask scheduler) the runs go to Dask workers instead (``calibrate --cross-validate
--scheduler``); results still come back in order. Every worker needs the event files at the
same paths (the jobs carry paths, not files).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from cascadesim._util.errors import invalid
from cascadesim._util.processes import worker_pool


def check_workers(workers: int | None, runs: int = 1) -> int:
    """``workers`` if it is a whole number >= 1, else a one-line input error.

    None chooses one process per core, at most one per run (``runs``).
    """
    if workers is None:
        return max(1, min(os.cpu_count() or 1, runs))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise invalid("--workers", workers, "an integer >= 1")
    return workers


class EventWorkers:
    """Map event runs over ``workers`` processes (1: in this process), results in order."""

    def __init__(self, workers: int = 1, scheduler: str | None = None) -> None:
        self.workers = check_workers(workers)
        self.scheduler = scheduler
        self.pool: ProcessPoolExecutor | None = None
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> EventWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def map(self, function: Callable[[Any], Any], items: Sequence[Any]) -> list:
        """``[function(item) for item in items]``, on the pool when there is one to use."""
        if self.scheduler is not None:
            if self.client is None:
                from cascadesim._util.dask_client import connect  # lazy: Dask is optional

                self.client, self.cluster = connect(self.scheduler, self.workers)
            futures = self.client.map(function, list(items), pure=False)
            return list(self.client.gather(futures))
        if self.workers == 1 or len(items) < 2:
            return [function(item) for item in items]
        if self.pool is None:
            self.pool = worker_pool(self.workers)
        return list(self.pool.map(function, items))

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
            self.client = self.cluster = None
        if self.pool is not None:
            # An interrupted calibration must not wait for the queued runs.
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
