"""The venue profiles against the venues' published funding rules and their worked numbers.

Sources (as cited in ``cascadesim/venues.py``): Binance "Introduction to Binance Futures
Funding Rates" (F = P + clamp(I - P, +-0.05 %), I = 0.01 % per 8 h, so F equals I whenever
the premium index lies within [-0.04 %, +0.06 %]; a 20,000 USD position at 0.01 % pays
2 USD per settlement); the capped rate is clamp(F, +-0.75 x the first bracket's MMR).
Hyperliquid docs "Funding": the 8-hour formula with I = 0.01 % and a +-0.05 % clamp, paid
hourly at one eighth, capped at 4 % per hour. OKX help 360053909272: no interest term and no
dampener, the premium clamped to +-0.375 % for BTC, +-0.75 % for ETH, +-1.5 % for others.
"""

from __future__ import annotations

import numpy as np
import pytest

from cascadesim.engine.pricing import funding_rate
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.model.venues import VENUES
from cascadesim.sim.driver import simulate


def venue_rate(venue: str, premium: float, asset: str = "BTC") -> float:
    profile = VENUES[venue]
    return funding_rate(
        premium,
        profile.funding_interest_rate,
        profile.funding_clamp,
        profile.funding_cap_for(asset),
    )


@pytest.mark.parametrize("premium", [-0.0004, -0.0001, 0.0, 0.0003, 0.0006])
def test_binance_rate_is_the_interest_rate_inside_the_dampener_band(premium):
    assert venue_rate("binance", premium) == pytest.approx(0.0001, abs=1e-15)


@pytest.mark.parametrize(
    "premium, expected",
    [
        (0.0010, 0.0005),  # P - 0.05 %
        (-0.0020, -0.0015),  # P + 0.05 %
        (0.0100, 0.0030),  # capped at 0.75 x 0.4 % for BTC
        (-0.0100, -0.0030),
    ],
)
def test_binance_rate_outside_the_band_and_at_the_cap(premium, expected):
    assert venue_rate("binance", premium) == pytest.approx(expected, abs=1e-15)


def test_binance_altcoin_cap_is_three_quarters_of_the_first_bracket():
    assert venue_rate("binance", 0.05, asset="DOGE") == pytest.approx(0.75 * 0.015)


def test_hyperliquid_pays_an_eighth_of_the_eight_hour_rate_every_hour():
    assert venue_rate("hyperliquid", 0.0) == pytest.approx(0.0001 / 8.0)
    # A premium of 0.08 %/h is outside the hourly dampener (0.05 %/8): F = P - clamp.
    assert venue_rate("hyperliquid", 0.0008) == pytest.approx(0.0008 - 0.0005 / 8.0)
    assert venue_rate("hyperliquid", 0.5) == pytest.approx(0.04)  # 4 % per hour cap
    assert VENUES["hyperliquid"].funding_interval_s == 3600.0


@pytest.mark.parametrize("asset, cap", [("BTC", 0.00375), ("ETH", 0.0075), ("SOL", 0.015)])
def test_okx_rate_is_the_premium_clamped_per_asset(asset, cap):
    assert venue_rate("okx", 0.001, asset) == pytest.approx(0.001)
    assert venue_rate("okx", 0.5, asset) == pytest.approx(cap)
    assert venue_rate("okx", -0.5, asset) == pytest.approx(-cap)


def test_a_20000_usd_long_pays_2_usd_at_a_binance_settlement():
    """The engine's settlement on a flat market at the neutral rate: 20,000 USD x 0.01 %."""
    price = 100_000.0
    spec = MarketSpec(
        name="BTC",
        asset="BTC",
        price=price,
        tick_size=10.0,
        funding_interval_s=10.0,
        time_to_first_funding_s=10.0,
        funding_rate_initial=0.0001,
        mark_rule="index",
        arbitrage_capacity_usd_per_s=0.0,
        withdrawal_vol_sensitivity=0.0,
        withdrawal_flow_sensitivity=0.0,
    )
    positions = PositionArrays(
        market=np.zeros(2, np.int32),
        account=np.arange(2),
        side=np.array([1, -1], np.int8),
        quantity=np.full(2, 0.2),
        entry_price=np.full(2, price),
        margin=np.full(2, 2_000.0),
    )
    setup = EngineSetup(
        markets=[spec],
        assets=[AssetSpec(name="BTC")],
        positions=positions,
        index_path=np.full((11, 1), price),
    )
    result = simulate(setup, counterfactual=False)
    state = result.outcome.state
    rate = float(result.timeline["funding_rate"].iloc[-1])
    assert rate == pytest.approx(0.0001, rel=1e-6)
    assert 0.2 * float(state.funding_per_unit[0]) == pytest.approx(2.0, rel=1e-6)
