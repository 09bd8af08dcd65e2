"""``[[named_positions]]``: real accounts a venue publishes, added to the synthetic population.

On-chain venues publish the positions of every address (Hyperliquid's ``clearinghouseState``);
``cascadesim snapshot --addresses FILE`` writes the large ones here so that a run follows
them by name. Units are the venue's: coin and USD on a linear market, USD face value and
coin margin on an inverse one.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cascadesim._util.errors import invalid
from cascadesim.model.position_book import PositionBook, place_book
from cascadesim.scenario.base import PositiveFloat, StrictModel


class NamedPositionRow(StrictModel):
    """One position of a named account."""

    account: str = Field(min_length=1, max_length=128, description="the account or address")
    market: str = Field(max_length=200, description="name of a market in [markets]")
    side: Literal["long", "short"]
    quantity: PositiveFloat = Field(description="coin (linear) or USD face value (inverse)")
    entry_price: PositiveFloat = Field(description="USD")
    margin: PositiveFloat = Field(
        description="USD (linear) or coin (inverse): isolated margin, or the position's share "
        "of the account's cross wallet"
    )
    margin_mode: Literal["isolated", "cross"] = "isolated"
    leverage: float | None = Field(None, ge=1, le=1000, description="the venue's figure")


def check_named_markets(scenario) -> None:
    for k, row in enumerate(scenario.named_positions or ()):
        if row.market not in scenario.markets:
            raise invalid(
                f"named_positions[{k}].market",
                row.market,
                "a market of [markets]: " + ", ".join(scenario.markets),
            )


def with_named_positions(scenario, setup):
    """The setup with the scenario's named accounts added (their ids after the population's).

    Raises CascadesimInputError naming the first row already at or below maintenance margin
    at the start price (the engine would liquidate it before any shock).
    """
    rows = scenario.named_positions
    if not rows:
        return setup
    names = list(dict.fromkeys(row.account for row in rows))
    market_names = list(scenario.markets)
    book = PositionBook(
        account=np.asarray([names.index(r.account) for r in rows], dtype=np.int64),
        account_names=names,
        market=np.asarray([market_names.index(r.market) for r in rows], dtype=np.int32),
        side=np.asarray([1 if r.side == "long" else -1 for r in rows], dtype=np.int8),
        quantity=np.asarray([r.quantity for r in rows], dtype=np.float64),
        entry_price=np.asarray([r.entry_price for r in rows], dtype=np.float64),
        margin=np.asarray([r.margin for r in rows], dtype=np.float64),
        cross=np.asarray([r.margin_mode == "cross" for r in rows], dtype=bool),
        leverage=np.asarray([np.nan if r.leverage is None else r.leverage for r in rows]),
        row=np.arange(len(rows), dtype=np.int64),
        source="named_positions",
    )
    placement = place_book(setup, book, replace=False)
    if len(placement.breached):
        k = int(placement.breached.row[0])
        raise invalid(
            f"named_positions[{k}].margin",
            rows[k].margin,
            "a position above maintenance margin at the market's price_usd (it would be "
            "liquidated before the shock)",
        )
    labels = dict(placement.setup.labels)
    labels["named_accounts"] = {
        "accounts": names,
        "first_account": int(setup.n_accounts or 0),
        "owner": placement.owner.tolist()[int(setup.n_accounts or 0) :],
    }
    placement.setup.labels = labels
    return placement.setup
