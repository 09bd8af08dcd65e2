"""A Dask client: a new LocalCluster of one-thread worker processes, or a running scheduler.

Shared by the sweep's Dask backend and the event library's fit (``calibrate
--cross-validate --scheduler``). ``distributed`` is an optional dependency: this module is
imported only when a Dask run is asked for.
"""

from __future__ import annotations

import logging

import dask
from distributed import Client, LocalCluster, WorkerPlugin

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.processes import exit_with

# Settings of a LocalCluster's workers (passed to the worker processes by their nannies).
LOCAL_WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


def connect(scheduler: str, workers: int) -> tuple[Client, LocalCluster | None]:
    """A client of a new LocalCluster (``"local"``) or of the scheduler at an address."""
    if scheduler == "local":
        # The workers share this machine's numba cache, warmed by the caller beforehand so
        # that they load the kernels instead of compiling them all at once. Each worker's
        # statistical profiler samples every thread's stack 100 times a second, holding the
        # GIL: on a machine whose cores all run workers that is time taken from the paths.
        with dask.config.set(LOCAL_WORKER_CONFIG):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
        # The workers are this process's children: they exit when it dies, even by SIGKILL
        # (a remote scheduler's workers are not ours to stop).
        client.register_plugin(ExitWithParent())
        return client, cluster
    try:
        return Client(scheduler, timeout="20s"), None
    except (OSError, TimeoutError, ValueError) as error:
        raise CascadesimInputError(
            f"--scheduler = {scheduler!r}: cannot reach a Dask scheduler there ({error})"
        ) from None


class ExitWithParent(WorkerPlugin):
    """A LocalCluster worker plugin: the worker process ends when its parent does."""

    def setup(self, worker) -> None:
        exit_with()
