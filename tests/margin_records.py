"""One market's parameter record for calling the margin kernels directly in tests."""

from __future__ import annotations

import numpy as np

from cascadesim.engine import layout
from cascadesim.model.market import write_tiers


def market_record(
    floors,
    mmr,
    amounts,
    basis: int = layout.MM_BASIS_MARK,
    fee_rate: float = 0.0,
    tier_price: float = 0.0,
    tick: float = 0.0,
    rounding: int = layout.BANKRUPTCY_EXACT,
):
    """A ``market_params_dtype`` record with these tiers and this convention."""
    # A record array: its rows are np.record, whose fields the kernels read as attributes,
    # compiled or (NUMBA_DISABLE_JIT=1) as Python; a plain structured row (np.void) has none.
    params = np.zeros(1, dtype=layout.market_params_dtype(len(floors))).view(np.recarray)
    row = params[0]
    write_tiers(row, floors, mmr, amounts, np.ones(len(floors)))
    row["mm_basis"] = basis
    row["liquidation_fee_rate"] = fee_rate
    row["tier_price_usd"] = tier_price
    row["tick_size"] = tick
    row["bankruptcy_rounding"] = rounding
    return params
