"""Running the engine: state from a setup, the run driver and the :class:`Result`.

Imports :mod:`cascadesim.model` and :mod:`cascadesim.engine`; imported by ``events``,
``sweep``, ``report`` and ``cli``.
"""

from cascadesim.sim.driver import ProgressCallback, run_path, simulate
from cascadesim.sim.outcome import BookSnapshot, PathOutcome
from cascadesim.sim.result import Result

__all__ = ["BookSnapshot", "PathOutcome", "ProgressCallback", "Result", "run_path", "simulate"]
