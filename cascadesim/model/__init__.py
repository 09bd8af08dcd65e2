"""Plain-Python descriptions of what the engine simulates: markets and assets
(:mod:`~cascadesim.model.market`), venue profiles and tier tables
(:mod:`~cascadesim.model.venues`), the liquidation-price calculator, population synthesis,
shocks and resource estimates.

Imports only :mod:`cascadesim.engine` (its codes and dtypes) and :mod:`cascadesim._util`;
imported by ``scenario``, ``sim`` and the layers above.
"""

from cascadesim.model.calculator import MarginFigures, liquidation_price
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.model.resources import BudgetExhausted, MemoryEstimate, RunBudget
from cascadesim.model.venues import VENUES

__all__ = [
    "VENUES",
    "AssetSpec",
    "BudgetExhausted",
    "EngineSetup",
    "MarginFigures",
    "MarketSpec",
    "MemoryEstimate",
    "PositionArrays",
    "RunBudget",
    "liquidation_price",
]
