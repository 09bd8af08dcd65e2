"""The scenario writer on hand-made snapshots: what it keeps, converts, holds and leaves out."""

from __future__ import annotations

import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.toml import load_toml
from cascadesim.marketdata.observation import MarketSnapshot, Snapshot, Sourced
from cascadesim.marketdata.scenario_file import StressShock, scenario_text
from cascadesim.scenario.models import Scenario

T = 1758499200000.0


def value(x, endpoint="GET /test"):
    return Sourced(x, "binance", endpoint, T)


def market(asset="BTC", venue="binance", **changes) -> MarketSnapshot:
    fields = dict(
        venue=venue,
        asset=asset,
        symbol=f"{asset}/USDT:USDT",
        mark=value(100_000.0),
        index=value(99_990.0),
        open_interest_usd=value(5e9),
        funding_rate=value(0.0002),
        funding_interval_s=value(4 * 3600.0),
        depth_usd=value({0.01: (1e8, 1.2e8), 0.02: (2e8, 2.2e8), 0.05: (4e8, 4.4e8)}),
        depth_shape=value(0.9),
        volume_24h_usd=value(1e10),
    )
    fields.update(changes)
    return MarketSnapshot(**fields)


def written(*markets, problems=()):
    snapshot = Snapshot(list(markets), taken_ms=T, command="test", problems=list(problems))
    return scenario_text(snapshot, name="t", shock=StressShock(drop_fraction=0.07))


def test_funding_on_a_shorter_interval_is_converted_to_the_profiles():
    data = load_toml(written(market()))
    # 0.02 % per 4 h is 0.04 % per Binance's profile interval of 8 h.
    assert data["markets"]["BTC-binance"]["funding_rate"] == pytest.approx(0.0004)
    assert data["markets"]["BTC-binance"]["depth_1pct_usd"] == pytest.approx(1.1e8)
    assert data["assets"]["BTC"]["price_usd"] == 99_990.0
    assert data["shock"] == {
        "kind": "index_jump",
        "asset": "all",
        "drop_fraction": 0.07,
        "at_s": 300,
        "ramp_s": 300,
    }


def test_a_market_without_depth_or_with_an_empty_book_is_left_out_with_a_line():
    text = written(
        market(),
        market(asset="ETH", depth_usd=None),
        market(asset="SOL", depth_usd=value({0.01: (0.0, 0.0)})),
    )
    scenario = Scenario.from_toml_text(text)
    assert list(scenario.markets) == ["BTC-binance"]
    problems = scenario.snapshot.problems
    assert "ETH-binance: left out: no order book" in problems
    assert "SOL-binance: left out: depth within 1 % not above zero" in problems


def test_unusable_tiers_fall_back_to_the_profile_with_a_line():
    decreasing = value([(0.0, 0.01, 50.0, None), (1e6, 0.005, 25.0, None)])
    scenario = Scenario.from_toml_text(written(market(tiers=decreasing)))
    assert scenario.markets["BTC-binance"].tiers is None
    assert any("tiers read but not usable" in line for line in scenario.snapshot.problems)


def test_observed_figures_are_held_to_the_models_range_and_say_so():
    history = value([(T - 30 * 86_400_000, 1e8), (T - 7 * 86_400_000, 2e8), (T, 5e9)])
    text = written(market(open_interest_history=history))
    observed = load_toml(text)["markets"]["BTC-binance"]["observed"]
    assert observed["open_interest_change_30d"] == 10.0  # read 49: a new listing's growth
    assert observed["open_interest_change_7d"] == 10.0  # read 24
    assert "held to the model's range" in observed["source"]


def test_nothing_usable_is_an_error_naming_the_first_problem():
    with pytest.raises(CascadesimInputError, match="no market with a price"):
        written(market(open_interest_usd=None), problems=["okx: unreachable: NetworkError"])
