"""Scenario files: TOML validated by pydantic v2 models, built into an :class:`EngineSetup`.

A scenario states the markets (asset, venue profile, price, depth, open interest, funding,
...), the population that holds their open interest, one shock, the duration and step, and a
seed. ``Scenario.from_toml(path)`` reads and validates a file; ``Scenario.build(seed)`` turns it
into the arrays the engine consumes; ``cascadesim schema`` prints :meth:`Scenario.json_schema`.

Every error, from pydantic or from the cross-field checks, becomes one line
``<file>: <field.path> = <value>: <what is allowed>`` raised as
:class:`cascadesim._util.errors.CascadesimInputError` (see :mod:`cascadesim.scenario.files`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from cascadesim._util.files import is_file
from cascadesim._util.toml import dump_toml
from cascadesim._version import __version__
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec
from cascadesim.model.observables import leveraged_share, long_share
from cascadesim.model.population import SizeDistribution
from cascadesim.scenario.base import (
    NAME_PATTERN,
    VENUE_NAMES,
    Fraction,
    Name,
    NonNegativeFloat,
    PositiveFloat,
    StrictModel,
    TimePoint,
    check_points,
)
from cascadesim.scenario.build import build_setup, market_spec
from cascadesim.scenario.checks import check_event, check_scenario
from cascadesim.scenario.collateral import CollateralCoin, basket_shares
from cascadesim.scenario.event import Event, Reported, Reporting
from cascadesim.scenario.files import prefixed, read_text_file, validate_toml
from cascadesim.scenario.flow import FlowSettings, check_flow
from cascadesim.scenario.named import NamedPositionRow, check_named_markets
from cascadesim.scenario.observed import (
    Observed,
    PopulationModelSettings,
    check_no_scale_keys,
    market_observables,
)
from cascadesim.scenario.profiles import apply_profile
from cascadesim.scenario.provenance import SnapshotProvenance
from cascadesim.scenario.shock import Shock


class LeverageMix(StrictModel):
    """Leverage mix of the open positions at the start."""

    values: list[Annotated[float, Field(ge=1)]] = Field(
        default=[2, 3, 5, 10, 20, 25, 50, 75, 100, 125],
        min_length=1,
        description="initial leverages (notional / margin, >= 1); each is clipped to the "
        "venue's tier maximum for the position's notional",
    )
    weights: list[NonNegativeFloat] = Field(
        default=[0.15, 0.15, 0.20, 0.20, 0.12, 0.06, 0.06, 0.03, 0.02, 0.01],
        min_length=1,
        description="fraction of accounts at each leverage; sums to 1",
    )
    max: Annotated[float, Field(ge=1)] | None = Field(
        None,
        description="maximum leverage allowed: values above it are lowered to it (their "
        "weight moves with them); a sweepable cap on the whole mix",
    )

    @field_validator("weights")
    @classmethod
    def weights_sum_to_one(cls, weights: list[float]) -> list[float]:
        if abs(sum(weights) - 1.0) > 1e-6:
            raise ValueError(f"fractions summing to 1 within 1e-6 (they sum to {sum(weights):.6g})")
        return weights

    @model_validator(mode="after")
    def one_weight_per_value(self) -> LeverageMix:
        # After the model, not on the field: `values` given alone keeps the default weights
        # (validate_default is off), which would index past the end of the values.
        if len(self.values) != len(self.weights):
            raise ValueError(
                f"one weight per leverage value ({len(self.values)} values, "
                f"{len(self.weights)} weights: give both lists together)"
            )
        return self


class AccountSize(StrictModel):
    """Position notional at the start price: lognormal body with a truncated Pareto tail."""

    median_usd: PositiveFloat = Field(2_500.0, description="median position notional, USD")
    body_log_std: PositiveFloat = Field(
        1.5, le=5, description="standard deviation of log(notional) in the lognormal body"
    )
    tail_share: float = Field(
        0.05, gt=0, lt=0.5, description="fraction of accounts in the Pareto tail"
    )
    tail_alpha: float = Field(1.5, gt=0.2, le=10, description="Pareto tail exponent")
    max_usd: PositiveFloat = Field(60e6, description="largest position notional, USD")

    @model_validator(mode="after")
    def above_tail_start(self) -> AccountSize:
        # After the model, not on the field: a large median_usd with the default max_usd
        # must be refused too (validate_default is off).
        start = SizeDistribution(self.median_usd, self.body_log_std, self.tail_share).tail_start_usd
        if not self.max_usd > start:
            raise ValueError(
                f"max_usd ({self.max_usd:g} USD) must exceed the tail's start "
                f"({start:,.0f} USD, from median_usd, body_log_std and "
                "tail_share)"
            )
        return self


class EntrySpread(StrictModel):
    """Where open interest was built before the event."""

    spread_fraction: float | None = Field(
        None,
        ge=0,
        le=1,
        description="log-standard deviation of entry prices around the price (fraction); "
        "default 0.03 without a history, 0.005 around a history",
    )
    history: list[TimePoint] | None = Field(
        None,
        description="pre-event prices, oldest first: [[seconds before the start, "
        "price USD], ...]; rescaled so the latest equals the market price",
    )
    weights: list[NonNegativeFloat] | None = Field(
        None,
        description="fraction of open interest built in each history segment, oldest "
        "first; default proportional to the segment's duration",
    )

    @field_validator("history")
    @classmethod
    def chronological(cls, history: list[list[float]] | None) -> list[list[float]] | None:
        if history is None:
            return None
        check_points(history, "price_usd", increasing=False)
        times = [p[0] for p in history]
        if any(b >= a for a, b in zip(times, times[1:], strict=False)):
            raise ValueError("oldest first: seconds before the start strictly decreasing")
        return history

    @field_validator("weights")
    @classmethod
    def one_per_segment(cls, weights: list[float] | None, info) -> list[float] | None:
        history = info.data.get("history")
        if weights is None:
            return None
        if history is None:
            raise ValueError("weights only together with a history")
        if len(weights) != len(history) - 1 or sum(weights) <= 0:
            raise ValueError(
                f"{len(history) - 1} non-negative weights, one per history segment, not all zero"
            )
        return weights


class Population(StrictModel):
    """The leveraged, liquidatable population holding part of each market's open interest."""

    long_share: Fraction | None = Field(
        None,
        description="fraction of the leveraged notional held long; default from funding "
        "(see cascadesim.model.population.long_share_from_funding)",
    )
    leveraged_share_of_open_interest: float = Field(
        0.5,
        gt=0,
        le=1,
        description="fraction of all position notional (both sides) held by leveraged "
        "traders; the hedged rest is the engine's passive counterparty",
    )
    leverage: LeverageMix = Field(default_factory=LeverageMix)
    account_size: AccountSize = Field(default_factory=AccountSize)
    entry: EntrySpread = Field(default_factory=EntrySpread)
    isolated_share: Fraction = Field(
        1.0,
        description="fraction of positions held in isolated margin; the rest belong to "
        "cross-margin accounts on the market's venue, one position per market",
    )
    start_margin_cushion: NonNegativeFloat = Field(
        0.1,
        le=10,
        description="equity at the start exceeds maintenance margin by at least "
        "this fraction of it",
    )
    accounts: int | None = Field(
        None,
        ge=1,
        description="fixed number of accounts per market; sizes are rescaled so "
        "their total still matches the open interest",
    )
    max_accounts: int = Field(
        20_000_000, ge=1, description="refuse to generate more accounts than this in total"
    )
    hedged_pair_share: Fraction = Field(
        0.0,
        description="hedge mode: fraction of the smaller side's cross positions in each "
        "market held by an account that also holds a position of the other side there",
    )
    collateral: dict[str, Fraction] | None = Field(
        None,
        description="cross accounts' margin as a basket of coins, fractions of its market "
        "value, e.g. { USDT = 0.6, BTC = 0.3, USDE = 0.1 }; default: the settlement coin",
    )
    collateral_accounts_share: Fraction = Field(
        1.0, description="fraction of the cross accounts that hold the collateral basket"
    )

    @field_validator("collateral")
    @classmethod
    def collateral_shares(cls, basket: dict[str, float] | None) -> dict[str, float] | None:
        return None if basket is None else basket_shares(basket)

    @model_serializer(mode="wrap")
    def omit_new_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Keys at their default dump as before they existed: scenario hashes stay the same.
        data = handler(self)
        for key, default in NEW_POPULATION_DEFAULTS.items():
            if key in data and data[key] == default:
                del data[key]
        return data


NEW_POPULATION_DEFAULTS = {
    "hedged_pair_share": 0.0,
    "collateral": None,
    "collateral_accounts_share": 1.0,
}


# --- markets and assets -------------------------------------------------------------------
class Asset(StrictModel):
    """An underlying asset and its spot market."""

    spot_depth_1pct_usd: float = Field(
        300e6,
        ge=1.0,
        description="spot liquidity within 1 % of the index, USD, absorbing arbitrage",
    )
    price_usd: PositiveFloat | None = Field(
        None, description="index at the start, USD; default the first market's price"
    )
    beta: float = Field(
        1.0,
        ge=0,
        le=10,
        description="sensitivity of this index's log moves to the market "
        "factor (the factor-weighted log moves of the other assets), a plain number",
    )
    factor_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description="weight of this asset's own log moves in the market "
        "factor (BTC is typically the factor: 1); 0 = this asset only follows",
    )
    factor_half_life_s: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="seconds: half-life with which this index catches up "
        "with the market factor (altcoins follow BTC with a lag); 0 = at once",
    )
    idiosyncratic_volatility: float = Field(
        0.0,
        ge=0,
        le=0.05,
        description="standard deviation of this index's own noise per "
        "second, fraction per sqrt(second); drawn from the scenario seed",
    )


class MarketTiers(StrictModel):
    """A market's own margin tier table; it replaces the venue profile's for that market."""

    floors_usd: list[NonNegativeFloat] = Field(
        min_length=1,
        description="USD notional where each tier starts: 0 first, then strictly increasing",
    )
    mmr: list[float] = Field(
        min_length=1,
        description="maintenance margin rate of each tier, fraction of notional in (0, 1), "
        "non-decreasing",
    )
    max_leverage: list[Annotated[float, Field(ge=1)]] = Field(
        min_length=1, description="highest initial leverage allowed in each tier (>= 1)"
    )
    maintenance_amount_usd: list[float] | None = Field(
        None,
        description="USD deducted from notional x mmr in each tier; default: "
        "cum_n = floor_n x (mmr_n - mmr_(n-1)) + cum_(n-1), which keeps maintenance margin "
        "continuous",
    )

    @field_validator("floors_usd")
    @classmethod
    def floors_start_at_zero_and_increase(cls, floors: list[float]) -> list[float]:
        if floors[0] != 0.0 or any(b <= a for a, b in zip(floors, floors[1:], strict=False)):
            raise ValueError("USD floors starting at 0, then strictly increasing")
        return floors

    @field_validator("mmr")
    @classmethod
    def rates_in_range(cls, mmr: list[float], info: ValidationInfo) -> list[float]:
        if any(not 0.0 < rate < 1.0 for rate in mmr):
            raise ValueError("rates strictly between 0 and 1, one per tier")
        if any(b < a for a, b in zip(mmr, mmr[1:], strict=False)):
            raise ValueError("rates non-decreasing from tier to tier")
        return one_per_tier(mmr, info)

    @field_validator("max_leverage", "maintenance_amount_usd")
    @classmethod
    def one_value_per_tier(cls, values: list[float] | None, info: ValidationInfo):
        return None if values is None else one_per_tier(values, info)


def one_per_tier(values: list[float], info: ValidationInfo) -> list[float]:
    """``values`` if there is one per floor (floors that failed are checked on their own)."""
    floors = info.data.get("floors_usd")
    if floors is not None and len(values) != len(floors):
        raise ValueError(f"one value per tier ({len(floors)} tiers, {len(values)} given)")
    return values


class Market(StrictModel):
    """One perpetual market: an asset on a venue, with its book and open interest."""

    asset: Name = Field(description="name of an asset in [assets]")
    venue: Literal[VENUE_NAMES] = Field(description="venue profile")  # type: ignore[valid-type]
    price_usd: PositiveFloat = Field(description="perp and index price at the start, USD")
    tick_usd: PositiveFloat | None = Field(
        None,
        description="USD between simulated book levels; default about 1 basis point of "
        "the price, rounded to 1, 2 or 5 x 10^k",
    )
    open_interest_usd: float = Field(ge=1.0, description="open interest (one side), USD")
    contract: Literal["linear", "inverse"] = Field(
        "linear",
        description="linear: margined and settled in USD (USDT/USDC); inverse: coin-margined, "
        "PnL Q x (1/entry - 1/price) in the coin on Q USD of contracts, margin, maintenance, "
        "fees and the insurance fund in the coin",
    )
    contract_size_usd: PositiveFloat | None = Field(
        None,
        description="USD face value of one inverse contract; default the venue's for the "
        "asset (100 on Binance COIN-M and OKX for BTC, 1 on BitMEX and Bybit)",
    )
    funding_rate: float = Field(
        0.0001,
        ge=-0.1,
        le=0.1,
        description="predicted funding rate, fraction per funding interval of the venue "
        "(positive: longs pay)",
    )
    depth_1pct_usd: float = Field(ge=1.0, description="USD resting within 1 % of mid, per side")
    depth_shape: PositiveFloat = Field(
        1.0, le=5, description="cumulative depth ~ (distance / 1 %) ** shape"
    )
    resilience_half_life_s: PositiveFloat = Field(
        15.0, description="seconds for depleted levels to refill halfway"
    )
    withdrawal_vol_sensitivity: NonNegativeFloat = Field(
        0.15, description="quote withdrawal per unit of excess volatility ratio"
    )
    withdrawal_flow_sensitivity: NonNegativeFloat = Field(
        5.0, description="quote withdrawal per unit of one-sided flow / depth within 1 %"
    )
    insurance_fund_usd: NonNegativeFloat = Field(
        1e9,
        description="insurance fund backing this market at the start, USD; markets that "
        "share a fund (Binance's altcoins) put their figures together",
    )
    backstop_usd: NonNegativeFloat | None = Field(
        None,
        description="backstop vault capital, USD (Hyperliquid HLP); default 0, or 300e6 "
        "on a venue whose takeover is a backstop (split among the markets that share the "
        "venue's vault); a shared vault holds the sum of its markets' figures",
    )
    mmr_scale: PositiveFloat = Field(
        1.0,
        description="multiplies every tier's maintenance margin rate and amount of the "
        "venue profile (1.5: a 50 % stricter venue)",
    )
    partial_liquidation: bool = Field(
        True,
        description="false: every liquidation closes the whole position at once "
        "(partial_mode 'none'); true: the venue's partial procedure",
    )
    observed: Observed | None = Field(
        None,
        description="what was observable before the day (open-interest and price changes, "
        "account ratio) with its source; read by [population_model]",
    )
    volume_24h_usd: PositiveFloat | None = Field(
        None,
        description="traded volume over the 24 h before the run, USD (observed): with a "
        "[flow] table, the rate at which new leveraged positions open on this market",
    )
    population: Population | None = Field(
        None,
        description="per-market changes to [population]: the keys given replace the global ones",
    )
    tiers: MarketTiers | None = Field(
        None,
        description="the market's own margin tier table, replacing the venue profile's "
        "(see `cascadesim tiers VENUE ASSET` for the profile's)",
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="any MarketSpec field, replacing the venue profile's value "
        "(e.g. liquidation_fee_rate, tier_mmr)",
    )

    @model_serializer(mode="wrap")
    def omit_absent_tiers(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A market without its own table dumps as before the key existed: scenario hashes of
        # existing files stay what they were.
        data = handler(self)
        if data.get("tiers", ...) is None:
            del data["tiers"]
        if data.get("contract") == "linear":  # the same for the contract keys
            del data["contract"]
        if data.get("contract_size_usd", ...) is None:
            del data["contract_size_usd"]
        if data.get("volume_24h_usd", ...) is None:
            del data["volume_24h_usd"]
        if data.get("observed", ...) is None:
            del data["observed"]
        return data

    @field_validator("overrides")
    @classmethod
    def one_tier_table(cls, overrides: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        tier_keys = sorted(key for key in overrides if key.startswith("tier_"))
        if info.data.get("tiers") is not None and tier_keys:
            raise ValueError(
                f"no tier_* keys ({', '.join(tier_keys)}) when the market has a [tiers] table: "
                "give the table in one place"
            )
        return overrides


# --- the scenario -------------------------------------------------------------------------
def base_context(source: str | Path | None) -> dict:
    """Validation context of a scenario read from ``source``: the folder of its relative paths."""
    return {"base_dir": None if source is None else Path(source).parent}


class Scenario(StrictModel):
    """A complete scenario: markets, assets, population, shock, clock and seed."""

    name: str = Field(
        pattern=NAME_PATTERN,
        max_length=80,
        description="short name, also the default output folder",
    )
    description: str = Field("", description="one line shown by `cascadesim scenarios`")
    seed: int = Field(0, ge=0, description="root seed of the population's random streams")
    duration_s: PositiveFloat = Field(description="simulated seconds")
    step_s: PositiveFloat = Field(1.0, description="seconds per engine step")
    book_levels: int = Field(
        4096, ge=64, le=1 << 20, description="price levels per book side window (even)"
    )
    iteration_cap: int = Field(
        64, ge=1, le=100_000, description="liquidation fixed-point iterations per step"
    )
    assets: dict[Name, Asset] = Field(min_length=1, description="assets by name")
    markets: dict[Name, Market] = Field(min_length=1, description="markets by name")
    population: Population = Field(default_factory=Population)
    shock: Shock
    event: Event | None = Field(
        None, description="event scenarios: replay or trigger (see cascadesim.scenario.event)"
    )
    reported: Reported | None = Field(None, description="event scenarios: published figures")
    reporting: Reporting | None = Field(
        None, description="event scenarios: how aggregators counted liquidations"
    )
    collateral: dict[str, CollateralCoin] | None = Field(
        None,
        description="coins held as collateral: reference price of a coin not among [assets], "
        "and a haircut of the scenario's own (see cascadesim.scenario.collateral)",
    )
    population_model: PopulationModelSettings | None = Field(
        None,
        description="leveraged and long shares from each market's observables and a few "
        "global parameters (see cascadesim.scenario.observed); none: the [population] keys",
    )
    flow: FlowSettings | None = Field(
        None,
        description="positions that open during the run on markets that state "
        "volume_24h_usd (see cascadesim.scenario.flow); none without the table",
    )
    named_positions: list[NamedPositionRow] | None = Field(
        None,
        max_length=100_000,
        description="positions of named accounts (addresses a venue publishes) added to the "
        "synthetic population (see cascadesim.scenario.named)",
    )
    snapshot: SnapshotProvenance | None = Field(
        None,
        description="scenarios built by `cascadesim snapshot`: where each value was read "
        "(venue, endpoint, UTC time) and which are estimates",
    )
    profile: str | None = Field(
        None,
        description="population profile whose values fill in unset keys: a bundled profile's "
        'name ("calibrated") or a path to a profile .toml file, absolute or relative to the '
        "scenario file's folder (a value ending in .toml or containing / is a path)",
    )

    _source: Path | None = PrivateAttr(default=None)
    _text: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def with_profile(cls, data: Any, info: ValidationInfo) -> Any:
        """Fill in the profile's population and market defaults (scenario.profiles).

        A relative profile path is resolved from the validation context's ``base_dir`` (the
        scenario file's folder, passed by :meth:`from_toml` and :meth:`from_data`), else from
        the current folder.
        """
        if isinstance(data, dict) and data.get("profile") is not None:
            context = info.context if isinstance(info.context, dict) else {}
            return apply_profile(data, context.get("base_dir"))
        return data

    @model_serializer(mode="wrap")
    def omit_absent_collateral(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Without coins the scenario dumps as before the key existed (hashes unchanged).
        data = handler(self)
        if data.get("collateral", ...) is None:
            del data["collateral"]
        if data.get("flow", ...) is None:
            del data["flow"]
        if data.get("population_model", ...) is None:
            del data["population_model"]
        if data.get("snapshot", ...) is None:
            del data["snapshot"]
        if data.get("named_positions", ...) is None:
            del data["named_positions"]
        return data

    @model_validator(mode="after")
    def cross_checks(self) -> Scenario:
        """Checks that span several tables; errors name the offending field path."""
        check_scenario(self)
        check_named_markets(self)
        if self.flow is not None:
            check_flow(self)
        if self.population_model is not None:
            check_no_scale_keys(self)
        if self.event is not None or self.reported is not None or self.reporting is not None:
            check_event(self)
        return self

    # --- reading and describing ---------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Read and validate a scenario file (errors: one line naming file and field)."""
        path = Path(path)
        text = read_text_file(path, "scenario")
        scenario = validate_toml(cls, text, str(path), context=base_context(path))
        scenario._source, scenario._text = path, text
        return scenario

    @classmethod
    def from_toml_text(cls, text: str, source: str = "<scenario>") -> Scenario:
        """Validate scenario TOML given as text; ``source`` names it in errors."""
        scenario = validate_toml(cls, text, source)
        scenario._text = text
        return scenario

    @classmethod
    def from_data(cls, data: dict, source: str | Path | None = None) -> Scenario:
        """Validate scenario data (a parsed TOML table) read from, or derived from, ``source``.

        Relative paths in ``data`` (a recorded path's CSV, a profile file) resolve from
        ``source``'s folder.
        """
        scenario = cls.model_validate(data, context=base_context(source))
        scenario._source = None if source is None else Path(source)
        return scenario

    def derived(self, data: dict) -> Scenario:
        """A variant of this scenario (an event mode, a design point) with the same source."""
        return type(self).from_data(data, self._source)

    @classmethod
    def json_schema(cls) -> dict:
        """JSON Schema of scenario files."""
        schema = cls.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "cascadesim scenario"
        return schema

    @property
    def source(self) -> Path | None:
        """The file this scenario was read from, if any."""
        return self._source

    @property
    def base_dir(self) -> Path | None:
        """Folder that relative paths in the scenario (recorded paths) are resolved from."""
        return None if self._source is None else self._source.parent

    def resolve(self, name: str) -> Path:
        """A path the scenario names (a recorded path's CSV), relative to its file's folder."""
        path = Path(name)
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def to_toml_text(self) -> str:
        """The scenario as TOML: the original file's text when it was read from one."""
        if self._text is not None:
            return self._text
        return dump_toml(self.model_dump(mode="json", exclude_none=True))

    def hash(self) -> str:
        """Short hex sha256 of the canonical JSON of the validated scenario.

        Formatting, comments and key order of the file do not change it; a recorded path's
        CSV content does.
        """
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        )
        digest = hashlib.sha256(canonical.encode())
        if self.shock.kind == "recorded_path" and self.shock.file is not None:
            path = self.resolve(self.shock.file)
            if is_file(path):
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()[:16]

    def provenance(self, seed: int | None = None) -> dict:
        """Seed, scenario hash and name, and the package version, for outputs' metadata."""
        return {
            "seed": self.seed if seed is None else int(seed),
            "scenario_hash": self.hash(),
            "scenario": self.name,
            "version": __version__,
        }

    @property
    def n_steps(self) -> int:
        """Engine steps: duration / step."""
        return int(round(self.duration_s / self.step_s))

    # --- building -----------------------------------------------------------------------
    def market_specs(self) -> list[MarketSpec]:
        """Engine market descriptions: venue profile, then scenario values, then overrides."""
        venues = [market.venue for market in self.markets.values()]
        return [
            market_spec(name, market, venues.count(market.venue))
            for name, market in self.markets.items()
        ]

    def asset_specs(self) -> list[AssetSpec]:
        """Engine asset descriptions, in [assets] order."""
        return [
            AssetSpec(
                name=name,
                spot_depth_1pct_usd=asset.spot_depth_1pct_usd,
                beta=asset.beta,
                factor_weight=asset.factor_weight,
                factor_half_life_s=asset.factor_half_life_s,
            )
            for name, asset in self.assets.items()
        ]

    def start_index(self) -> list[float]:
        """Index of every asset at the start, USD."""
        prices = []
        for name, asset in self.assets.items():
            if asset.price_usd is not None:
                prices.append(asset.price_usd)
            else:
                prices.append(next(m.price_usd for m in self.markets.values() if m.asset == name))
        return prices

    def population_for(self, market_name: str) -> Population:
        """The [population] table with a market's own keys applied."""
        own = self.markets[market_name].population
        if own is None and self.population_model is None:
            return self.population
        merged = self.population.model_dump()
        if own is not None:
            merged.update(own.model_dump(include=own.model_fields_set))
        if self.population_model is not None:
            market = self.markets[market_name]
            interval = market_spec(market_name, market).funding_interval_s
            observed = market_observables(market, interval)
            model = self.population_model.model()
            longs = long_share(model, observed)
            # The model's share is capped where the crowded side would hold the whole open
            # interest (a hot on-chain market): the rest of its OI is then the hedged pool.
            feasible = (1.0 - 1e-9) / (2.0 * max(longs, 1.0 - longs))
            merged["leveraged_share_of_open_interest"] = min(
                leveraged_share(model, observed), feasible
            )
            merged["long_share"] = longs
        return Population.model_validate(merged)

    def build(self, seed: int | None = None) -> EngineSetup:
        """Everything the engine needs: markets, assets, positions, index path, taker flow.

        Parameters
        ----------
        seed : int or None, overrides the scenario's seed

        Raises
        ------
        CascadesimInputError
            one line, prefixed with the scenario file when there is one
        """
        with prefixed(self._source):
            return build_setup(self, self.seed if seed is None else int(seed))
