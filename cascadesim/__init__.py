"""cascadesim: liquidation cascades in crypto perpetual-futures markets.

The public API (``simulate``, ``Scenario``, ``Result``, ``run_sweep``, ``liquidation_price``,
``RunBudget``) is imported on first use, so that importing the package (and
``cascadesim --help``) does not load numba, pandas or pydantic.
"""

from importlib import import_module
from typing import Any

from cascadesim._util.errors import CascadesimInputError
from cascadesim._version import __version__

_EXPORTS = {
    "simulate": "cascadesim.sim",
    "Result": "cascadesim.sim",
    "Scenario": "cascadesim.scenario",
    "run_sweep": "cascadesim.sweep",
    "liquidation_price": "cascadesim.model",
    "RunBudget": "cascadesim.model",
}
__all__ = ["CascadesimInputError", "__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cascadesim' has no attribute {name!r}")
