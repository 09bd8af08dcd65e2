"""cascadesim: liquidation cascades in crypto perpetual-futures markets."""

from cascadesim._version import __version__
from cascadesim.errors import CascadesimInputError

__all__ = ["__version__", "CascadesimInputError"]
