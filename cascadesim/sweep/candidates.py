"""Candidates of a tuning run evaluated with the sweep's own machinery.

A batch of candidate values becomes a sweep of that many design points (the base scenario
with ``[fixed]``, each candidate's values set by the same dotted paths as a design point),
run path by path with :func:`cascadesim.sweep.tasks.run_chunk` and summarised by
:func:`cascadesim.sweep.run.points_frame`: the figures of a candidate are those a sweep point
with the same values would have. Common random numbers are always on (whatever the sweep
file says): path k of every candidate draws the same shock and seeds, so candidates differ
only by their parameters and the search compares like with like.

Serially, on a process pool kept for the whole search (its workers load the kernels once),
or on Dask (``scheduler``).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pyarrow as pa

from cascadesim._util.processes import worker_pool
from cascadesim.sweep.run import initialize_worker, plan_chunks, points_frame, split_tables
from cascadesim.sweep.spec import point_scenario
from cascadesim.sweep.tasks import point_jobs, run_chunk, warm_up


class SweepCandidates:
    """Evaluate candidate values on a sweep's paths: ``evaluator(list of values)``.

    Parameters
    ----------
    sweep : cascadesim.sweep.spec.Sweep
    paths : paths per candidate (default the sweep file's)
    workers : processes (1: this process); with ``scheduler`` the LocalCluster's workers
    scheduler : None, ``"local"`` or a Dask scheduler address
    """

    def __init__(
        self, sweep, paths: int | None = None, workers: int = 1, scheduler: str | None = None
    ) -> None:
        self.sweep = dataclasses.replace(
            sweep, spec=sweep.spec.model_copy(update={"common_random_numbers": True})
        )
        self.paths = sweep.spec.paths if paths is None else paths
        self.workers = workers
        self.scheduler = scheduler
        self.base_data = sweep.base.model_dump(exclude_unset=True)
        self.pool: ProcessPoolExecutor | None = None
        self.client: Any = None
        self.cluster: Any = None
        self.evaluated = 0

    def __enter__(self) -> SweepCandidates:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.client is not None:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
            self.client = self.cluster = None

    def batch_sweep(self, candidates: list[dict]):
        """The candidates as the design points of a sweep (validated like a design point)."""
        scenarios = [
            point_scenario(self.base_data, values, self.sweep.base, f"candidate {k}")
            for k, values in enumerate(candidates)
        ]
        return dataclasses.replace(
            self.sweep,
            parameters=list(candidates[0]),
            point_values=[dict(values) for values in candidates],
            scenarios=scenarios,
        )

    def __call__(self, candidates: list[dict]) -> list[dict]:
        """Each candidate's row of the points table (figures and their intervals)."""
        batch = self.batch_sweep(candidates)
        jobs = point_jobs(batch)
        chunks = plan_chunks(batch, self.paths, set(), self.workers)
        tables = self.run_chunks(jobs, chunks)
        table = pa.concat_tables(tables).sort_by([("point", "ascending"), ("path", "ascending")])
        figures, price_paths = split_tables(batch, table)
        points = points_frame(batch, figures.to_pandas(), price_paths)
        self.evaluated += len(candidates)
        return [
            {key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}
            for row in points.to_dict(orient="records")
        ]

    def run_chunks(self, jobs, chunks) -> list:
        if self.scheduler is not None:
            if self.client is None:
                from cascadesim._util.dask_client import connect  # lazy: Dask is optional

                if self.scheduler == "local":
                    warm_up(jobs[0])  # compile here once: the workers then load the cache
                self.client, self.cluster = connect(self.scheduler, self.workers)
                self.client.run(warm_up, jobs[0])
            futures = [
                self.client.submit(run_chunk, jobs[c.point], c.first, c.stop, pure=False)
                for c in chunks
            ]
            return [table for table, _ in self.client.gather(futures)]
        if self.workers == 1:
            return [run_chunk(jobs[c.point], c.first, c.stop)[0] for c in chunks]
        if self.pool is None:
            # Compile (or load) the kernels here first: processes compiling into one cache
            # at once can corrupt it.
            warm_up(jobs[0])
            self.pool = worker_pool(
                self.workers, initializer=initialize_worker, initargs=(jobs[0],)
            )
        futures = [self.pool.submit(run_chunk, jobs[c.point], c.first, c.stop) for c in chunks]
        return [future.result()[0] for future in futures]
