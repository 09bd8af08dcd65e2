"""The observable-to-population model on hand-made inputs, and its scenario tables.

Expected figures follow from the model's formulas (cascadesim.model.observables) by hand.
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.toml import dump_toml
from cascadesim.model.observables import (
    MAX_SHARE,
    MarketObservables,
    PopulationModel,
    funding_excess,
    leveraged_share,
    long_share,
)
from cascadesim.scenario.bundled import resolve_scenario
from cascadesim.scenario.models import Scenario

MODEL = PopulationModel()


def test_neutral_funding_and_no_history_give_the_venue_base():
    for venue, base in (("binance", 0.08), ("htx", 0.12), ("hyperliquid", 0.6)):
        observed = MarketObservables(venue=venue)
        assert leveraged_share(MODEL, observed) == pytest.approx(base, rel=1e-12)
        assert long_share(MODEL, observed) == 0.5


def test_open_interest_growth_raises_the_leveraged_share():
    """Growth of 20 % over 7 days and 40 % over 30: the mean, 0.3, times oi_gain 1."""
    observed = MarketObservables(
        venue="binance", open_interest_change_7d=0.2, open_interest_change_30d=0.4
    )
    assert leveraged_share(MODEL, observed) == pytest.approx(0.08 * math.exp(0.3), rel=1e-12)
    only_week = MarketObservables(venue="binance", open_interest_change_7d=-0.1)
    assert leveraged_share(MODEL, only_week) == pytest.approx(0.08 * math.exp(-0.1), rel=1e-12)


def test_funding_is_read_per_eight_hours_whatever_the_interval():
    """0.03 % per 8 h is two neutral rates in excess; Hyperliquid's hourly 0.00375 % is the
    same 8-hour rate."""
    eight_hour = MarketObservables(venue="binance", funding_rate=0.0003)
    hourly = MarketObservables(
        venue="hyperliquid", funding_rate=0.0000375, funding_interval_s=3600.0
    )
    assert funding_excess(eight_hour) == pytest.approx(2.0, rel=1e-12)
    assert funding_excess(hourly) == pytest.approx(2.0, rel=1e-12)
    assert leveraged_share(MODEL, eight_hour) == pytest.approx(0.08 * math.exp(0.2), rel=1e-12)
    assert long_share(MODEL, eight_hour) == pytest.approx(1 / (1 + math.exp(-0.7)), rel=1e-12)


def test_long_share_chases_the_week_and_follows_the_account_ratio():
    rally = MarketObservables(venue="bybit", price_change_7d=0.1)
    assert long_share(MODEL, rally) == pytest.approx(1 / (1 + math.exp(-0.3)), rel=1e-12)
    two_to_one = MarketObservables(venue="bybit", long_short_account_ratio=2.0)
    # logistic(ln 2) = 2 / 3: two long accounts for each short one.
    assert long_share(MODEL, two_to_one) == pytest.approx(2.0 / 3.0, rel=1e-12)


def test_the_share_is_capped():
    crowded = MarketObservables(venue="hyperliquid", open_interest_change_30d=5.0)
    assert leveraged_share(MODEL, crowded) == MAX_SHARE


def test_an_unknown_venue_and_bad_parameters_are_refused():
    with pytest.raises(CascadesimInputError, match="venue"):
        leveraged_share(MODEL, MarketObservables(venue="nowhere"))
    with pytest.raises(CascadesimInputError, match="base_share_mid"):
        PopulationModel(base_share_mid=0.0).check()


# --- scenario tables -----------------------------------------------------------------------


def gentle(change: dict) -> dict:
    data = tomllib.loads(resolve_scenario("gentle").read_text())
    change(data)
    return data


def without_scale_keys(data: dict) -> None:
    del data["population"]["long_share"]
    del data["population"]["leveraged_share_of_open_interest"]
    data["population_model"] = {}
    data["markets"]["BTC-binance"]["observed"] = {
        "open_interest_change_30d": 0.25,
        "price_change_7d": 0.05,
        "source": "hand-made for the test",
    }


def test_a_scenario_population_comes_from_its_observables():
    """Binance at 0.02 % per 8 h (one neutral rate in excess), OI +25 % over 30 days, price
    +5 % over 7: leveraged share 0.08 exp(0.25 + 0.1), long share logistic(0.35 + 0.15)."""
    path = resolve_scenario("gentle")
    scenario = Scenario.from_data(gentle(without_scale_keys), path)
    population = scenario.population_for("BTC-binance")
    share = 0.08 * math.exp(0.25 + 0.1)
    longs = 1 / (1 + math.exp(-0.5))
    assert population.leveraged_share_of_open_interest == pytest.approx(share, rel=1e-12)
    assert population.long_share == pytest.approx(longs, rel=1e-12)
    positions = scenario.build().positions
    notional = positions.quantity * positions.entry_price
    long_notional = notional[positions.side > 0].sum()
    assert long_notional / notional.sum() == pytest.approx(longs, abs=0.02)
    # Both sides of the leveraged population together: its share of all position notional.
    assert notional.sum() / (2 * 20e6) == pytest.approx(share, rel=0.05)


def test_a_population_model_refuses_the_scale_keys_in_one_line():
    def with_scale_key(data):
        without_scale_keys(data)
        data["markets"]["BTC-binance"]["population"] = {"leveraged_share_of_open_interest": 0.2}

    text = dump_toml(gentle(with_scale_key))
    with pytest.raises(
        CascadesimInputError,
        match=r"markets\.BTC-binance\.population\.leveraged_share_of_open_interest",
    ):
        Scenario.from_toml_text(text, "gentle.toml")


def test_observed_figures_need_their_source():
    def unsourced(data):
        without_scale_keys(data)
        data["markets"]["BTC-binance"]["observed"]["source"] = ""

    with pytest.raises(CascadesimInputError, match="source"):
        Scenario.from_toml_text(dump_toml(gentle(unsourced)), "gentle.toml")


def test_scenarios_without_the_tables_dump_as_before():
    scenario = Scenario.from_toml(resolve_scenario("gentle"))
    dumped = scenario.model_dump()
    assert "population_model" not in dumped
    assert "observed" not in dumped["markets"]["BTC-binance"]
    assert np.isfinite(scenario.population.leveraged_share_of_open_interest)
