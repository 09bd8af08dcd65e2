"""The engine's inputs built from an :class:`EngineSetup`: checks, the sorted population,
cross accounts and the initial market state (books at their target profile, funds, clocks).
"""

from __future__ import annotations

import math

import numpy as np

from cascadesim._util.errors import invalid
from cascadesim.engine import layout
from cascadesim.engine.book import depth_within, fill_levels, tabulate_profile
from cascadesim.engine.margin import liquidation_prices
from cascadesim.engine.population import (
    gather_positions,
    make_thresholds_monotone,
    sort_keys,
    unpack_order,
)
from cascadesim.engine.pricing import premium_for_rate
from cascadesim.model.contracts import settlement_currency
from cascadesim.model.market import (
    EngineSetup,
    PositionArrays,
    asset_state,
    check_book_levels,
    check_start_price,
    check_tick_size,
)
from cascadesim.model.position_book import start_breaches

INITIAL_EVENT_CAPACITY = 4096
SETTLED_BOOK = 1 << 40  # quiet steps of a book that starts at its target profile


def validate_positions(positions: PositionArrays, n_markets: int, n_accounts: int) -> None:
    """Reject malformed position arrays with a one-line error naming the array."""
    n = len(positions)
    for name in ("market", "account", "side", "quantity", "entry_price", "margin"):
        array = np.asarray(getattr(positions, name))
        if array.shape != (n,):
            raise invalid(f"positions.{name}", f"shape {array.shape}", f"shape ({n},)")
    for name in ("quantity", "entry_price", "margin"):
        array = np.asarray(getattr(positions, name), dtype=np.float64)
        bad = ~(np.isfinite(array) & (array > 0))
        if bad.any():
            k = int(np.argmax(bad))
            raise invalid(f"positions.{name}[{k}]", float(array[k]), "a finite number > 0")
    side = np.asarray(positions.side)
    if n and not np.isin(side, (1, -1)).all():
        k = int(np.argmax(~np.isin(side, (1, -1))))
        raise invalid(f"positions.side[{k}]", int(side[k]), "+1 (long) or -1 (short)")
    market = np.asarray(positions.market)
    if n and (market.min() < 0 or market.max() >= n_markets):
        raise invalid(
            "positions.market",
            f"range {market.min()}..{market.max()}",
            f"indices 0..{n_markets - 1}",
        )
    account = np.asarray(positions.account)
    if n and (account.min() < 0 or account.max() >= n_accounts):
        raise invalid(
            "positions.account",
            f"range {account.min()}..{account.max()}",
            f"indices 0..{n_accounts - 1}",
        )


def validate_setup(setup: EngineSetup) -> int:
    """Check shapes and values of a setup; returns the number of accounts."""
    n_markets = len(setup.markets)
    n_assets = len(setup.assets)
    if n_markets == 0:
        raise invalid("markets", [], "at least one market")
    if not (math.isfinite(setup.step_seconds) and setup.step_seconds > 0):
        raise invalid("step_seconds", setup.step_seconds, "a finite number of seconds > 0")
    path = np.asarray(setup.index_path)
    if path.ndim != 2 or path.shape[1] != n_assets or path.shape[0] < 2:
        raise invalid("index_path", f"shape {path.shape}", f"shape (n_steps + 1 >= 2, {n_assets})")
    if not (np.isfinite(path).all() and (path > 0).all()):
        raise invalid("index_path", "non-positive or non-finite values", "finite prices > 0")
    if setup.taker_flow_usd is not None:
        flow = np.asarray(setup.taker_flow_usd)
        if flow.shape != (path.shape[0] - 1, n_markets):
            raise invalid(
                "taker_flow_usd", f"shape {flow.shape}", f"shape ({path.shape[0] - 1}, {n_markets})"
            )
        if not np.isfinite(flow).all():
            raise invalid("taker_flow_usd", "non-finite values", "finite USD amounts")
    check_book_levels("n_levels", setup.n_levels)
    if setup.iteration_cap < 1:
        raise invalid("iteration_cap", setup.iteration_cap, "an integer >= 1")
    names = [spec.name for spec in setup.markets]
    if len(set(names)) != len(names):
        raise invalid("markets", names, "unique market names")
    for spec in setup.markets:
        asset = next((k for k, a in enumerate(setup.assets) if a.name == spec.asset), None)
        where = f"markets.{spec.name}"
        if asset is not None:
            check_start_price(f"{where}.price", spec.price, float(path[0, asset]))
        check_tick_size(
            f"{where}.tick_size", spec.tick_size, spec.price, setup.n_levels, "the price"
        )
    n_accounts = setup.n_accounts
    if n_accounts is None:
        n_accounts = int(np.max(setup.positions.account)) + 1 if len(setup.positions) else 0
    validate_positions(setup.positions, n_markets, max(n_accounts, 1))
    check_one_currency_per_account(setup)
    return max(n_accounts, 1)


def check_one_currency_per_account(setup: EngineSetup) -> None:
    """An account is one wallet: its positions are all linear or all inverse in one coin.

    The engine keeps one wallet balance per account; a coin-margined position's released
    margin is coin and a linear one's USD, so they need accounts of their own.
    """
    currencies = [settlement_currency(spec) for spec in setup.markets]
    if len(set(currencies)) < 2 or not len(setup.positions):
        return
    code = {name: k for k, name in enumerate(sorted(set(currencies)))}
    of_row = np.asarray([code[name] for name in currencies])[setup.positions.market]
    account = np.asarray(setup.positions.account)
    first = np.full(int(account.max()) + 1, -1)
    first[account[::-1]] = of_row[::-1]  # the currency of each account's first row
    mixed = first[account] != of_row
    if mixed.any():
        k = int(np.argmax(mixed))
        raise invalid(
            f"positions.account[{k}]",
            int(account[k]),
            "an account whose positions are all in one settlement currency (USD-margined, "
            "or coin-margined in one coin): give inverse positions accounts of their own",
        )


def check_start_margins(setup: EngineSetup, params: np.recarray) -> None:
    """Every position must start above its maintenance margin at the start price.

    A position already breached before the shock would be liquidated at the first step, which
    is never what a setup means; the first such row is named.
    """
    bad, required = start_breaches(setup, setup.positions, params)
    if bad.any():
        k = int(np.argmax(bad))
        raise invalid(
            f"positions.margin[{k}]",
            float(setup.positions.margin[k]),
            f"above the maintenance margin at the start price ({required[k]:.6g} USD)",
        )


def sort_population(positions: PositionArrays, params: np.recarray):
    """Liquidation prices, then one sort into (market, side, tier, threshold) groups.

    The sort packs group, a quantised log-price and the row into one int64 key and sorts the
    keys (several times faster than ``argsort`` or ``lexsort`` at 1e7 rows); the quantisation
    is undone by :func:`make_thresholds_monotone`, which only moves thresholds earlier.

    Returns
    -------
    positions : layout.Positions, sorted
    groups : layout.Groups
    original_row : int64 array (n,), the caller's row of each sorted position
    """
    n = len(positions)
    n_markets = params.asset.shape[0]
    n_tiers = int(params.tier_count.max())  # groups per side: the tier subarrays are padded
    n_groups = n_markets * 2 * n_tiers
    market = np.ascontiguousarray(positions.market, dtype=np.int32)
    side = np.ascontiguousarray(positions.side, dtype=np.int8)
    quantity = np.ascontiguousarray(positions.quantity, dtype=np.float64)
    entry = np.ascontiguousarray(positions.entry_price, dtype=np.float64)
    margin = np.ascontiguousarray(positions.margin, dtype=np.float64)
    price = np.empty(n, dtype=np.float64)
    tier = np.empty(n, dtype=np.int8)
    liquidation_prices(
        market,
        side,
        quantity,
        entry,
        margin,
        params,
        price,
        tier,
    )
    group_bits = max(1, int(n_groups - 1).bit_length())
    row_bits = max(1, int(max(n - 1, 1)).bit_length())
    price_bits = 63 - group_bits - row_bits
    if price_bits < 20:
        raise invalid(
            "positions",
            f"{n} rows in {n_groups} groups",
            "fewer rows or markets: the packed sort key needs 20 price bits",
        )
    positive = price[price > 0]
    low = float(np.log(positive.min())) if positive.size else 0.0
    high = float(np.log(positive.max())) if positive.size else 1.0
    scale = ((1 << price_bits) - 1) / (high - low) if high > low else 0.0
    key = np.empty(n, dtype=np.int64)
    sort_keys(market, side, tier, price, n_tiers, price_bits, row_bits, low, scale, key)
    key.sort()
    order = np.empty(n, dtype=np.int64)
    sorted_group = np.empty(n, dtype=np.int64)
    unpack_order(key, row_bits, price_bits, order, sorted_group)
    del key
    boundaries = np.arange(n_groups)
    start = np.searchsorted(sorted_group, boundaries, side="left").astype(np.int64)
    end = np.searchsorted(sorted_group, boundaries, side="right").astype(np.int64)
    del sorted_group
    account = np.ascontiguousarray(positions.account, dtype=np.int64)
    columns = [
        np.empty(n, dtype=a.dtype)
        for a in (market, account, side, quantity, entry, margin, price, tier)
    ]
    gather_positions(order, market, account, side, quantity, entry, margin, price, tier, *columns)
    threshold = columns[6]
    long_slot = (boundaries // n_tiers) % 2 == 0
    make_thresholds_monotone(threshold, start, end, long_slot)
    sorted_positions = layout.Positions(
        market=columns[0],
        account=columns[1],
        side=columns[2],
        quantity=columns[3],
        entry_price=columns[4],
        margin=columns[5],
        liquidation_price=threshold,
        tier=columns[7],
        status=np.zeros(n, dtype=np.int8),
        cross=(
            np.zeros(n, dtype=np.bool_)
            if positions.cross is None
            else np.asarray(positions.cross, dtype=np.bool_)[order]
        ),
    )
    groups = layout.Groups(start=start, end=end, pointer=start.copy())
    return sorted_positions, groups, order.astype(np.int64)


def cross_accounts(
    positions: layout.Positions, n_accounts: int, markets=None
) -> layout.CrossAccounts:
    """Cross-margin accounts of sorted positions: slots and each account's rows.

    Each cross account's rows are listed in ascending row order. ``markets`` (the
    MarketSpecs) enables the checks that an account holds at most one long and one short
    per market (both: hedge mode) and all on one venue.
    """
    slot = np.full(n_accounts, -1, dtype=np.int32)
    rows = np.flatnonzero(positions.cross).astype(np.int32)
    accounts = positions.account[rows]
    if rows.size and markets is not None:
        has_cross = np.zeros(n_accounts, dtype=np.bool_)
        has_cross[accounts] = True
        mixed = has_cross[positions.account] & ~positions.cross
        if mixed.any():
            account = int(positions.account[np.argmax(mixed)])
            raise invalid(
                "positions.cross",
                f"account {account} has cross and isolated positions",
                "one margin mode per account id",
            )
    # Account ids are below n_accounts: counting them gives what np.unique would (the ids in
    # ascending order, each row's rank among them) without sorting 300k ids by hash.
    per_account = np.bincount(accounts, minlength=n_accounts)
    unique = np.flatnonzero(per_account)
    slot[unique] = np.arange(unique.size, dtype=np.int32)
    inverse = slot[accounts]
    order = np.argsort(inverse, kind="stable")
    rows = rows[order]
    offsets = np.concatenate(([0], np.cumsum(per_account[unique]))).astype(np.int64)
    if rows.size and markets is not None:
        market_of_row = positions.market[rows]
        owner = inverse[order]
        # At most one long and one short per market (hedge mode holds both).
        pairs = (owner.astype(np.int64) * len(markets) + market_of_row) * 2 + (
            positions.side[rows] < 0
        )
        # Sorted positions are grouped by market and side, so the pairs are usually in order
        # already and a repeat shows as two equal neighbours.
        in_order = bool((np.diff(pairs) >= 0).all())
        repeated = (np.diff(pairs) == 0).any() if in_order else np.unique(pairs).size != pairs.size
        if repeated:
            duplicated = np.flatnonzero(np.diff(np.sort(pairs)) == 0)[0]
            account = int(unique[np.sort(pairs)[duplicated] // 2 // len(markets)])
            raise invalid(
                "positions.cross",
                f"account {account} with two positions on one side of one market",
                "at most one long and one short per market in a cross account (a long and a "
                "short together: hedge mode)",
            )
        # One wallet: one venue, and one settlement currency (a coin-margined wallet is
        # apart from the venue's USD one, as at Binance COIN-M and Bybit's inverse account).
        wallet_of = [(spec.venue, settlement_currency(spec)) for spec in markets]
        venue_code = {key: k for k, key in enumerate(sorted(set(wallet_of)))}
        venue = np.asarray([venue_code[key] for key in wallet_of])[market_of_row]
        first_venue = venue[offsets[owner]]
        if (venue != first_venue).any():
            k = int(np.argmax(venue != first_venue))
            raise invalid(
                "positions.cross",
                f"account {int(unique[owner[k]])} on two venues or settlement currencies",
                "the positions of a cross account on one venue, all linear or all inverse "
                "in one coin",
            )
    return layout.CrossAccounts(
        slot=slot, offsets=offsets, rows=rows, ready_time=np.full(unique.size, -np.inf)
    )


def initial_state(
    setup: EngineSetup, params: np.recarray, positions: layout.Positions
) -> np.recarray:
    """Books at their target profile, agents flat except the hedged counterparty."""
    n_markets = len(setup.markets)
    n_levels = setup.n_levels
    price = np.asarray([spec.price for spec in setup.markets], dtype=np.float64)
    origin = np.empty(n_markets, dtype=np.int64)
    state = layout.empty_market_state(n_markets, n_levels)
    # The books are written in place: the first n_levels of each record's subarrays.
    profile = state.profile_usd[:, :n_levels]
    bids = state.bids[:, :n_levels]
    asks = state.asks[:, :n_levels]
    for m in range(n_markets):
        centre_tick = int(round(price[m] / params.tick_size[m]))
        origin[m] = max(1, centre_tick - n_levels // 2)
        tabulate_profile(
            params.depth_1pct_usd[m],
            params.depth_shape[m],
            params.tick_size[m],
            price[m],
            profile[m],
        )
        fill_levels(
            bids[m],
            asks[m],
            origin[m],
            params.tick_size[m],
            centre_tick,
            profile[m],
            1.0,
            0,
            n_levels,
        )
    long_quantity = np.bincount(
        positions.market, weights=positions.quantity * (positions.side > 0), minlength=n_markets
    )
    short_quantity = np.bincount(
        positions.market, weights=positions.quantity * (positions.side < 0), minlength=n_markets
    )
    passive_quantity = short_quantity - long_quantity
    elapsed = params.funding_interval_s - params.time_to_first_funding_s
    premium = np.asarray(
        [
            premium_for_rate(r, i, c, interval, period)
            for r, i, c, interval, period in zip(
                params.funding_rate_initial,
                params.funding_interest_rate,
                params.funding_clamp,
                params.funding_interval_s,
                params.funding_premium_period_s,
                strict=True,
            )
        ]
    )
    index = np.asarray(setup.index_path[0], dtype=np.float64)
    centre_level = np.round(price / params.tick_size).astype(np.int64) - origin
    state.last_price = price
    state.previous_last_price = price
    state.mark_price = price
    state.previous_mark_price = price
    state.premium_sum = premium * elapsed
    state.premium_time = elapsed
    state.funding_rate = params.funding_rate_initial
    state.next_funding_time = params.time_to_first_funding_s
    state.liquidity_factor = 1.0
    state.volatility = params.baseline_volatility
    state.centre_price = price
    # An inverse market quotes x = K / price (cascadesim.model.contracts).
    scale = params.reciprocal_scale
    asset_index = index[params.asset]
    state.quote_index = np.where(scale > 0.0, scale / asset_index, asset_index)
    state.origin_tick = origin
    # Books start at their target profile: settled, so resilience has nothing to do until
    # something disturbs them (a quiet market then costs almost nothing per step).
    state.quiet_steps = SETTLED_BOOK
    for m in range(n_markets):
        # The 1 % depth is recomputed only when the book changes: start it from the book,
        # around its mid, computed as each step computes it (the band edge can sit exactly
        # on a level, so the rounding must be the same).
        tick = params.tick_size[m]
        mid = 0.5 * (
            (origin[m] + centre_level[m] - 1) * tick + (origin[m] + centre_level[m] + 1) * tick
        )
        state.bid_depth_1pct_usd[m], state.ask_depth_1pct_usd[m] = depth_within(
            bids[m], asks[m], origin[m], params.tick_size[m], mid, 0.01
        )
    state.bid_top_level = centre_level - 1
    state.ask_bottom_level = centre_level + 1
    state.profile_price = price
    state.passive_cash = -passive_quantity * price
    state.passive_quantity = passive_quantity
    state.passive_entry_price = price
    # A shared fund's balance is its markets' stated funds together, held by its first market.
    state.fund_cash = np.bincount(
        params.fund_pool,
        weights=[spec.insurance_fund_usd for spec in setup.markets],
        minlength=n_markets,
    )
    state.backstop_cash = np.bincount(
        params.backstop_pool,
        weights=[spec.backstop_usd for spec in setup.markets],
        minlength=n_markets,
    )
    state.trader_long_quantity = long_quantity
    state.trader_short_quantity = short_quantity
    state.fund_peak_usd = state.fund_cash
    state.hedged_long_quantity, state.hedged_short_quantity = hedged_open_interest(
        setup, price, long_quantity, short_quantity
    )
    return state


def hedged_open_interest(
    setup: EngineSetup, price: np.ndarray, long_quantity: np.ndarray, short_quantity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gross longs and shorts (base units) of each market's hedged pool at the start.

    The venue's open interest counts one side of every open contract; what the leveraged
    traders do not hold on a side is held by the hedged pool, so both sides start at the
    scenario's open interest (or at the traders' larger side when none is stated, or when
    the traders alone hold more).

    Returns
    -------
    (hedged_long, hedged_short) : float64 arrays (n_markets,), base units
    """
    stated = np.asarray(
        [
            0.0 if spec.open_interest_usd is None else spec.open_interest_usd
            for spec in setup.markets
        ],
        dtype=np.float64,
    )
    total = np.maximum(stated / price, np.maximum(long_quantity, short_quantity))
    return total - long_quantity, total - short_quantity


def engine_inputs(
    setup: EngineSetup, params: np.recarray, positions: layout.Positions, n_accounts: int
):
    """Mutable state, watch list and scratch buffers for one path."""
    n = positions.quantity.shape[0]
    state = initial_state(setup, params, positions)
    assets = asset_state(setup.assets, np.asarray(setup.index_path[0], dtype=np.float64))
    n_markets = len(setup.markets)
    # Sorted positions are grouped by market first: market m's rows start at its offset.
    offset = np.searchsorted(positions.market, np.arange(n_markets)).astype(np.int64)
    # Each market's segment is cut into its own blocks (see layout.Watchlist).
    sizes = np.diff(np.append(offset, n))
    blocks = (sizes + (1 << layout.WATCH_BLOCK_BITS) - 1) >> layout.WATCH_BLOCK_BITS
    block_offset = np.concatenate(([0], np.cumsum(blocks)[:-1])).astype(np.int64)
    n_blocks = max(int(blocks.sum()), 1)
    watchlist = layout.Watchlist(
        position=np.zeros(max(n, 1), dtype=np.int32),
        ready_time=np.zeros(max(n, 1)),
        threshold=np.zeros(max(n, 1)),
        side=np.zeros(max(n, 1), dtype=np.int8),
        tier=np.zeros(max(n, 1), dtype=np.int8),
        entry=np.zeros(max(n, 1), dtype=np.int32),
        count=np.zeros(n_markets, np.int64),
        offset=offset,
        block_high=np.full(n_blocks, -np.inf),
        block_low=np.full(n_blocks, np.inf),
        block_offset=block_offset,
    )
    scratch = layout.Scratch(
        triggered=np.zeros(max(n, 1), dtype=np.int32),
        adl_candidates=np.zeros(max(n, 1) + 1, dtype=np.int32),
        adl_scores=np.zeros(max(n, 1) + 1),
        account_liquidated=np.zeros(n_accounts, dtype=np.bool_),
        account_wallet=np.zeros(n_accounts),
        adl_cache=np.full(5, -1, dtype=np.int64),
        # Per user. The liquidation kernels index it by account on every venue (the value
        # matters only where a venue liquidates in chunks), so it has a slot for each: one
        # slot, as it once had elsewhere, was read out of bounds (silently when compiled).
        chunk_cooldown_end=np.full(n_accounts, -np.inf),
    )
    return state, assets, watchlist, scratch


def fresh_cross_accounts(crosses: layout.CrossAccounts) -> layout.CrossAccounts:
    """The same accounts with their mutable columns reset for a new path."""
    return crosses._replace(ready_time=np.full(crosses.ready_time.shape, -np.inf))


def copy_positions(positions: layout.Positions) -> layout.Positions:
    """A fresh copy of every column a run writes (quantity, margin, status, the threshold
    and tier that the watch list refreshes, and the side and entry the opening flow sets),
    so that no run changes another's."""
    return positions._replace(
        side=positions.side.copy(),
        entry_price=positions.entry_price.copy(),
        quantity=positions.quantity.copy(),
        margin=positions.margin.copy(),
        status=positions.status.copy(),
        liquidation_price=positions.liquidation_price.copy(),
        tier=positions.tier.copy(),
    )
