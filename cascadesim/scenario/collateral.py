"""Collateral baskets in scenario files: the tables, their checks and the engine's holdings.

A population may hold its cross accounts' margin in a basket of coins
(``collateral = { USDT = 0.6, BTC = 0.3, USDE = 0.1 }``, fractions of the basket's market
value), on a share of its cross accounts (``collateral_accounts_share``). Each coin is valued
at the venue's own price for it: the index of a coin that is a simulated asset, else its
``[collateral.COIN] price_usd`` (stablecoins: 1 USD), times the venue's factor from the
shock's ``[[shock.collateral]]`` moves (a depeg on one venue alone). Haircuts are the venue's
(:mod:`cascadesim.model.collateral_tables`) unless ``[collateral.COIN]`` gives its own.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from cascadesim._util.errors import invalid
from cascadesim.model.collateral import CollateralHoldings, basket_units, haircut_problem
from cascadesim.model.collateral_tables import STABLECOINS, collateral_rule
from cascadesim.model.shocks import piecewise_factor, step_times
from cascadesim.model.venues import VENUES
from cascadesim.scenario.base import (
    NAME_PATTERN,
    VENUE_NAMES,
    Fraction,
    NonNegativeFloat,
    PositiveFloat,
    StrictModel,
    TimePoint,
    check_points,
)

# Venues whose perpetuals take one settlement coin as margin and nothing else.
SINGLE_COLLATERAL_VENUES = {
    "hyperliquid": "Hyperliquid margins its perpetuals in USDC only",
    "dydx": "dYdX v4 margins its perpetuals in USDC only",
}


class CollateralMove(StrictModel):
    """A coin's price on one venue (or on all) as a fraction of its reference price."""

    coin: str = Field(pattern=NAME_PATTERN, description="a coin held in a collateral basket")
    venue: Literal[("all", *VENUE_NAMES)] = Field(  # type: ignore[valid-type]
        "all", description="the venue whose own price moves, or 'all'"
    )
    points: list[TimePoint] = Field(
        description="[[seconds, fraction of the reference price], ...]: 0.65 is a depeg to "
        "65 % of the coin's index (or of its price_usd)"
    )

    @field_validator("points")
    @classmethod
    def valid_points(cls, points):
        return check_points(points, "fraction of the reference price")


class CollateralCoin(StrictModel):
    """A coin held as collateral: its reference price and, optionally, its own haircut."""

    price_usd: PositiveFloat | None = Field(
        None,
        description="USD reference price of a coin that is not among [assets] "
        "(stablecoins default to 1)",
    )
    floors: list[NonNegativeFloat] | None = Field(
        None,
        description="coins held where each haircut tier starts: 0 first, then increasing "
        "(replaces every venue's table for this coin)",
    )
    ratios: list[Fraction] | None = Field(
        None, description="fraction of the value counted inside each tier, one per floor"
    )

    @model_validator(mode="after")
    def one_ratio_per_floor(self) -> CollateralCoin:
        if (self.floors is None) != (self.ratios is None):
            raise ValueError("floors and ratios together, or neither")
        if self.floors is not None and self.ratios is not None:
            problem = haircut_problem(self.floors, self.ratios)
            if problem is not None:
                field, allowed = problem
                raise ValueError(f"{field} {getattr(self, field)}: {allowed}")
        return self


def basket_shares(basket: dict[str, float]) -> dict[str, float]:
    """Validator of ``population.collateral``: coin names, fractions summing to 1."""
    if not basket:
        raise ValueError("at least one coin")
    for coin in basket:
        if not _name_ok(coin):
            raise ValueError(f"coin {coin!r}: letters, digits, '.', '_' or '-'")
    total = sum(basket.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"fractions of the basket summing to 1 within 1e-6 (they sum to {total:.6g})"
        )
    return {coin.upper(): share for coin, share in basket.items()}


def _name_ok(name: str) -> bool:
    return re.match(NAME_PATTERN, name) is not None


# --- checks -------------------------------------------------------------------------------
def check_collateral(scenario) -> None:
    """Baskets, coins, venues and moves fit together; one line naming the field otherwise."""
    coins = {name.upper(): coin for name, coin in (scenario.collateral or {}).items()}
    held: set[str] = set()
    venues_held: set[str] = set()
    for name, market in scenario.markets.items():
        population = scenario.population_for(name)
        where = (
            f"markets.{name}.population"
            if market.population is not None and "collateral" in market.population.model_fields_set
            else "population"
        )
        if population.hedged_pair_share > 0 and not VENUES[market.venue].hedge_mode:
            raise invalid(
                f"{where}.hedged_pair_share",
                population.hedged_pair_share,
                f"0 on {market.venue}, which has one-way positions only (no hedge mode)",
            )
        if population.collateral is None:
            continue
        if market.venue in SINGLE_COLLATERAL_VENUES:
            raise invalid(
                f"{where}.collateral",
                population.collateral,
                f"no basket on market {name}: {SINGLE_COLLATERAL_VENUES[market.venue]}",
            )
        if market.contract != "linear":
            raise invalid(
                f"{where}.collateral",
                population.collateral,
                f"no basket on market {name}: a coin-margined market's wallet is its coin",
            )
        if population.isolated_share >= 1.0:
            raise invalid(
                f"{where}.isolated_share",
                population.isolated_share,
                "below 1 with a collateral basket: multi-asset margin is cross margin only",
            )
        for coin in population.collateral:
            if (
                coin not in scenario.assets
                and coin not in STABLECOINS
                and (coins.get(coin) is None or coins[coin].price_usd is None)
            ):
                raise invalid(
                    f"{where}.collateral.{coin}",
                    population.collateral[coin],
                    f"a coin among [assets], a stablecoin ({', '.join(STABLECOINS)}) or one "
                    f"with [collateral.{coin}] price_usd",
                )
            own = coins.get(coin)
            if (own is None or own.floors is None) and collateral_rule(market.venue, coin) is None:
                raise invalid(
                    f"{where}.collateral.{coin}",
                    population.collateral[coin],
                    f"a coin {market.venue} takes as collateral in cascadesim's tables, or "
                    f"[collateral.{coin}] floors and ratios (its haircut)",
                )
            held.add(coin)
        venues_held.add(market.venue)
    seen: set[tuple[str, str]] = set()
    for k, move in enumerate(scenario.shock.collateral):
        where = f"shock.collateral[{k}]"
        coin = move.coin.upper()
        if coin not in held:
            raise invalid(f"{where}.coin", move.coin, "a coin held in a population's collateral")
        if move.venue != "all" and move.venue not in venues_held:
            raise invalid(
                f"{where}.venue",
                move.venue,
                "'all' or a venue whose accounts hold collateral: "
                + ", ".join(sorted(venues_held)),
            )
        key = (coin, move.venue)
        if (
            key in seen
            or (coin, "all") in seen
            or (move.venue == "all" and any(c == coin for c, _ in seen))
        ):
            raise invalid(f"{where}.venue", move.venue, f"one move per coin and venue ({coin})")
        seen.add(key)
        if move.points[0][0] >= scenario.duration_s:
            raise invalid(
                f"{where}.points",
                move.points[0],
                f"starting before the end of the run (duration_s = {scenario.duration_s:g})",
            )


# --- building -----------------------------------------------------------------------------
def collateral_holdings(scenario, specs, positions, n_accounts: int, index_path, seed: int):
    """The engine's :class:`CollateralHoldings` for a built population, or None.

    Each cross account takes the basket of the population of its first market (its venue's
    markets share one wallet); a share ``collateral_accounts_share`` of them holds it, drawn
    from the stream (seed, 2), so that the positions' draws stay as they were. The basket is
    sized so that its counted value is the account's margin at the start.
    """
    names = list(scenario.markets)
    populations = [scenario.population_for(name) for name in names]
    if all(p.collateral is None for p in populations) or positions.cross is None:
        return None
    account = np.asarray(positions.account)
    cross = np.asarray(positions.cross, dtype=np.bool_)
    margin = np.bincount(account, weights=np.asarray(positions.margin), minlength=n_accounts)
    # First market of each cross account (rows are in market order).
    accounts, first = np.unique(account[cross], return_index=True)
    first_market = np.asarray(positions.market)[np.flatnonzero(cross)[first]]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    draw = rng.random(accounts.size)
    coins_table = {name.upper(): coin for name, coin in (scenario.collateral or {}).items()}
    feeds: dict[tuple[str, str], int] = {}
    holders, feed_rows, units_rows = [], [], []
    times = step_times(scenario.n_steps, scenario.step_s)
    asset_names = list(scenario.assets)
    for m, population in enumerate(populations):
        if population.collateral is None:
            continue
        venue = specs[m].venue
        chosen = accounts[(first_market == m) & (draw < population.collateral_accounts_share)]
        if chosen.size == 0:
            continue
        coins = list(population.collateral)
        shares = np.asarray([population.collateral[c] for c in coins])
        feed_ids = [feeds.setdefault((venue, coin), len(feeds)) for coin in coins]
        haircuts = [haircut_of(venue, coin, coins_table) for coin in coins]
        start = np.asarray(
            [
                feed_reference(coin, asset_names, coins_table, index_path)[0]
                * move_factor(scenario, venue, coin, times)[0]
                for coin in coins
            ]
        )
        where = f"markets.{names[m]}: population.collateral"
        units = basket_units(shares, start, haircuts, margin[chosen], where)
        for k, f in enumerate(feed_ids):
            holders.append(chosen)
            feed_rows.append(np.full(chosen.size, f, dtype=np.int32))
            units_rows.append(units[:, k])
    if not feeds:
        return None
    ordered = sorted(feeds, key=feeds.__getitem__)
    factor = np.ones((scenario.n_steps + 1, len(ordered)))
    feed_asset, feed_price, haircuts_out = [], [], []
    for f, (venue, coin) in enumerate(ordered):
        factor[:, f] = move_factor(scenario, venue, coin, times)
        asset = asset_names.index(coin) if coin in asset_names else -1
        feed_asset.append(asset)
        own = coins_table.get(coin)
        feed_price.append(1.0 if own is None or own.price_usd is None else own.price_usd)
        haircuts_out.append(haircut_of(venue, coin, coins_table))
    return CollateralHoldings(
        feeds=tuple(f"{venue}:{coin}" for venue, coin in ordered),
        factor=factor,
        feed_asset=tuple(feed_asset),
        feed_price=tuple(feed_price),
        haircuts=tuple(haircuts_out),
        account=np.concatenate(holders),
        feed=np.concatenate(feed_rows),
        units=np.concatenate(units_rows),
    )


def haircut_of(venue: str, coin: str, coins_table: dict):
    """The scenario's own haircut for ``coin``, else the venue's."""
    own = coins_table.get(coin)
    if own is not None and own.floors is not None:
        return (tuple(own.floors), tuple(own.ratios))
    rule = collateral_rule(venue, coin)
    assert rule is not None  # check_collateral refused the scenario otherwise
    return rule.haircut


def feed_reference(coin: str, asset_names: list[str], coins_table: dict, index_path) -> np.ndarray:
    """Reference USD price of ``coin`` per step: its asset's index, or its fixed price."""
    if coin in asset_names:
        return np.asarray(index_path[:, asset_names.index(coin)], dtype=np.float64)
    own = coins_table.get(coin)
    price = 1.0 if own is None or own.price_usd is None else own.price_usd
    return np.full(index_path.shape[0], price)


def move_factor(scenario, venue: str, coin: str, times: np.ndarray) -> np.ndarray:
    """The venue's price of ``coin`` over its reference per step (1 without a move)."""
    for move in scenario.shock.collateral:
        if move.coin.upper() == coin and move.venue in ("all", venue):
            return piecewise_factor(times, move.points)
    return np.ones(times.size)


def estimated_rules(holdings: CollateralHoldings | None, scenario) -> list[str]:
    """Feeds whose haircut is an estimate (the venue's table, not the scenario's own)."""
    if holdings is None:
        return []
    own = {name.upper() for name, coin in (scenario.collateral or {}).items() if coin.floors}
    notes = []
    for name in holdings.feeds:
        venue, coin = name.split(":", 1)
        rule = collateral_rule(venue, coin)
        if coin not in own and rule is not None and rule.estimate:
            notes.append(f"{name} haircut: {rule.source}")
    return notes
