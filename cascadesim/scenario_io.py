"""Reading, checking and building scenarios; one-line errors; the bundled scenario files.

The models live in :mod:`cascadesim.scenario`; this module holds what they do with files and
with the engine: TOML parsing, the conversion of pydantic's ``ValidationError`` into
``<file>: <field.path> = <value>: <what is allowed>``, the checks that span several tables,
the translation of a market into a :class:`cascadesim.setup.MarketSpec`, and the lookup of the
bundled scenarios (inside the installed package, or ``scenarios/`` in a source checkout).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.resources
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from cascadesim.engine import layout
from cascadesim.errors import CascadesimInputError, invalid
from cascadesim.resources import MAX_STEPS, MemoryEstimate, check_memory
from cascadesim.setup import EngineSetup, MarketSpec
from cascadesim.venues import VENUES

SHOCK_KINDS = ("index_jump", "index_path", "sell_programme", "recorded_path")
# MarketSpec field -> the scenario key that sets it, for error paths.
SCENARIO_KEY = {"price": "price_usd", "tick_size": "tick_usd",
                "funding_rate_initial": "funding_rate"}


# --- reading ------------------------------------------------------------------------------
def read_text_file(path: Path, kind: str) -> str:
    """UTF-8 text of a ``kind`` file ("scenario", "sweep"); one-line errors naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CascadesimInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CascadesimInputError(f"{path}: a folder, not a {kind} file") from None
    except OSError as error:
        raise CascadesimInputError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CascadesimInputError(f"{path}: not UTF-8 text (byte {error.start})") from None


def validate_toml(model: type[BaseModel], text: str, source: str):
    """Parse TOML text into ``model``; errors are one line prefixed with ``source``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CascadesimInputError(f"{source}: {describe_toml_error(error)}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise CascadesimInputError(f"{source}: {describe_validation_error(error, model)}") \
            from None


def load_scenario(cls, path: Path):
    """Read, parse and validate a scenario file."""
    scenario = parse_scenario(cls, read_text_file(path, "scenario"), str(path))
    scenario._source = path
    return scenario


def parse_scenario(cls, text: str, source: str):
    """Parse TOML text and validate it; errors are prefixed with ``source``."""
    scenario = validate_toml(cls, text, source)
    scenario._text = text
    return scenario


def describe_toml_error(error: tomllib.TOMLDecodeError) -> str:
    """``line N: <message>`` from tomllib's ``<message> (at line N, column M)``."""
    message = str(error)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if match:
        text = message[: match.start()]
        return f"line {match.group(1)}: {text[:1].lower()}{text[1:]} (column {match.group(2)})"
    match = re.search(r"\s*\(at end of document\)\s*$", message)
    if match:
        text = message[: match.start()]
        return f"end of file: {text[:1].lower()}{text[1:]}"
    return message


@contextlib.contextmanager
def prefixed(source: Path | str | None) -> Iterator[None]:
    """Prefix one-line input errors raised inside the block with ``<source>: ``."""
    try:
        yield
    except CascadesimInputError as error:
        message = str(error)
        if source is None or message.startswith(f"{source}: "):
            raise
        raise CascadesimInputError(f"{source}: {message}") from None


# --- pydantic errors as one line ----------------------------------------------------------
def describe_validation_error(error: ValidationError, root: type[BaseModel]) -> str:
    """The first error as ``<field.path> = <value>: <what is allowed>``."""
    errors = error.errors(include_url=False)
    # An unknown key first: a misspelt field also shows up as the real one "missing".
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    context = first.get("ctx") or {}
    original = context.get("error")
    if isinstance(original, CascadesimInputError):
        return str(original)
    loc = list(first["loc"])
    if loc[:1] == ["shock"] and len(loc) > 1 and loc[1] in SHOCK_KINDS:
        del loc[1]  # the discriminator's tag is not a key of the file
    kind = first["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        loc.append("kind")
    path = field_path(loc)
    value = "(missing)" if kind in ("missing", "union_tag_not_found") else short_repr(
        context.get("tag", first["input"]) if kind == "union_tag_invalid" else first["input"])
    if kind == "extra_forbidden":
        parent = walk(root, list(first["loc"])[:-1])
        if not is_model(parent):
            return f"{path} = {value}: not a field here (see `cascadesim schema`)"
        close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return (f"{path} = {value}: not a field here{hint}; allowed: "
                + ", ".join(parent.model_fields))
    allowed = allowed_text(kind, first["msg"], context)
    description = field_description(root, list(first["loc"]))
    if description and kind not in ("value_error", "assertion_error"):
        allowed = f"{allowed} ({description})"
    return f"{path} = {value}: {allowed}"


def field_path(loc: list) -> str:
    """``('markets', 'BTC', 'points', 2)`` -> ``markets.BTC.points[2]``.

    A key that is not plain (spaces, control characters, quotes, more than 60 characters)
    is shown quoted and shortened, as :func:`short_repr` shows values.
    """
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        part = str(part)
        if not re.fullmatch(r"[\w.*-]{1,60}", part):
            part = short_repr(part)
        text += f".{part}" if text else part
    return text or "(scenario)"


def short_repr(value: object, limit: int = 60) -> str:
    """repr of a value, shortened to one readable fragment."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def allowed_text(kind: str, message: str, context: dict) -> str:
    """What pydantic's error type says is allowed, in the scenario's words."""
    def number(key: str) -> str:
        return f"{context[key]:g}" if isinstance(context.get(key), int | float) else "?"

    texts = {
        "missing": "a required field",
        "greater_than": lambda: f"a number > {number('gt')}",
        "greater_than_equal": lambda: f"a number >= {number('ge')}",
        "less_than": lambda: f"a number < {number('lt')}",
        "less_than_equal": lambda: f"a number <= {number('le')}",
        "float_type": "a number", "float_parsing": "a number",
        "int_type": "a whole number", "int_parsing": "a whole number",
        "int_from_float": "a whole number",
        "string_type": "text in quotes", "bool_type": "true or false",
        "literal_error": lambda: f"one of {context.get('expected', '')}",
        "union_tag_invalid": lambda: f"one of {context.get('expected_tags', '')}",
        "union_tag_not_found": "a kind: one of " + ", ".join(repr(k) for k in SHOCK_KINDS),
        "list_type": "a list [...]", "dict_type": "a table", "model_type": "a table",
        "model_attributes_type": "a table",
        "too_short": lambda: f"at least {context.get('min_length')} items",
        "too_long": lambda: f"at most {context.get('max_length')} items",
        "finite_number": "a finite number",
        "string_pattern_mismatch": "letters, digits, '_', '.' or '-', starting with a letter "
                                   "or digit",
        "string_too_long": lambda: f"at most {context.get('max_length')} characters",
    }
    text = texts.get(kind)
    if callable(text):
        return text()
    if text is not None:
        return text
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message[:1].lower() + message[1:]


def is_model(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def strip(annotation):
    """Remove Annotated and Optional wrappers (keeps real unions)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def walk(root, loc: list):
    """The annotation (model class, list, ...) at a pydantic error location, or None."""
    annotation = root
    for part in loc:
        annotation = strip(annotation)
        origin = typing.get_origin(annotation)
        if is_model(annotation):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next((m for m in typing.get_args(annotation) if is_model(m)
                               and part in typing.get_args(m.model_fields["kind"].annotation)),
                              None)
            if annotation is None:
                return None
        else:
            return None
    return strip(annotation)


def field_description(root, loc: list) -> str | None:
    """The description of the field at ``loc`` (skipping list indices), if any."""
    while loc and isinstance(loc[-1], int):
        loc = loc[:-1]
    if not loc:
        return None
    parent = walk(root, loc[:-1])
    if is_model(parent) and isinstance(loc[-1], str) and loc[-1] in parent.model_fields:
        return parent.model_fields[loc[-1]].description
    return None


# --- cross-field checks -------------------------------------------------------------------
def check_scenario(scenario) -> None:
    """Checks spanning several tables; raises CascadesimInputError naming the field path."""
    steps = scenario.duration_s / scenario.step_s
    if not math.isfinite(steps) or steps > MAX_STEPS:  # not a count any run could reach
        raise invalid("duration_s", scenario.duration_s,
                      f"at most {MAX_STEPS:,} steps of step_s = {scenario.step_s:g} seconds")
    if abs(steps - round(steps)) > 1e-9 * max(steps, 1.0) or round(steps) < 1:
        raise invalid("duration_s", scenario.duration_s,
                      f"a whole multiple (>= 1) of step_s = {scenario.step_s:g} seconds")
    if scenario.book_levels % 2:
        raise invalid("book_levels", scenario.book_levels, "an even number of levels")
    for name, market in scenario.markets.items():
        if market.asset not in scenario.assets:
            raise invalid(f"markets.{name}.asset", market.asset,
                          "an asset of [assets]: " + ", ".join(scenario.assets))
    for name, asset in scenario.assets.items():
        if asset.price_usd is None and not any(m.asset == name
                                               for m in scenario.markets.values()):
            raise invalid(f"assets.{name}", name, "an asset traded by at least one market "
                          "(or one with price_usd)")
    start = dict(zip(scenario.assets, scenario.start_index(), strict=True))
    for name, market in scenario.markets.items():
        check_market(scenario, name, market, start[market.asset])
    check_shock(scenario)


def check_market(scenario, name: str, market, index_usd: float) -> None:
    """Price near the index, book window, funding within the cap, population fits."""
    where = f"markets.{name}"
    if not math.isclose(market.price_usd, index_usd, rel_tol=0.2):
        raise invalid(f"{where}.price_usd", market.price_usd,
                      f"within 20 % of the {market.asset} index at the start ({index_usd:g} USD)")
    if market.tick_usd is not None:
        if market.tick_usd > 0.01 * market.price_usd:
            raise invalid(f"{where}.tick_usd", market.tick_usd, "at most 1 % of price_usd")
        if market.tick_usd * scenario.book_levels < 0.2 * market.price_usd:
            raise invalid(f"{where}.tick_usd", market.tick_usd,
                          f"large enough that book_levels ({scenario.book_levels}) ticks span "
                          "20 % of price_usd")
    spec = market_spec(name, market)
    if abs(market.funding_rate) > spec.funding_cap + 1e-15:
        raise invalid(f"{where}.funding_rate", market.funding_rate,
                      f"within +-{spec.funding_cap:g} per {spec.funding_interval_s:g} s "
                      f"({market.venue}'s cap for {market.asset})")
    population = scenario.population_for(name)
    share = long_share(population, spec)
    crowded = 2.0 * population.leveraged_share_of_open_interest * max(share, 1.0 - share)
    if crowded > 1.0 + 1e-12:
        own = market.population is not None and (
            {"leveraged_share_of_open_interest", "long_share"} & market.population.model_fields_set)
        prefix = f"{where}.population" if own else "population"
        limit = 1.0 / (2.0 * max(share, 1.0 - share))
        raise invalid(f"{prefix}.leveraged_share_of_open_interest",
                      population.leveraged_share_of_open_interest,
                      f"at most {limit:.4g} for market {name} (long share {share:.3g}): the "
                      "leveraged crowded side cannot exceed the open interest")


def long_share(population, spec: MarketSpec) -> float:
    """The population's long share, or the one implied by the market's funding."""
    from cascadesim.population import long_share_from_funding

    if population.long_share is not None:
        return population.long_share
    return long_share_from_funding(spec.funding_rate_initial, spec.funding_interval_s)


def check_shock(scenario) -> None:
    """The shock names existing assets and markets and starts inside the run."""
    shock = scenario.shock
    assets = list(scenario.assets)
    if shock.kind == "sell_programme":
        if shock.market not in scenario.markets:
            raise invalid("shock.market", shock.market,
                          "a market of [markets]: " + ", ".join(scenario.markets))
        if shock.start_s >= scenario.duration_s:
            raise invalid("shock.start_s", shock.start_s,
                          f"before the end of the run (duration_s = {scenario.duration_s:g})")
        return
    if shock.kind == "index_path" and shock.per_asset is not None:
        for asset in shock.per_asset:
            if asset not in scenario.assets:
                raise invalid(f"shock.per_asset.{asset}", asset,
                              "an asset of [assets]: " + ", ".join(assets))
        return
    if shock.asset != "all" and shock.asset not in scenario.assets:
        raise invalid("shock.asset", shock.asset, "'all' or an asset of [assets]: "
                      + ", ".join(assets))
    if shock.kind == "index_jump" and shock.at_s >= scenario.duration_s:
        raise invalid("shock.at_s", shock.at_s,
                      f"before the end of the run (duration_s = {scenario.duration_s:g})")


# --- markets ------------------------------------------------------------------------------
def market_spec(name: str, market) -> MarketSpec:
    """MarketSpec from the venue profile, the scenario's values and the overrides."""
    from cascadesim.scenario import OVERRIDABLE_FIELDS, default_tick

    venue = VENUES[market.venue]
    tiers = venue.tiers(market.asset)
    uses_backstop = venue.takeover_mode == layout.TAKEOVER_BACKSTOP
    values = {
        "name": name, "asset": market.asset, "venue": market.venue,
        "price": market.price_usd,
        "tick_size": market.tick_usd or default_tick(market.price_usd),
        "depth_1pct_usd": market.depth_1pct_usd, "depth_shape": market.depth_shape,
        "resilience_half_life_s": market.resilience_half_life_s,
        "withdrawal_vol_sensitivity": market.withdrawal_vol_sensitivity,
        "withdrawal_flow_sensitivity": market.withdrawal_flow_sensitivity,
        "insurance_fund_usd": market.insurance_fund_usd,
        "backstop_usd": (market.backstop_usd if market.backstop_usd is not None
                         else 300e6 if uses_backstop else 0.0),
        "funding_rate_initial": market.funding_rate,
        "mark_rule": layout.MARK_RULE_NAMES[venue.mark_rule],
        "partial_mode": layout.PARTIAL_MODE_NAMES[venue.partial_mode],
        "limit_mode": layout.LIMIT_MODE_NAMES[venue.limit_mode],
        "takeover_mode": layout.TAKEOVER_NAMES[venue.takeover_mode],
        "adl_rank_rule": layout.ADL_RANK_NAMES[venue.adl_rank_rule],
        "cross_close_order": layout.CROSS_ORDER_NAMES[venue.cross_close_order],
        "liquidation_fee_rate": venue.liquidation_fee_rate,
        "slippage_limit": venue.slippage_limit,
        "chunk_fraction": venue.chunk_fraction,
        "chunk_min_notional_usd": venue.chunk_min_notional_usd,
        "chunk_cooldown_s": venue.chunk_cooldown_s,
        "backstop_equity_fraction": venue.backstop_equity_fraction,
        "funding_interval_s": venue.funding_interval_s,
        "funding_interest_rate": venue.funding_interest_rate,
        "funding_clamp": venue.funding_clamp,
        "funding_cap": venue.funding_cap_for(market.asset),
        # Half an interval to the next settlement: the expected wait at a random start.
        "time_to_first_funding_s": venue.funding_interval_s / 2.0,
        "basis_average_s": venue.basis_average_s,
        "tier_floor_usd": tuple(float(x) for x in tiers.floors),
        "tier_mmr": tuple(float(x) for x in tiers.mmr),
        "tier_maintenance_amount": tuple(float(x) for x in tiers.maintenance_amount),
        "tier_max_leverage": tuple(float(x) for x in tiers.max_leverage),
    }
    defaults = MarketSpec()
    for key, value in market.overrides.items():
        where = f"markets.{name}.overrides.{key}"
        if key not in OVERRIDABLE_FIELDS:
            close = difflib.get_close_matches(key, OVERRIDABLE_FIELDS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise invalid(where, value, f"not a MarketSpec field; {hint}allowed: "
                          + ", ".join(OVERRIDABLE_FIELDS))
        values[key] = override_value(where, value, getattr(defaults, key))
    if {"tier_floor_usd", "tier_mmr"} & market.overrides.keys() and (
            "tier_maintenance_amount" not in market.overrides):
        values["tier_maintenance_amount"] = None  # recompute from the continuity recursion
    apply_market_switches(name, market, values)
    try:
        return MarketSpec(**values)
    except CascadesimInputError as error:
        message = str(error)
        match = re.match(rf"markets\.{re.escape(name)}\.(\w+)(.*)$", message)
        if match:
            field = match.group(1)
            key = (f"overrides.{field}" if field in market.overrides
                   else SCENARIO_KEY.get(field, field))
            message = f"markets.{name}.{key}{match.group(2)}"
        raise CascadesimInputError(message) from None


def apply_market_switches(name: str, market, values: dict) -> None:
    """Apply ``mmr_scale`` and ``partial_liquidation`` to a market's MarketSpec values.

    The maintenance amounts scale with the rates: the continuity recursion is linear in them.
    """
    scale = market.mmr_scale
    if scale != 1.0:
        rates = tuple(rate * scale for rate in values["tier_mmr"])
        if max(rates) >= 1.0:
            raise invalid(f"markets.{name}.mmr_scale", scale,
                          f"small enough that every tier's rate stays below 1 (the largest "
                          f"rate would be {max(rates):g})")
        values["tier_mmr"] = rates
        if values["tier_maintenance_amount"] is not None:
            values["tier_maintenance_amount"] = tuple(
                amount * scale for amount in values["tier_maintenance_amount"])
    if not market.partial_liquidation:
        values["partial_mode"] = "none"


def override_value(where: str, value, default):
    """Check an override's type against the MarketSpec default's; lists become tuples."""
    if isinstance(default, str):
        if not isinstance(value, str):
            raise invalid(where, value, "text in quotes")
        return value
    if isinstance(default, tuple) or default is None:
        if not (isinstance(value, list) and value and all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in value)):
            raise invalid(where, value, "a non-empty list of numbers, one per tier")
        return tuple(float(x) for x in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(where, value, "a number")
    return float(value)


# --- building -----------------------------------------------------------------------------
def build_setup(scenario, seed: int) -> EngineSetup:
    """EngineSetup of a validated scenario with the given seed.

    The number of accounts and the memory the run will need are checked before the shock
    path or the population is allocated (see :mod:`cascadesim.resources`).
    """
    import numpy as np

    from cascadesim.population import synthesize
    from cascadesim.shocks import add_idiosyncratic_noise, shock_arrays

    specs = scenario.market_specs()
    assets = scenario.asset_specs()
    check_recorded_file(scenario)
    inputs = [market_population(scenario, spec, name)
              for spec, name in zip(specs, scenario.markets, strict=True)]
    counts = [account_count(name, market) for name, market in zip(scenario.markets, inputs,
                                                                  strict=True)]
    if sum(counts) <= scenario.population.max_accounts:  # else synthesize names the limit
        check_memory(MemoryEstimate(positions=sum(counts), steps=scenario.n_steps,
                                    markets=len(specs), assets=len(assets),
                                    levels=scenario.book_levels),
                     f"scenario {scenario.name}")
    index_path, flow = shock_arrays(scenario.shock, scenario.n_steps, scenario.step_s,
                                    list(scenario.assets), scenario.start_index(),
                                    list(scenario.markets), scenario.base_dir)
    volatility = [asset.idiosyncratic_volatility for asset in scenario.assets.values()]
    if any(volatility):
        # Its own stream (seed, 1), so adding noise never changes the population's draws.
        noise_rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        index_path = add_idiosyncratic_noise(index_path, volatility, scenario.step_s, noise_rng)
    generated = synthesize(inputs, seed, scenario.population.max_accounts)
    check_generated(scenario, generated.positions)
    for info, name in zip(generated.diagnostics, scenario.markets, strict=True):
        info["market"] = name
        info["isolated_share"] = scenario.population_for(name).isolated_share
    return EngineSetup(
        markets=specs, assets=assets, positions=generated.positions, index_path=index_path,
        step_seconds=scenario.step_s, taker_flow_usd=flow, n_levels=scenario.book_levels,
        iteration_cap=scenario.iteration_cap, n_accounts=generated.n_accounts,
        labels={"provenance": scenario.provenance(seed), "population": generated.diagnostics,
                "open_interest_usd": [market.open_interest_usd
                                      for market in scenario.markets.values()]},
    )


def market_population(scenario, spec: MarketSpec, name: str):
    """What the population generator needs to know about market ``name``."""
    import numpy as np

    from cascadesim.population import EntryModel, MarketPopulation, SizeDistribution

    market = scenario.markets[name]
    population = scenario.population_for(name)
    size = population.account_size
    entry = population.entry
    history = None if entry.history is None else np.asarray(entry.history, dtype=np.float64)
    spread = entry.spread_fraction
    if spread is None:
        spread = 0.03 if history is None else 0.005
    return MarketPopulation(
        price=spec.price, open_interest_usd=market.open_interest_usd,
        long_share=long_share(population, spec),
        leveraged_share=population.leveraged_share_of_open_interest,
        leverage_values=leverage_values(population.leverage),
        leverage_weights=np.asarray(population.leverage.weights, dtype=np.float64),
        sizes=SizeDistribution(size.median_usd, size.body_log_std, size.tail_share,
                               size.tail_alpha, size.max_usd),
        entries=EntryModel(spread, history, None if entry.weights is None
                           else np.asarray(entry.weights, dtype=np.float64)),
        tier_floor_usd=np.asarray(spec.tier_floor_usd, dtype=np.float64),
        tier_mmr=np.asarray(spec.tier_mmr, dtype=np.float64),
        tier_maintenance_amount=spec.maintenance_amounts(),
        tier_max_leverage=np.asarray(spec.tier_max_leverage, dtype=np.float64),
        start_margin_cushion=population.start_margin_cushion,
        accounts=population.accounts,
        venue=spec.venue,
        isolated_share=population.isolated_share,
    )


def account_count(name: str, market) -> int:
    """Accounts of one market, refused in one line when the sizes give no finite count."""
    long_usd, short_usd = market.leveraged_notional_usd()
    try:
        mean = market.sizes.mean_usd()
    except (OverflowError, ZeroDivisionError, ValueError):
        mean = math.nan
    if not math.isfinite(long_usd + short_usd):
        raise invalid(f"markets.{name}.open_interest_usd", market.open_interest_usd,
                      "an open interest whose leveraged notional is a finite number of USD")
    if not (math.isfinite(mean) and mean > 0):  # the Pareto tail's moments overflow
        size = market.sizes
        raise invalid(f"markets.{name}: population.account_size",
                      {"median_usd": size.median_usd, "max_usd": size.max_usd},
                      f"sizes whose mean is a finite number of USD (it is {mean:g})")
    return market.account_count()


def check_generated(scenario, positions) -> None:
    """Every generated position is finite and positive, else the population table is named.

    Extreme but valid settings (a median account of 1e300 USD, a price of 1e-300) overflow
    or underflow in the generator; the engine would refuse the arrays with a message about
    row numbers, so the scenario's own fields are named here instead.
    """
    import numpy as np

    for column in ("quantity", "entry_price", "margin"):
        values = getattr(positions, column)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            row = int(np.argmax(bad))
            name = list(scenario.markets)[int(positions.market[row])]
            raise invalid(f"markets.{name}", f"{column} {float(values[row])!r}",
                          "a population whose positions have finite sizes, entry prices and "
                          "margins > 0: price_usd, open_interest_usd and "
                          "population.account_size are too extreme together")


def leverage_values(mix):
    """The mix's leverages (float64 array), lowered to its ``max`` when one is set."""
    import numpy as np

    values = np.asarray(mix.values, dtype=np.float64)
    return values if mix.max is None else np.minimum(values, mix.max)


def check_recorded_file(scenario) -> None:
    """A recorded path's CSV file exists (relative to the scenario file)."""
    shock = scenario.shock
    if shock.kind != "recorded_path" or shock.file is None:
        return
    path = Path(shock.file)
    if not path.is_absolute() and scenario.base_dir is not None:
        path = scenario.base_dir / path
    if not path.is_file():
        raise invalid("shock.file", shock.file, f"an existing CSV file (looked for {path})")


# --- writing TOML -------------------------------------------------------------------------
def dump_toml(data: dict) -> str:
    """Minimal TOML writer for a scenario's ``model_dump(mode="json")`` (tables, scalars, lists)."""
    lines: list[str] = []
    emit_table(lines, [], data)
    return "\n".join(lines).strip() + "\n"


def emit_table(lines: list[str], prefix: list[str], table: dict) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and v is not None}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if prefix and (scalars or not tables):
        lines.append("[" + ".".join(toml_key(p) for p in prefix) + "]")
    for key, value in scalars.items():
        lines.append(f"{toml_key(key)} = {toml_value(value)}")
    if scalars or (prefix and not tables):
        lines.append("")
    for key, value in tables.items():
        emit_table(lines, [*prefix, key], value)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


# --- bundled scenarios --------------------------------------------------------------------
def bundled_directory() -> Path:
    """``cascadesim/scenarios`` in an installed package, else ``scenarios/`` of the checkout."""
    with contextlib.suppress(ModuleNotFoundError, TypeError):
        packaged = importlib.resources.files("cascadesim") / "scenarios"
        if packaged.is_dir():
            return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "scenarios"


def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario files by name (file stem), sorted, ``default`` first."""
    directory = bundled_directory()
    paths = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    ordered = sorted(paths, key=lambda p: (p.stem != "default", p.stem))
    return {path.stem: path for path in ordered}


def resolve_scenario(argument: str | None) -> Path:
    """A scenario argument (file path or bundled name; None = default) -> a file path."""
    bundled = bundled_scenarios()
    if argument is None:
        argument = "default"
    path = Path(argument)
    if path.is_file() or path.suffix == ".toml" or "/" in argument or "\\" in argument:
        return path
    if argument in bundled:
        return bundled[argument]
    raise CascadesimInputError(f"{argument}: no such file, and not a bundled scenario "
                               f"(bundled: {', '.join(bundled) or 'none found'})")
