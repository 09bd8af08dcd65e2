"""Running a sweep's chunks on a Dask distributed cluster.

``scheduler="local"`` starts a LocalCluster of worker processes with one thread each (the
engine is single-threaded numba code; two threads in one process would share a GIL-free
kernel but also the worker's Python overhead, and processes keep a crash contained). Any
other value is the address of a running scheduler (``tcp://host:8786``): the way a sweep goes
beyond one machine. Every worker needs the same cascadesim version as this process; the run
checks it before submitting anything.

Each worker loads the engine kernels once: a :class:`KernelWarmup` worker plugin runs
:func:`cascadesim.sweep.tasks.warm_up` when it is registered and on every worker that joins
later (a restarted one included). A chunk lost with its worker is run again elsewhere by the
scheduler, and ``retries`` covers chunks that raised; since a chunk's result depends only on
its seeds, the retried chunk returns the same table.
"""

from __future__ import annotations

from collections.abc import Generator

from distributed import WorkerPlugin, as_completed

from cascadesim._util.dask_client import connect
from cascadesim._util.errors import CascadesimInputError
from cascadesim._version import __version__
from cascadesim.sweep.tasks import run_chunk, warm_up

RETRIES = 3


class KernelWarmup(WorkerPlugin):
    """Worker plugin: load the engine kernels (and prepare the first point) on each worker."""

    name = "cascadesim-kernel-warmup"

    def __init__(self, job) -> None:
        self.job = job

    def setup(self, worker) -> None:
        warm_up(self.job)


def worker_version() -> str:
    """cascadesim's version on a worker."""
    return __version__


def execute_dask(
    jobs, chunks, workers: int, scheduler: str, sweep_hash: str
) -> Generator[tuple, None, None]:
    """Submit every chunk to the cluster; yield (chunk, table, seconds) as they finish."""
    if not chunks:
        return
    if scheduler == "local":
        warm_up(jobs[chunks[0].point])
    client, cluster = connect(scheduler, workers)
    try:
        versions = client.run(worker_version)
        wrong = {
            address: version for address, version in versions.items() if version != __version__
        }
        if wrong:
            raise CascadesimInputError(
                f"--scheduler = {scheduler!r}: workers run another "
                f"cascadesim version ({wrong}); this is {__version__}"
            )
        client.register_plugin(KernelWarmup(jobs[chunks[0].point]), name=KernelWarmup.name)
        futures = {}
        for chunk in chunks:
            key = f"cascadesim-{sweep_hash}-{chunk.point}-{chunk.first}-{chunk.stop}"
            future = client.submit(
                run_chunk,
                # The job is the point's scenario as plain data (kilobytes), sent with each
                # chunk: a scattered copy would be lost with the worker holding it, and a
                # lost worker's chunks must run again elsewhere.
                jobs[chunk.point],
                chunk.first,
                chunk.stop,
                key=key,
                retries=RETRIES,
                pure=False,
            )
            futures[future.key] = (future, chunk)
        for future in as_completed([future for future, _ in futures.values()]):
            table, seconds = future.result()
            yield futures[future.key][1], table, seconds
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
