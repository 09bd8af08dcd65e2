"""Random small engine setups for the differential and property tests of the step loop.

Hypothesis draws the structure (how many markets and positions, which venue rules, which
shocks, how big the fund is) and a seed; the numbers inside (entries, leverage, depth, tier
floors) come from a numpy generator on that seed, so that one example stays cheap to draw
while the choices that change the code path are shrinkable.

Every setup respects what :func:`cascadesim.simulate` validates: tick sizes that let the
window span 20 % of the price and at most 1 % of it, and positions strictly above
maintenance margin at the start price.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

from cascadesim.model.flow import FlowMarket, draw_flow
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from tests.reference import margin_reference

VARIANTS = ("binance", "bybit", "okx", "hyperliquid", "dydx", "mixed")


def venue_rules(variant: str, rng: np.random.Generator) -> dict:
    """Mark, partial, limit, takeover and ADL rules of a venue family (or a random mix)."""
    if variant == "binance":
        return dict(
            mark_rule="binance",
            partial_mode="tier_step_down",
            limit_mode="bankruptcy",
            takeover_mode="insurance",
            adl_rank_rule="pnl_leverage",
            fund_notional_cap_ratio=1.0,
        )
    if variant == "okx":
        return dict(
            mark_rule="index_basis",
            partial_mode="tier_step_down",
            limit_mode="bankruptcy",
            takeover_mode="insurance",
            adl_rank_rule="pnl_leverage",
            adl_price_rule="mark",
            fund_drawdown_trigger=0.3,
            fund_drawdown_window_s=float(rng.uniform(5.0, 200.0)),
        )
    if variant == "bybit":
        return dict(
            mark_rule="binance",
            partial_mode="tier_step_down",
            limit_mode="bankruptcy",
            takeover_mode="insurance",
            adl_rank_rule="pnl_leverage",
            mm_basis="entry",
            bankruptcy_rounding="tick_against_trader",
        )
    if variant == "okx":
        return dict(
            mark_rule="index_basis",
            partial_mode="tier_step_down",
            limit_mode="bankruptcy",
            takeover_mode="insurance",
            adl_rank_rule="pnl_leverage",
            mm_basis="mark_with_fee",
        )
    if variant == "hyperliquid":
        return dict(
            mark_rule="hyperliquid",
            partial_mode="chunks",
            limit_mode="slippage",
            takeover_mode="backstop",
            adl_rank_rule="hyperliquid",
            adl_price_rule="previous_mark",
        )
    if variant == "dydx":
        return dict(
            mark_rule="index",
            partial_mode="none",
            limit_mode="fillable",
            takeover_mode="negative_equity",
            adl_rank_rule="pnl_leverage",
            fillable_spread_ratio=float(rng.uniform(0.05, 1.0)),
        )
    return dict(
        mark_rule=str(rng.choice(["binance", "hyperliquid", "index", "index_basis"])),
        partial_mode=str(rng.choice(["none", "tier_step_down", "chunks"])),
        limit_mode=str(rng.choice(["bankruptcy", "slippage", "fillable"])),
        takeover_mode=str(rng.choice(["insurance", "backstop", "none", "negative_equity"])),
        adl_rank_rule=str(rng.choice(["pnl_leverage", "hyperliquid"])),
        adl_price_rule=str(rng.choice(["bankruptcy", "mark", "previous_mark"])),
        fund_drawdown_trigger=float(rng.choice([0.0, 0.3])),
        fund_notional_cap_ratio=float(rng.choice([0.0, 1.0, 3.0])),
        mm_basis=str(rng.choice(["mark", "entry", "mark_with_fee"])),
        bankruptcy_rounding=str(rng.choice(["exact", "tick_against_trader"])),
    )


def log_uniform(rng: np.random.Generator, low: float, high: float, size=None):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def tier_table(rng: np.random.Generator, typical_notional: float, n_tiers: int) -> dict:
    """``n_tiers`` tiers with floors around the typical position notional, rising rates."""
    factors = np.sort(log_uniform(rng, 0.3, 20.0, n_tiers - 1))
    floors = [0.0] + [float(typical_notional * f) for f in factors]
    for k in range(1, len(floors)):
        floors[k] = max(floors[k], floors[k - 1] * 1.05)
    first = float(rng.uniform(0.004, 0.03))
    rates = [first]
    for _ in floors[1:]:
        rates.append(min(rates[-1] + float(rng.uniform(0.0, 0.03)), 0.45))
    return dict(
        tier_floor_usd=tuple(floors),
        tier_mmr=tuple(rates),
        tier_max_leverage=tuple(1.0 / (2.0 * r) for r in rates),
    )


def market_spec(
    rng,
    name,
    asset,
    price,
    n_levels,
    variant,
    oi_notional,
    typical_notional,
    fund_regime,
    dt,
    n_tiers,
) -> MarketSpec:
    """One market with random but valid parameters around the population's size."""
    low_tick = 0.2 * price / n_levels * 1.001
    tick = max(low_tick, price * float(rng.choice([0.0002, 0.0005, 0.001, 0.002])))
    depth = oi_notional * float(log_uniform(rng, 0.02, 1.0))
    interval = float(rng.uniform(8.0, 60.0)) * dt
    cap = float(log_uniform(rng, 1e-4, 0.02))
    if fund_regime == "empty":
        fund = 0.0
    elif fund_regime == "huge":
        fund = 1e15
    else:
        fund = oi_notional * float(log_uniform(rng, 1e-4, 0.1))
    spec = MarketSpec(
        name=name,
        asset=asset,
        venue=variant,
        price=price,
        tick_size=tick,
        depth_1pct_usd=depth,
        depth_shape=float(rng.uniform(0.6, 1.6)),
        resilience_half_life_s=float(rng.uniform(1.0, 40.0)),
        withdrawal_half_life_s=float(rng.uniform(0.5, 8.0)),
        withdrawal_vol_sensitivity=float(rng.uniform(0.0, 0.5)),
        withdrawal_flow_sensitivity=float(rng.uniform(0.0, 10.0)),
        liquidity_floor=float(rng.uniform(0.0, 0.5)),
        baseline_volatility=float(log_uniform(rng, 2e-5, 1e-3)),
        stress_half_life_s=float(rng.uniform(3.0, 60.0)),
        basis_average_s=float(rng.uniform(0.0, 30.0)),
        funding_interval_s=interval,
        funding_interest_rate=float(rng.uniform(0.0, 5e-4)),
        funding_clamp=float(rng.uniform(0.0, 1e-3)),
        funding_cap=cap,
        funding_rate_initial=float(rng.uniform(-cap, cap)),
        time_to_first_funding_s=float(rng.uniform(0.5, 1.0)) * interval,
        arbitrage_band=float(rng.uniform(0.0, 0.003)),
        arbitrage_capacity_usd_per_s=float(rng.choice([0.0, 1.0]))
        * depth
        * float(log_uniform(rng, 0.005, 0.3)),
        spot_impact_share=float(rng.uniform(0.0, 1.0)),
        liquidation_fee_rate=float(rng.uniform(0.0, 0.02)),
        slippage_limit=float(rng.uniform(0.005, 0.2)),
        chunk_fraction=float(rng.uniform(0.1, 0.6)),
        chunk_min_notional_usd=typical_notional * float(log_uniform(rng, 0.3, 5.0)),
        chunk_cooldown_s=float(rng.choice([0.0, rng.uniform(1.0, 20.0)])),
        backstop_equity_fraction=float(rng.uniform(0.0, 1.0)),
        fund_unwind_usd_per_s=depth * float(log_uniform(rng, 1e-3, 0.2)),
        passive_leverage=float(rng.uniform(1.0, 20.0)),
        insurance_fund_usd=fund,
        backstop_usd=float(rng.choice([0.0, oi_notional * 0.05])),
        cross_close_order=str(rng.choice(["largest_maintenance", "largest_loss"])),
        **venue_rules(variant, rng),
        **tier_table(rng, typical_notional, n_tiers),
    )
    # Some markets quote the premium, interest and clamp for a period 8 times their payment
    # interval and pay an eighth of the period's rate each time (Hyperliquid, dYdX); the rest
    # pay it whole (0: the period is the interval). Drawn after the market's other numbers.
    period = float(rng.choice([0.0, interval, 8.0 * interval]))
    return dataclasses.replace(spec, funding_premium_period_s=period)


def healthy_margin(side, quantity, entry, margin, price, spec: MarketSpec) -> float:
    """The margin raised, where needed, a little above maintenance at the start price."""
    floors = list(spec.tier_floor_usd)
    rates = list(spec.tier_mmr)
    amounts = [float(a) for a in spec.maintenance_amounts()]
    required = margin_reference.requirement(
        floors, rates, amounts, quantity, entry, price, margin_reference.convention_for(spec)
    )
    equity = margin + side * quantity * (price - entry)
    if equity > required * 1.001 + 1e-9 * quantity * price:
        return margin
    return margin + (required * 1.001 - equity) + 1e-3 * quantity * price


def index_path(rng, price, n_steps, shock) -> np.ndarray:
    """An index path: a drop, a jump, a drop then a squeeze, or noise, plus small noise."""
    t = np.arange(n_steps + 1, dtype=np.float64)
    start = rng.uniform(0.05, 0.4) * n_steps
    ramp = max(1.0, rng.uniform(0.02, 0.5) * n_steps)
    move = np.clip((t - start) / ramp, 0.0, 1.0)
    size = rng.uniform(0.02, 0.25)
    if shock == "drop":
        level = 1.0 - size * move
    elif shock == "jump":
        level = 1.0 + size * move
    elif shock == "drop_and_squeeze":
        later = np.clip((t - start - ramp - 0.1 * n_steps) / ramp, 0.0, 1.0)
        level = 1.0 - size * move + 1.5 * size * later
    else:
        level = np.ones_like(t)
    noise = np.cumsum(rng.normal(0.0, rng.uniform(0.0, 0.002), n_steps + 1))
    noise[0] = 0.0
    return price * level * np.exp(noise)


def cross_accounts(rng, market, n_markets, account, n_accounts):
    """Put a random share of the positions into cross accounts, one position per market.

    Returns (cross flags, accounts, number of accounts); cross accounts get ids above the
    isolated ones, and each market's cross positions are dealt to a shuffled pool of them.
    """
    cross_rows = rng.random(market.shape[0]) < rng.uniform(0.3, 1.0)
    account = account.copy()
    per_market = [np.flatnonzero(cross_rows & (market == m)) for m in range(n_markets)]
    pool = max(1, int(max(rows.size for rows in per_market) * rng.uniform(1.0, 1.5)))
    for rows in per_market:
        account[rows] = n_accounts + rng.permutation(pool)[: rows.size]
    return cross_rows, account, n_accounts + pool


@st.composite
def engine_setups(
    draw,
    min_positions=5,
    max_positions=200,
    min_steps=50,
    max_steps=300,
    fund_regimes=("empty", "small", "medium", "huge"),
    variants=VARIANTS,
    levels=(512,),
    tier_counts=(1, 2, 3),
    cross_margin=(False, True),
    opening_flow=(False, True),
):
    """A small random :class:`EngineSetup` (1-3 markets, 1-3 assets).

    With cross margin drawn, every market is on one venue and part of the positions belong
    to cross-margin accounts holding at most one position per market.
    With an opening flow drawn, positions open during the run (see :func:`opening_flow_of`).
    ``levels`` and ``tier_counts`` are kept to a few values by default: each distinct
    (book levels, tier count) pair is a new record dtype and so a new numba compilation.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    n_markets = draw(st.integers(1, 3))
    shared_asset = n_markets >= 2 and draw(st.booleans())
    n_assets = 1 if n_markets == 1 or shared_asset else n_markets
    cross = n_markets >= 2 and draw(st.sampled_from(cross_margin))
    if cross:
        market_variants = [draw(st.sampled_from(variants))] * n_markets
    else:
        market_variants = [draw(st.sampled_from(variants)) for _ in range(n_markets)]
    n_positions = draw(st.integers(min_positions, max_positions))
    n_steps = draw(st.integers(min_steps, max_steps))
    n_levels = draw(st.sampled_from(levels))
    n_tiers = draw(st.sampled_from(tier_counts))
    fund_regime = draw(st.sampled_from(fund_regimes))
    shocks = [
        draw(st.sampled_from(["drop", "jump", "drop_and_squeeze", "flat"])) for _ in range(n_assets)
    ]
    sell_programme = draw(st.booleans())
    dt = draw(st.sampled_from([0.5, 1.0, 2.0]))
    iteration_cap = draw(st.sampled_from([2, 64]))
    with_flow = draw(st.sampled_from(opening_flow))
    rng = np.random.default_rng(seed)

    asset_price = [float(log_uniform(rng, 20.0, 200_000.0)) for _ in range(n_assets)]
    market_asset = [0] * n_markets if shared_asset else list(range(n_markets))
    typical_notional = float(log_uniform(rng, 1e3, 1e5))
    market = rng.integers(0, n_markets, n_positions).astype(np.int32)
    long_share = rng.uniform(0.2, 0.95)
    side = np.where(rng.random(n_positions) < long_share, 1, -1).astype(np.int8)
    notional = typical_notional * np.exp(rng.normal(0.0, 1.0, n_positions))
    leverage = log_uniform(rng, 1.0, 100.0, n_positions)
    oi_notional = [
        max(float(notional[market == m].sum()), typical_notional) for m in range(n_markets)
    ]
    assets = [
        AssetSpec(
            name=f"A{a}", spot_depth_1pct_usd=float(sum(oi_notional) * log_uniform(rng, 0.05, 5.0))
        )
        for a in range(n_assets)
    ]
    specs = []
    for m in range(n_markets):
        a = market_asset[m]
        specs.append(
            market_spec(
                rng,
                f"M{m}",
                f"A{a}",
                asset_price[a],
                n_levels,
                market_variants[m],
                oi_notional[m],
                typical_notional,
                fund_regime,
                dt,
                n_tiers,
            )
        )
    start_price = np.asarray([asset_price[market_asset[m]] for m in range(n_markets)])[market]
    entry = start_price * np.exp(rng.normal(0.0, 0.02, n_positions))
    quantity = notional / entry
    margin = notional / leverage
    for k in range(n_positions):
        margin[k] = healthy_margin(
            int(side[k]),
            float(quantity[k]),
            float(entry[k]),
            float(margin[k]),
            float(start_price[k]),
            specs[market[k]],
        )
    n_accounts = max(1, int(rng.integers(n_positions // 2, n_positions + 1)))
    account = rng.integers(0, n_accounts, n_positions)
    cross_rows = None
    if cross:
        cross_rows, account, n_accounts = cross_accounts(
            rng, market, n_markets, account, n_accounts
        )
    path = np.column_stack(
        [index_path(rng, asset_price[a], n_steps, shocks[a]) for a in range(n_assets)]
    )
    flow = None
    if sell_programme:
        flow = np.zeros((n_steps, n_markets))
        for m in range(n_markets):
            begin = int(rng.integers(0, n_steps))
            length = int(rng.integers(1, max(2, n_steps // 3)))
            sign = -1.0 if rng.random() < 0.8 else 1.0
            flow[begin : begin + length, m] = (
                sign * specs[m].depth_1pct_usd * rng.uniform(0.005, 0.2)
            )
    # Shared funds and vaults: every market in one pool, or each with its own.
    if n_markets >= 2 and draw(st.booleans()):
        for m in range(n_markets):
            specs[m] = dataclasses.replace(specs[m], fund_pool="F", backstop_pool="V")
    # Open interest as a venue states it: none (the traders' larger side), about the traders'
    # own, or three times it (a large hedged pool on both sides).
    for m in range(n_markets):
        multiple = draw(st.sampled_from([None, 1.0, 3.0]))
        if multiple is not None:
            specs[m] = dataclasses.replace(specs[m], open_interest_usd=multiple * oi_notional[m])
    return EngineSetup(
        flow=opening_flow_of(specs, n_steps * dt, dt, typical_notional, seed)
        if with_flow
        else None,
        markets=specs,
        assets=assets,
        positions=PositionArrays(
            market=market,
            account=account,
            side=side,
            quantity=quantity,
            entry_price=entry,
            margin=margin,
            cross=cross_rows,
        ),
        index_path=path,
        step_seconds=dt,
        taker_flow_usd=flow,
        n_levels=n_levels,
        iteration_cap=iteration_cap,
        n_accounts=n_accounts,
    )


def with_market(setup: EngineSetup, **changes) -> EngineSetup:
    """The setup with every market's spec changed by ``changes``."""
    return dataclasses.replace(
        setup, markets=[dataclasses.replace(spec, **changes) for spec in setup.markets]
    )


def opening_flow_of(specs, duration_s, dt, typical_notional, seed):
    """An opening flow for every market: a few to a few hundred positions over the run.

    Drawn from its own generator (on the setup's seed), so that the rest of a setup is the
    same with and without a flow. Gains and momentum of either sign, re-entries from none to
    all, leverage up to 100x capped by the tiers.
    """
    rng = np.random.default_rng([seed, 7])
    markets = []
    for spec in specs:
        opened_per_run = float(log_uniform(rng, 2.0, 200.0))
        size = typical_notional * float(log_uniform(rng, 0.2, 5.0))
        markets.append(
            FlowMarket(
                opening_usd_per_s=opened_per_run * size / duration_s,
                activity_gain=float(rng.choice([0.0, log_uniform(rng, 0.1, 3.0)])),
                sigma_step=float(log_uniform(rng, 1e-5, 1e-3)),
                activity_half_life_s=float(rng.uniform(1.0, 60.0)),
                trend_half_life_s=float(rng.uniform(10.0, 600.0)),
                trend_scale=float(log_uniform(rng, 1e-3, 0.05)),
                long_bias=float(rng.uniform(-1.0, 1.0)),
                momentum=float(rng.uniform(-3.0, 3.0)),
                reentry_share=float(rng.choice([0.0, rng.uniform(0.0, 1.0)])),
                reentry_half_life_s=float(rng.uniform(5.0, 300.0)),
                leverage_values=np.asarray([2.0, 5.0, 10.0, 25.0, 50.0, 100.0]),
                leverage_weights=rng.uniform(0.1, 1.0, 6),
                size_median_usd=size,
                size_log_std=float(rng.uniform(0.0, 1.5)),
                size_max_usd=size * 20.0,
                tier_floor_usd=np.asarray(spec.tier_floor_usd),
                tier_max_leverage=np.asarray(spec.tier_max_leverage),
                leveraged_usd=size * opened_per_run,
            )
        )
    return draw_flow(rng, markets, duration_s, dt)
