"""Monte Carlo ensembles and parameter sweeps: sweep files, tasks with deterministic seeds,
the serial, process-pool and Dask backends, and the tables of paths and points.

Imports ``report``, ``sim``, ``scenario`` and below; imported by ``cli``.
"""

from cascadesim.sweep.run import SweepOutcome, run_sweep
from cascadesim.sweep.spec import Sweep, load_sweep

__all__ = ["Sweep", "SweepOutcome", "load_sweep", "run_sweep"]
