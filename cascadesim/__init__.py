"""cascadesim: liquidation cascades in crypto perpetual-futures markets.

``simulate`` and ``Scenario`` are imported on first use, so that importing the package (and
``cascadesim --help``) does not load numba or pydantic.
"""

from cascadesim._version import __version__
from cascadesim.errors import CascadesimInputError

__all__ = ["__version__", "CascadesimInputError", "Scenario", "simulate"]


def __getattr__(name: str):
    if name == "simulate":
        from cascadesim.simulation import simulate

        return simulate
    if name == "Scenario":
        from cascadesim.scenario import Scenario

        return Scenario
    raise AttributeError(f"module 'cascadesim' has no attribute {name!r}")
