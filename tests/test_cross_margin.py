"""Cross-margin accounts: hand-made cases, each checked against the pure-Python reference.

A cross account holds one position in each of several markets of one venue, with one wallet:
it is liquidated when its equity falls to its summed maintenance margin, and its positions
are then closed in the venue's order until it is safe again.
"""

from __future__ import annotations

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.engine import layout
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.sim.driver import simulate
from tests.test_engine_differential import assert_same_run

PRICE = 1000.0
MMR = 0.01


def two_markets(positions, paths, *, cross=True, venue="binance", **market) -> EngineSetup:
    """Markets M0 (asset A0) and M1 (asset A1) on one venue, both at PRICE.

    ``positions``: (market, account, side, quantity, entry, margin) rows; ``paths``: the two
    index paths.
    """
    defaults = dict(
        price=PRICE,
        tick_size=0.5,
        depth_1pct_usd=5e8,
        venue=venue,
        arbitrage_capacity_usd_per_s=0.0,
        withdrawal_vol_sensitivity=0.0,
        withdrawal_flow_sensitivity=0.0,
        partial_mode="none",
        mark_rule="index",
        tier_floor_usd=(0.0,),
        tier_mmr=(MMR,),
        tier_max_leverage=(50.0,),
    )
    defaults.update(market)
    specs = [MarketSpec(name=f"M{m}", asset=f"A{m}", **defaults) for m in range(2)]
    columns = [np.asarray(column) for column in zip(*positions, strict=True)]
    arrays = PositionArrays(
        market=columns[0].astype(np.int32),
        account=columns[1].astype(np.int64),
        side=columns[2].astype(np.int8),
        quantity=columns[3].astype(np.float64),
        entry_price=columns[4].astype(np.float64),
        margin=columns[5].astype(np.float64),
        cross=np.full(len(positions), cross),
    )
    return EngineSetup(
        markets=specs,
        assets=[AssetSpec(name="A0"), AssetSpec(name="A1")],
        positions=arrays,
        index_path=np.column_stack(paths),
    )


def slide(n_steps: int, move: float, start: int = 5, length: int = 40) -> np.ndarray:
    t = np.arange(n_steps + 1)
    return PRICE * (1.0 + move * np.clip((t - start) / length, 0.0, 1.0))


def test_a_hedged_cross_account_survives_what_liquidates_its_isolated_twin():
    """Long M0 at 20x and short M1 at 20x; both assets fall 8 %. Isolated, the long is
    liquidated; in one wallet the short's gain carries the long."""
    notional = 10.0 * PRICE
    positions = [(0, 0, 1, 10.0, PRICE, notional / 20.0), (1, 0, -1, 10.0, PRICE, notional / 20.0)]
    paths = [slide(80, -0.08), slide(80, -0.08)]
    isolated = two_markets(
        [(m, k, s, q, e, g) for k, (m, _, s, q, e, g) in enumerate(positions)], paths, cross=False
    )
    _, reference = assert_same_run(isolated)
    assert reference["status"][0] == layout.STATUS_LIQUIDATED
    crossed = two_markets(positions, paths)
    _, reference = assert_same_run(crossed)
    assert reference["events"].size == 0
    assert list(reference["status"]) == [layout.STATUS_OPEN, layout.STATUS_OPEN]


def test_breached_account_closes_its_largest_maintenance_first_and_keeps_the_rest():
    """Two longs in one wallet; the account falls to its summed maintenance margin. The
    larger position (larger maintenance) is closed first; what it frees leaves the account
    safe, so the smaller one stays open."""
    positions = [
        (0, 0, 1, 4.0, PRICE, 4.0 * PRICE / 12.0),
        (1, 0, 1, 20.0, PRICE, 20.0 * PRICE / 12.0),
    ]
    # Wallet 2,000 USD; losses of 1,000 (M0) and 800 (M1) at the end would leave 200 USD
    # against about 220 USD of maintenance: the account breaches near the end of the slide.
    paths = [slide(100, -0.25), slide(100, -0.04)]
    _, reference = assert_same_run(two_markets(positions, paths, liquidation_fee_rate=0.0))
    events = reference["events"]
    assert events.size > 0
    assert events["market"][0] == 1  # the 20-unit position: the larger maintenance margin
    assert set(events["account"]) == {0}
    status = reference["status"]
    assert status[1] == layout.STATUS_LIQUIDATED
    assert status[0] == layout.STATUS_OPEN
    # Isolated, the small 12x long would have gone at a 20 % fall.
    _, isolated = assert_same_run(
        two_markets(
            [
                (0, 0, 1, 4.0, PRICE, 4.0 * PRICE / 12.0),
                (1, 1, 1, 20.0, PRICE, 20.0 * PRICE / 12.0),
            ],
            paths,
            cross=False,
            liquidation_fee_rate=0.0,
        )
    )
    assert isolated["status"][0] == layout.STATUS_LIQUIDATED


def test_largest_loss_order_closes_the_losing_market_first():
    """Same account under the largest-loss rule: M0's loss (4 x 250 USD per unit of the
    slide's progress) exceeds M1's (20 x 40), so M0 goes first."""
    positions = [
        (0, 0, 1, 4.0, PRICE, 4.0 * PRICE / 12.0),
        (1, 0, 1, 20.0, PRICE, 20.0 * PRICE / 12.0),
    ]
    paths = [slide(100, -0.25), slide(100, -0.04)]
    _, reference = assert_same_run(
        two_markets(positions, paths, liquidation_fee_rate=0.0, cross_close_order="largest_loss")
    )
    assert reference["events"]["market"][0] == 0


def test_hyperliquid_account_below_two_thirds_of_maintenance_goes_to_the_backstop_whole():
    """A gap takes the account's equity below 2/3 of its maintenance margin between two
    steps: the backstop vault takes both positions with the account's collateral."""
    positions = [
        (0, 0, 1, 10.0, PRICE, 10.0 * PRICE / 40.0),
        (1, 0, 1, 10.0, PRICE, 10.0 * PRICE / 40.0),
    ]
    path = np.full(41, PRICE)
    path[20:] *= 0.975  # equity 2.5 % -> 0, against maintenance of 1 %
    _, reference = assert_same_run(
        two_markets(
            positions,
            [path, path.copy()],
            venue="hyperliquid",
            mark_rule="index",
            partial_mode="chunks",
            limit_mode="slippage",
            takeover_mode="backstop",
            adl_rank_rule="hyperliquid",
            backstop_equity_fraction=2.0 / 3.0,
            backstop_usd=1e7,
            liquidation_fee_rate=0.0,
            insurance_fund_usd=0.0,
            fund_unwind_usd_per_s=0.0,
        )
    )
    events = reference["events"]
    assert list(events["kind"]) == [layout.KIND_BACKSTOP, layout.KIND_BACKSTOP]
    assert sorted(events["market"]) == [0, 1]
    assert reference["agents"]["backstop_quantity"].tolist() == pytest.approx([10.0, 10.0])


@pytest.mark.parametrize(
    "change, message",
    [
        ("two_in_one_market", "at most one long and one short per market"),
        ("mixed_modes", "one margin mode per account"),
        ("two_venues", "on one venue"),
    ],
)
def test_malformed_cross_accounts_are_rejected_in_one_line(change, message):
    positions = [(0, 0, 1, 1.0, PRICE, 100.0), (1, 0, 1, 1.0, PRICE, 100.0)]
    setup = two_markets(positions, [slide(10, 0.0), slide(10, 0.0)])
    cross = setup.positions.cross.copy()
    market = setup.positions.market.copy()
    markets = setup.markets
    if change == "two_in_one_market":
        market[1] = 0
    elif change == "mixed_modes":
        cross[1] = False
    else:
        markets = [markets[0], MarketSpec(**{**markets[1].__dict__, "venue": "bybit"})]
    setup.positions.cross[:] = cross
    setup.positions.market[:] = market
    setup.markets = markets
    with pytest.raises(CascadesimInputError, match=message) as raised:
        simulate(setup, counterfactual=False)
    assert "\n" not in str(raised.value)
