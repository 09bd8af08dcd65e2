"""Collateral baskets refused in one line (the scenario's own [collateral.COIN] haircuts, a
basket on a venue or contract that cannot take one, coins no table knows, one depeg per coin
and venue), and a scenario's own haircut and fixed price used for its coin."""

from __future__ import annotations

import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.scenario.models import Scenario

BASE = """
name = "basket"
seed = 2
duration_s = 60
[assets.BTC]
spot_depth_1pct_usd = 2e9
[markets.BTC-binance]
asset = "BTC"
venue = "binance"
price_usd = 100_000
tick_usd = 10
open_interest_usd = 20e6
depth_1pct_usd = 5e6
[population]
accounts = 300
isolated_share = 0.2
collateral = { USDE = 0.7, USDT = 0.3 }
collateral_accounts_share = 0.5
[shock]
kind = "index_path"
asset = "all"
points = [[0, 1.0], [60, 1.0]]
"""


def refused(text: str) -> str:
    with pytest.raises(CascadesimInputError) as caught:
        Scenario.from_toml_text(text, "basket.toml").build(seed=1)
    message = str(caught.value)
    assert message.startswith("basket.toml: ") and "\n" not in message
    return message


@pytest.mark.parametrize(
    "change, message",
    [
        ("collateral = { USDE = 0.7, USDT = 0.2 }", "summing to 1 within 1e-6 (they sum to 0.9)"),
        ("collateral = {}", "at least one coin"),
        ('collateral = { "US DE" = 1.0 }', "coin 'US DE': letters, digits"),
    ],
)
def test_a_basket_that_is_not_fractions_of_named_coins_is_refused(change, message):
    text = BASE.replace("collateral = { USDE = 0.7, USDT = 0.3 }", change)
    assert message in refused(text)


def test_a_coin_needs_its_floors_and_ratios_together():
    text = BASE + "[collateral.USDE]\nfloors = [0, 1e6]\n"
    assert "floors and ratios together, or neither" in refused(text)


def test_a_coin_nobody_takes_is_refused_unless_the_scenario_gives_its_haircut():
    text = BASE.replace("USDE = 0.7", "WOW = 0.7")
    message = refused(text)
    assert "population.collateral.WOW = 0.7" in message
    assert "a coin among [assets], a stablecoin" in message
    # Its price given, but no venue table: still refused, for want of a haircut.
    priced = text + "[collateral.WOW]\nprice_usd = 2.0\n"
    assert "a coin binance takes as collateral in cascadesim's tables" in refused(priced)
    # With its own haircut tiers the scenario runs, the coin at its fixed price.
    own = priced + "floors = [0, 1e5]\nratios = [0.9, 0.5]\n"
    setup = Scenario.from_toml_text(own, "basket.toml").build(seed=1)
    holdings = setup.collateral
    assert holdings is not None
    wow = holdings.feeds.index("binance:WOW")
    assert holdings.feed_price[wow] == 2.0 and holdings.feed_asset[wow] == -1
    assert holdings.haircuts[wow] == ((0.0, 1e5), (0.9, 0.5))


def test_a_coin_margined_market_takes_no_basket():
    text = BASE.replace('venue = "binance"', 'venue = "bybit"\ncontract = "inverse"')
    assert "a coin-margined market's wallet is its coin" in refused(text)


def test_one_depeg_per_coin_and_venue_starting_before_the_end():
    move = '[[shock.collateral]]\ncoin = "USDE"\nvenue = "binance"\n'
    points = "points = [[0, 1.0], [30, 0.8]]\n"
    twice = BASE + move + points + move + points
    assert "one move per coin and venue (USDE)" in refused(twice)
    late = BASE + move + "points = [[90, 1.0], [120, 0.8]]\n"
    assert "starting before the end of the run (duration_s = 60)" in refused(late)


def test_a_depeg_alone_liquidates_basket_accounts_that_lose_nothing_on_the_index():
    """The index never moves: without the depeg nobody is liquidated; with Binance's own
    USDe price halved, accounts holding it are, none of them for a loss on a position."""
    from cascadesim.sim.driver import simulate

    calm = simulate(Scenario.from_toml_text(BASE, "basket.toml"), counterfactual=False)
    assert calm.summary["liquidated_total_usd"] == 0.0
    assert calm.summary["collateral"]["accounts_liquidated"] == 0
    depeg = '[[shock.collateral]]\ncoin = "USDE"\nvenue = "binance"\n'
    depeg += "points = [[0, 1.0], [10, 1.0], [30, 0.5], [60, 0.5]]\n"
    hit = simulate(Scenario.from_toml_text(BASE + depeg, "basket.toml"), counterfactual=False)
    collateral = hit.summary["collateral"]
    assert collateral["accounts_liquidated"] > 0
    assert collateral["accounts_liquidated_without_loss"] == collateral["accounts_liquidated"]
    assert hit.summary["liquidated_total_usd"] > 0.0
