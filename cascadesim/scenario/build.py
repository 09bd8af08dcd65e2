"""A validated scenario built into the engine's :class:`~cascadesim.model.market.EngineSetup`.

Markets become :class:`MarketSpec` (venue profile, then the scenario's values, then its
overrides); the population is drawn by :mod:`cascadesim.model.population`; the shock becomes
the index path and taker flow of :mod:`cascadesim.model.shocks`.
"""

from __future__ import annotations

import difflib
import math
import re

import numpy as np

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import is_file
from cascadesim.engine import layout
from cascadesim.model.contracts import reciprocal_spec
from cascadesim.model.inverse_venues import contract_size_usd, inverse_tiers
from cascadesim.model.market import (
    MM_BASES,
    OVERRIDABLE_FIELDS,
    EngineSetup,
    MarketSpec,
    default_tick,
)
from cascadesim.model.population import (
    EntryModel,
    MarketPopulation,
    SizeDistribution,
    long_share_from_funding,
    synthesize,
)
from cascadesim.model.resources import MemoryEstimate, check_memory
from cascadesim.model.shocks import add_idiosyncratic_noise, check_tick_floor, shock_arrays
from cascadesim.model.venues import VENUES
from cascadesim.scenario.collateral import collateral_holdings, estimated_rules
from cascadesim.scenario.flow import estimated_flow, opening_flow
from cascadesim.scenario.named import with_named_positions
from cascadesim.scenario.profiles import profile_path, read_profile_file

# MarketSpec field -> the scenario key that sets it, for error paths.
SCENARIO_KEY = {
    "price": "price_usd",
    "tick_size": "tick_usd",
    "funding_rate_initial": "funding_rate",
}
# The same for the tier fields of a market that gives its own [tiers] table.
TIERS_KEY = {
    "tier_floor_usd": "tiers.floors_usd",
    "tier_mmr": "tiers.mmr",
    "tier_maintenance_amount": "tiers.maintenance_amount_usd",
    "tier_max_leverage": "tiers.max_leverage",
}


# --- markets ------------------------------------------------------------------------------
def market_spec(name: str, market, vault_markets: int = 1) -> MarketSpec:
    """MarketSpec from the venue profile, the scenario's values and the overrides.

    ``vault_markets`` is how many of the scenario's markets share this venue's backstop
    vault: the default vault capital (300 M USD, an estimate of HLP's) is split among them,
    so that the shared vault holds it once.

    The tier table is the market's own ``[tiers]`` if it has one, else the venue profile's for
    the asset; a table tiered by position size (OKX) takes its USD floors at ``price_usd``.
    """

    venue = VENUES[market.venue]
    uses_backstop = venue.takeover_mode == layout.TAKEOVER_BACKSTOP
    values = {
        "name": name,
        "asset": market.asset,
        "venue": market.venue,
        "price": market.price_usd,
        "tick_size": market.tick_usd or default_tick(market.price_usd),
        "open_interest_usd": market.open_interest_usd,
        "contract": market.contract,
        "contract_size_usd": market.contract_size_usd
        or contract_size_usd(market.venue, market.asset),
        "depth_1pct_usd": market.depth_1pct_usd,
        "depth_shape": market.depth_shape,
        "resilience_half_life_s": market.resilience_half_life_s,
        "withdrawal_vol_sensitivity": market.withdrawal_vol_sensitivity,
        "withdrawal_flow_sensitivity": market.withdrawal_flow_sensitivity,
        "insurance_fund_usd": market.insurance_fund_usd,
        "backstop_usd": (
            market.backstop_usd
            if market.backstop_usd is not None
            else 300e6 / (vault_markets if venue.shared_vault else 1)
            if uses_backstop
            else 0.0
        ),
        "funding_rate_initial": market.funding_rate,
        "mark_rule": layout.MARK_RULE_NAMES[venue.mark_rule],
        "partial_mode": layout.PARTIAL_MODE_NAMES[venue.partial_mode],
        "limit_mode": layout.LIMIT_MODE_NAMES[venue.limit_mode],
        "takeover_mode": layout.TAKEOVER_NAMES[venue.takeover_mode],
        "adl_rank_rule": layout.ADL_RANK_NAMES[venue.adl_rank_rule],
        "cross_close_order": layout.CROSS_ORDER_NAMES[venue.cross_close_order],
        "hedge_liquidation": layout.HEDGE_LIQUIDATION_NAMES[venue.hedge_liquidation],
        "adl_price_rule": layout.ADL_PRICE_NAMES[venue.adl_price_rule],
        "fund_pool": venue.fund_pool_for(market.asset),
        "backstop_pool": venue.shared_vault,
        "fund_drawdown_trigger": venue.fund_drawdown_trigger,
        "fund_drawdown_window_s": venue.fund_drawdown_window_s,
        "fund_notional_cap_ratio": venue.fund_notional_cap_ratio,
        "fillable_spread_ratio": venue.fillable_spread_ratio,
        "fillable_bankruptcy_adjustment": venue.fillable_bankruptcy_adjustment,
        "mm_basis": layout.MM_BASIS_NAMES[venue.mm_basis],
        "bankruptcy_rounding": layout.BANKRUPTCY_ROUNDING_NAMES[venue.bankruptcy_rounding],
        "liquidation_fee_rate": venue.liquidation_fee_for(market.asset),
        "slippage_limit": venue.slippage_limit,
        "chunk_fraction": venue.chunk_fraction,
        "chunk_min_notional_usd": venue.chunk_min_notional_usd,
        "chunk_cooldown_s": venue.chunk_cooldown_s,
        "backstop_equity_fraction": venue.backstop_equity_fraction,
        "funding_interval_s": venue.funding_interval_s,
        "funding_premium_period_s": venue.funding_premium_period_s,
        "funding_interest_rate": venue.funding_interest_rate,
        "funding_clamp": venue.funding_clamp,
        "funding_cap": venue.funding_cap_for(market.asset),
        # Half an interval to the next settlement: the expected wait at a random start.
        "time_to_first_funding_s": venue.funding_interval_s / 2.0,
        "basis_average_s": venue.basis_average_s,
        **tier_values(name, venue, market),
    }
    defaults = MarketSpec()
    for key, value in market.overrides.items():
        where = f"markets.{name}.overrides.{key}"
        if key not in OVERRIDABLE_FIELDS:
            close = difflib.get_close_matches(key, OVERRIDABLE_FIELDS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise invalid(
                where,
                value,
                f"not a MarketSpec field; {hint}allowed: " + ", ".join(OVERRIDABLE_FIELDS),
            )
        values[key] = override_value(where, value, getattr(defaults, key))
    if {"tier_floor_usd", "tier_mmr"} & market.overrides.keys() and (
        "tier_maintenance_amount" not in market.overrides
    ):
        values["tier_maintenance_amount"] = None  # recompute from the continuity recursion
    apply_market_switches(name, market, values)
    try:
        return MarketSpec(**values)
    except CascadesimInputError as error:
        message = str(error)
        match = re.match(rf"markets\.{re.escape(name)}\.(\w+)(.*)$", message)
        if match:
            field = match.group(1)
            if field in market.overrides:
                key = f"overrides.{field}"
            elif market.tiers is not None and field in TIERS_KEY:
                key = TIERS_KEY[field]
            else:
                key = SCENARIO_KEY.get(field, field)
            message = f"markets.{name}.{key}{match.group(2)}"
        raise CascadesimInputError(message) from None


def tier_values(name: str, venue, market) -> dict:
    """The MarketSpec tier fields: the market's own ``[tiers]``, else the venue's table."""
    own = market.tiers
    if own is not None:
        amounts = own.maintenance_amount_usd
        return {
            "tier_floor_usd": tuple(own.floors_usd),
            "tier_mmr": tuple(own.mmr),
            # None: MarketSpec derives the amounts from the continuity recursion.
            "tier_maintenance_amount": None if amounts is None else tuple(amounts),
            "tier_max_leverage": tuple(own.max_leverage),
        }
    try:
        if market.contract == "inverse":
            tiers = inverse_tiers(market.venue, market.asset, market.price_usd)
        else:
            tiers = venue.tiers(market.asset, market.price_usd)
    except CascadesimInputError:  # floors in base units (OKX) times the price overflowed
        raise invalid(
            f"markets.{name}.price_usd",
            market.price_usd,
            f"a price at which {market.venue}'s {market.asset} tier floors, set in units of "
            "the asset, stay finite in USD",
        ) from None
    return {
        "tier_floor_usd": tuple(float(x) for x in tiers.floors),
        "tier_mmr": tuple(float(x) for x in tiers.mmr),
        "tier_maintenance_amount": tuple(float(x) for x in tiers.maintenance_amount),
        "tier_max_leverage": tuple(float(x) for x in tiers.max_leverage),
    }


def apply_market_switches(name: str, market, values: dict) -> None:
    """Apply ``mmr_scale`` and ``partial_liquidation`` to a market's MarketSpec values.

    The maintenance amounts scale with the rates: the continuity recursion is linear in them.
    """
    scale = market.mmr_scale
    if scale != 1.0:
        rates = tuple(rate * scale for rate in values["tier_mmr"])
        if max(rates) >= 1.0:
            raise invalid(
                f"markets.{name}.mmr_scale",
                scale,
                f"small enough that every tier's rate stays below 1 (the largest "
                f"rate would be {max(rates):g})",
            )
        values["tier_mmr"] = rates
        if values["tier_maintenance_amount"] is not None:
            values["tier_maintenance_amount"] = tuple(
                amount * scale for amount in values["tier_maintenance_amount"]
            )
    if not market.partial_liquidation:
        values["partial_mode"] = "none"


def override_value(where: str, value, default):
    """Check an override's type against the MarketSpec default's; lists become tuples."""
    if isinstance(default, str):
        if not isinstance(value, str):
            raise invalid(where, value, "text in quotes")
        return value
    if isinstance(default, tuple) or default is None:
        if not (
            isinstance(value, list)
            and value
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
        ):
            raise invalid(where, value, "a non-empty list of numbers, one per tier")
        return tuple(float(x) for x in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(where, value, "a number")
    return float(value)


# --- building -----------------------------------------------------------------------------
def build_setup(scenario, seed: int) -> EngineSetup:
    """EngineSetup of a validated scenario with the given seed.

    The number of accounts and the memory the run will need are checked before the shock
    path or the population is allocated (see :mod:`cascadesim.model.resources`).
    """

    # The engine's markets: an inverse one in reciprocal units, drawn there directly.
    specs = [reciprocal_spec(spec) for spec in scenario.market_specs()]
    assets = scenario.asset_specs()
    check_recorded_file(scenario)
    inputs = [
        market_population(scenario, spec, name)
        for spec, name in zip(specs, scenario.markets, strict=True)
    ]
    counts = [
        account_count(name, market) for name, market in zip(scenario.markets, inputs, strict=True)
    ]
    if sum(counts) <= scenario.population.max_accounts:  # else synthesize names the limit
        check_memory(
            MemoryEstimate(
                positions=sum(counts),
                steps=scenario.n_steps,
                markets=len(specs),
                assets=len(assets),
                levels=scenario.book_levels,
            ),
            f"scenario {scenario.name}",
        )
    index_path, flow = shock_arrays(
        scenario.shock,
        scenario.n_steps,
        scenario.step_s,
        list(scenario.assets),
        scenario.start_index(),
        list(scenario.markets),
        scenario.base_dir,
    )
    check_tick_floor(scenario.shock, index_path, list(scenario.assets), specs)
    volatility = [asset.idiosyncratic_volatility for asset in scenario.assets.values()]
    if any(volatility):
        # Its own stream (seed, 1), so adding noise never changes the population's draws.
        noise_rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        index_path = add_idiosyncratic_noise(index_path, volatility, scenario.step_s, noise_rng)
    generated = synthesize(inputs, seed, scenario.population.max_accounts)
    check_generated(scenario, generated.positions)
    holdings = collateral_holdings(
        scenario, specs, generated.positions, generated.n_accounts, index_path, seed
    )
    for info, name in zip(generated.diagnostics, scenario.markets, strict=True):
        info["market"] = name
        info["isolated_share"] = scenario.population_for(name).isolated_share
    setup = EngineSetup(
        markets=specs,
        assets=assets,
        positions=generated.positions,
        index_path=index_path,
        step_seconds=scenario.step_s,
        taker_flow_usd=flow,
        n_levels=scenario.book_levels,
        iteration_cap=scenario.iteration_cap,
        n_accounts=generated.n_accounts,
        labels={
            "provenance": scenario.provenance(seed),
            "population": generated.diagnostics,
            "estimates": estimated_rules(holdings, scenario) + estimated_flow(scenario),
            "snapshot": None if scenario.snapshot is None else scenario.snapshot.summary(),
            "profile": profile_record(scenario),
        },
        collateral=holdings,
        flow=opening_flow(scenario, specs, inputs, seed),
    )
    return with_named_positions(scenario, setup)


def profile_record(scenario) -> dict | None:
    """The adopted profile's name and calibration record, for the reports' assumptions."""
    if scenario.profile is None:
        return None
    path = profile_path(scenario.profile, scenario.base_dir)
    return {"name": scenario.profile, "calibration": read_profile_file(path).get("calibration", {})}


def market_population(scenario, spec: MarketSpec, name: str):
    """What the population generator needs to know about market ``name``."""

    market = scenario.markets[name]
    population = scenario.population_for(name)
    size = population.account_size
    entry = population.entry
    history = None if entry.history is None else np.asarray(entry.history, dtype=np.float64)
    spread = entry.spread_fraction
    if spread is None:
        spread = 0.03 if history is None else 0.005
    # An inverse market's spec is in reciprocal units (cascadesim.model.contracts): its money
    # is in the coin at the start price and its longs are the engine's shorts. Its cross
    # accounts are coin-margined, apart from the venue's USD ones.
    coin = spec.price if spec.reciprocal_scale else 1.0
    longs = long_share(population, spec)
    if spec.reciprocal_scale:
        longs = 1.0 - longs
        # Entry history is in USD: in x its prices are K / price.
        if history is not None:
            history = history.copy()
            history[:, 1] = spec.reciprocal_scale / history[:, 1]
    return MarketPopulation(
        price=spec.price,
        open_interest_usd=market.open_interest_usd / coin,
        long_share=longs,
        leveraged_share=population.leveraged_share_of_open_interest,
        leverage_values=leverage_values(population.leverage),
        leverage_weights=np.asarray(population.leverage.weights, dtype=np.float64),
        sizes=SizeDistribution(
            size.median_usd / coin,
            size.body_log_std,
            size.tail_share,
            size.tail_alpha,
            size.max_usd / coin,
        ),
        entries=EntryModel(
            spread,
            history,
            None if entry.weights is None else np.asarray(entry.weights, dtype=np.float64),
        ),
        tier_floor_usd=np.asarray(spec.tier_floor_usd, dtype=np.float64),
        tier_mmr=np.asarray(spec.tier_mmr, dtype=np.float64),
        tier_maintenance_amount=spec.maintenance_amounts(),
        tier_max_leverage=np.asarray(spec.tier_max_leverage, dtype=np.float64),
        start_margin_cushion=population.start_margin_cushion,
        accounts=population.accounts,
        venue=f"{spec.venue}:{spec.asset}-inverse" if spec.reciprocal_scale else spec.venue,
        isolated_share=population.isolated_share,
        hedged_pair_share=population.hedged_pair_share,
        mm_basis=MM_BASES[spec.mm_basis],
        liquidation_fee_rate=spec.liquidation_fee_rate,
    )


def account_count(name: str, market) -> int:
    """Accounts of one market, refused in one line when the sizes give no finite count."""
    long_usd, short_usd = market.leveraged_notional_usd()
    try:
        mean = market.sizes.mean_usd()
    except (OverflowError, ZeroDivisionError, ValueError):
        mean = math.nan
    if not math.isfinite(long_usd + short_usd):
        raise invalid(
            f"markets.{name}.open_interest_usd",
            market.open_interest_usd,
            "an open interest whose leveraged notional is a finite number of USD",
        )
    if not (math.isfinite(mean) and mean > 0):  # the Pareto tail's moments overflow
        size = market.sizes
        raise invalid(
            f"markets.{name}: population.account_size",
            {"median_usd": size.median_usd, "max_usd": size.max_usd},
            f"sizes whose mean is a finite number of USD (it is {mean:g})",
        )
    return market.account_count()


def check_generated(scenario, positions) -> None:
    """Every generated position is finite and positive, else the population table is named.

    Extreme but valid settings (a median account of 1e300 USD, a price of 1e-300) overflow
    or underflow in the generator; the engine would refuse the arrays with a message about
    row numbers, so the scenario's own fields are named here instead.
    """

    for column in ("quantity", "entry_price", "margin"):
        values = getattr(positions, column)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            row = int(np.argmax(bad))
            name = list(scenario.markets)[int(positions.market[row])]
            raise invalid(
                f"markets.{name}",
                f"{column} {float(values[row])!r}",
                "a population whose positions have finite sizes, entry prices and "
                "margins > 0: price_usd, open_interest_usd and "
                "population.account_size are too extreme together",
            )


def leverage_values(mix):
    """The mix's leverages (float64 array), lowered to its ``max`` when one is set."""

    values = np.asarray(mix.values, dtype=np.float64)
    return values if mix.max is None else np.minimum(values, mix.max)


def long_share(population, spec: MarketSpec) -> float:
    """The population's long share, or the one implied by the market's funding."""

    if population.long_share is not None:
        return population.long_share
    # The inverse market's own rate: its engine spec carries the negated one.
    rate = -spec.funding_rate_initial if spec.reciprocal_scale else spec.funding_rate_initial
    return long_share_from_funding(rate, spec.funding_interval_s)


def check_recorded_file(scenario) -> None:
    """A recorded path's CSV file exists (relative to the scenario file)."""
    shock = scenario.shock
    if shock.kind != "recorded_path" or shock.file is None:
        return
    path = scenario.resolve(shock.file)
    if not is_file(path):
        raise invalid("shock.file", shock.file, f"an existing CSV file (looked for {path})")
