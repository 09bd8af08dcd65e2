"""Monte Carlo ensembles and parameter sweeps: sweep files, tasks with deterministic seeds,
the serial, process-pool and Dask backends, and the tables of paths and points.

Imports ``report``, ``sim``, ``scenario`` and below; imported by ``cli``.
"""

from importlib import import_module
from typing import Any

# Lazy: a worker process imports cascadesim.sweep.tasks (and so this package) to run its
# chunks; loading run.py here would load the reports and matplotlib (~0.6 s) in every worker.
_EXPORTS = {
    "SweepOutcome": "cascadesim.sweep.run",
    "run_sweep": "cascadesim.sweep.run",
    "Sweep": "cascadesim.sweep.spec",
    "load_sweep": "cascadesim.sweep.spec",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cascadesim.sweep' has no attribute {name!r}")
