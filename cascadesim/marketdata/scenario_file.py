"""A snapshot written as a scenario file, every value with its source in a comment.

What the venues publish is written as read (open interest, mark, funding, depth within 1 %
and its shape, 24-h volume, tiers, price and open-interest history, account ratios); what no
public endpoint gives (insurance funds, spot depth, the book's refill and withdrawal) is an
estimate that says so, in its comment and in ``[snapshot] estimates``. The population comes
from the observables through the library's fitted model (``profile = "library"``), so the
file carries no leveraged share of its own. The text is checked by loading it as a scenario
before it is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import ValidationError

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.toml import toml_literal
from cascadesim.marketdata.observation import MarketSnapshot, NamedPosition, Snapshot, utc_text
from cascadesim.model.venues import VENUES
from cascadesim.scenario.models import MarketTiers, Scenario

DAY_S = 86_400.0

# Insurance funds (USD) and Hyperliquid's HLP vault: no endpoint read here publishes them.
# Estimates of the venues' 2025 balances, as the event library states them
# (scenarios/events/2025-10-17-regional-bank-scare.toml), shared by a venue's markets in
# proportion to their open interest.
FUND_ESTIMATES_USD = {
    "binance": 1.0e9,
    "bybit": 3.0e8,
    "okx": 3.0e8,
    "hyperliquid": 0.0,
}
BACKSTOP_ESTIMATES_USD = {"hyperliquid": 4.0e8}
# What [markets.X.observed] accepts (cascadesim.scenario.observed.Observed).
OBSERVED_RANGE = {
    "open_interest_change_7d": (-1.0, 10.0),
    "open_interest_change_30d": (-1.0, 10.0),
    "price_change_7d": (-1.0, 10.0),
    "long_short_account_ratio": (1e-6, 100.0),
}
# How the live reader marks tiers that came from the venue profile, not from the venue.
PROFILE_TIERS = "venue profile"


@dataclass(frozen=True)
class StressShock:
    """The shock a snapshot scenario replays: the index of every asset falls by ``drop``."""

    drop_fraction: float = 0.05
    at_s: float = 300.0
    ramp_s: float = 300.0
    duration_s: float = 3600.0


def significant(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant figures (the file stays readable)."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


class Writer:
    """Lines of a TOML file, each value with its comment, and the [snapshot] tables."""

    def __init__(self):
        self.lines: list[str] = []
        self.sources: dict[str, str] = {}
        self.estimates: dict[str, str] = {}

    def table(self, name: str, comment: str = "") -> None:
        self.lines.append("")
        if comment:
            self.lines.extend(f"# {line}" for line in comment.splitlines())
        self.lines.append(f"[{name}]")

    def value(self, path: str, key: str, value, source: str) -> None:
        """A value read from a venue: ``source`` is 'venue endpoint at time'."""
        self.sources[f"{path}.{key}"] = source
        self.put(key, value, source)

    def estimate(self, path: str, key: str, value, reason: str) -> None:
        self.estimates[f"{path}.{key}"] = reason
        self.put(key, value, f"estimate: {reason}")

    def plain(self, key: str, value, comment: str) -> None:
        self.put(key, value, comment)

    def put(self, key: str, value, comment: str) -> None:
        literal = toml_literal(value)
        if isinstance(value, (list, tuple)) or len(literal) + len(comment) > 90:
            self.lines.append(f"# {comment}")
            self.lines.append(f"{key} = {literal}")
        else:
            self.lines.append(f"{key} = {literal}  # {comment}")


def profile_rate(market: MarketSnapshot) -> tuple[float, str]:
    """The funding rate per the venue profile's interval, and how it was converted."""
    assert market.funding_rate is not None
    rate = float(market.funding_rate.value)
    profile_interval = VENUES[market.venue].funding_interval_s
    interval = profile_interval
    if market.funding_interval_s is not None and market.funding_interval_s.value:
        interval = float(market.funding_interval_s.value)
    if abs(interval - profile_interval) < 1.0:
        return rate, f"{rate:.6%} per {interval / 3600:g} h"
    converted = rate * profile_interval / interval
    return converted, (
        f"{rate:.6%} per {interval / 3600:g} h on the venue, {converted:.6%} per the "
        f"profile's {profile_interval / 3600:g} h"
    )


def change_over(history, days: float, now_value: float | None = None) -> float | None:
    """Fractional change of a (time ms, value) history over the last ``days`` days."""
    if not history or len(history) < 2:
        return None
    last_time, last_value = history[-1]
    if now_value is not None:
        last_value = now_value
    target = last_time - days * DAY_S * 1000.0
    earlier = [(t, v) for t, v in history if t <= target + 3600_000.0]  # within an hour
    if not earlier or earlier[-1][1] <= 0:
        return None
    return float(last_value) / float(earlier[-1][1]) - 1.0


def entry_history(market: MarketSnapshot, price: float, max_points: int = 31):
    """[[seconds before the start, close USD], ...] from the candles, ending at [0, price]."""
    if market.candles is None or len(market.candles.value) < 2:
        return None
    candles = list(market.candles.value)
    step = max(1, math.ceil(len(candles) / max_points))
    kept = candles[::-1][::step][::-1]  # the newest candle always kept
    now_ms = candles[-1][0]
    points = [[int(round((now_ms - t) / 1000.0)), significant(float(c))] for t, c in kept]
    points = [p for p in points if p[0] > 0]
    return [*points, [0, significant(price)]] if points else None


def write_market(writer: Writer, market: MarketSnapshot, fund: float, backstop: float | None):
    path = f"markets.{market.name}"
    writer.table(path, f"{market.venue} {market.symbol} ({market.contract})")
    writer.plain("asset", market.asset, "the asset of this market")
    writer.plain(
        "venue", market.venue, "venue profile: tiers, liquidation procedure, mark, funding"
    )
    priced = market.mark or market.price
    assert priced is not None and market.open_interest_usd is not None
    extra = ""
    if market.index is not None:
        extra = f"; index {significant(float(market.index.value))}"
    writer.value(path, "price_usd", significant(float(priced.value)), priced.comment() + extra)
    writer.value(
        path,
        "open_interest_usd",
        significant(float(market.open_interest_usd.value)),
        market.open_interest_usd.comment(),
    )
    if market.funding_rate is not None:
        rate, how = profile_rate(market)
        comment = f"{market.funding_rate.comment()}: {how}"
        if market.next_funding_ms is not None:
            comment += f"; next settlement {utc_text(market.next_funding_ms.value)}"
        writer.value(path, "funding_rate", significant(rate), comment)
    assert market.depth_usd is not None
    bid, ask = market.depth_usd.value[0.01]
    writer.value(
        path,
        "depth_1pct_usd",
        significant((bid + ask) / 2.0),
        f"{market.depth_usd.comment()}: mean of bid {bid:,.0f} and ask {ask:,.0f} USD within 1 %",
    )
    if market.depth_shape is not None:
        bands = ", ".join(
            f"{band:.0%}: {sum(sides) / 2:,.0f}" for band, sides in market.depth_usd.value.items()
        )
        writer.value(
            path,
            "depth_shape",
            round(float(market.depth_shape.value), 4),
            f"{market.depth_shape.comment()}: fitted to the depth within {bands} USD",
        )
    else:
        writer.estimate(path, "depth_shape", 1.0, "the book did not give two bands to fit")
    if market.volume_24h_usd is not None:
        writer.value(
            path,
            "volume_24h_usd",
            significant(float(market.volume_24h_usd.value)),
            market.volume_24h_usd.comment(),
        )
    writer.estimate(
        path,
        "insurance_fund_usd",
        significant(fund),
        f"{market.venue}'s fund, not published by the endpoints read, shared by open interest",
    )
    if backstop is not None:
        writer.estimate(
            path,
            "backstop_usd",
            significant(backstop),
            f"{market.venue}'s backstop vault (HLP), not read, shared by open interest",
        )
    write_tiers(writer, market, path)
    write_observed(writer, market, path)
    history = entry_history(market, float(priced.value))
    if history is not None:
        assert market.candles is not None
        writer.table(f"{path}.population.entry")
        writer.value(
            f"{path}.population.entry",
            "history",
            history,
            f"{market.candles.comment()}: closes, [seconds before the start, USD]",
        )


def write_tiers(writer: Writer, market: MarketSnapshot, path: str) -> None:
    if market.tiers is None:
        return
    if market.tiers.endpoint.startswith(PROFILE_TIERS):  # the profile applies it already
        writer.lines.append(f"# tiers: {market.tiers.endpoint}")
        return
    rows = list(market.tiers.value)
    writer.table(f"{path}.tiers", f"{market.venue}'s leverage tiers for {market.symbol}")
    source = market.tiers.comment()
    writer.value(f"{path}.tiers", "floors_usd", [significant(float(r[0])) for r in rows], source)
    writer.value(f"{path}.tiers", "mmr", [float(r[1]) for r in rows], source)
    writer.value(f"{path}.tiers", "max_leverage", [float(r[2]) for r in rows], source)
    if all(r[3] is not None for r in rows):
        amounts = [significant(float(r[3])) for r in rows]
        writer.value(f"{path}.tiers", "maintenance_amount_usd", amounts, source)


def write_observed(writer: Writer, market: MarketSnapshot, path: str) -> None:
    figures = {}
    sources = []
    if market.open_interest_history is not None:
        history = market.open_interest_history.value
        now = None if market.open_interest_usd is None else float(market.open_interest_usd.value)
        for days, key in ((7, "open_interest_change_7d"), (30, "open_interest_change_30d")):
            change = change_over(history, days, now)
            if change is not None:
                figures[key] = (change, market.open_interest_history.comment())
    if market.candles is not None:
        change = change_over(market.candles.value, 7)
        if change is not None:
            figures["price_change_7d"] = (change, market.candles.comment())
    if market.long_short_account_ratio is not None:
        ratio = market.long_short_account_ratio
        figures["long_short_account_ratio"] = (float(ratio.value), ratio.comment())
    if not figures:
        return
    where = f"{path}.observed"
    writer.table(where, "what was observable before the start: read by the population model")
    for key, (value, source) in figures.items():
        low, high = OBSERVED_RANGE[key]
        if not math.isfinite(value):
            continue
        shown = round(min(max(value, low), high), 6)
        if shown != round(value, 6):
            source += f" (read {value:.6g}, held to the model's range {low:g} to {high:g})"
        writer.value(where, key, shown, source)
        sources.append(f"{key}: {source}")
    writer.plain("source", "; ".join(sources), "where each figure above was read")


def shares(markets: list[MarketSnapshot], totals: dict[str, float]) -> dict[str, float]:
    """Each market's share of its venue's ``totals`` figure, by open interest."""
    by_venue: dict[str, float] = {}
    for market in markets:
        assert market.open_interest_usd is not None
        by_venue[market.venue] = by_venue.get(market.venue, 0.0) + float(
            market.open_interest_usd.value
        )
    out = {}
    for market in markets:
        assert market.open_interest_usd is not None
        weight = float(market.open_interest_usd.value) / by_venue[market.venue]
        out[market.name] = totals.get(market.venue, 0.0) * weight
    return out


def tier_trouble(market: MarketSnapshot) -> str | None:
    """Why a tier table read from a venue cannot be a scenario's, or None when it can."""
    if market.tiers is None or market.tiers.endpoint.startswith(PROFILE_TIERS):
        return None
    rows = list(market.tiers.value)
    try:
        MarketTiers(
            floors_usd=[float(r[0]) for r in rows],
            mmr=[float(r[1]) for r in rows],
            max_leverage=[float(r[2]) for r in rows],
            maintenance_amount_usd=(
                [float(r[3]) for r in rows] if all(r[3] is not None for r in rows) else None
            ),
        )
    except (ValidationError, TypeError, ValueError, IndexError) as error:
        return first_error(error)
    return None


def first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        detail = error.errors()[0]
        return f"{'.'.join(str(p) for p in detail['loc'])}: {detail['msg']}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def usable(snapshot: Snapshot) -> tuple[list[MarketSnapshot], list[str]]:
    """Markets with what a scenario needs (price, open interest, depth), and why others not."""
    kept, dropped = [], []
    for market in snapshot.markets:
        missing = [
            label
            for label, value in (
                ("price", market.mark or market.price),
                ("open interest", market.open_interest_usd),
                ("order book", market.depth_usd),
            )
            if value is None
        ]
        if missing:
            dropped.append(f"{market.name}: left out: no {', no '.join(missing)}")
            continue
        priced = market.mark or market.price
        assert priced is not None and market.open_interest_usd is not None
        assert market.depth_usd is not None
        figures = {
            "price": float(priced.value),
            "open interest": float(market.open_interest_usd.value),
            "depth within 1 %": sum(market.depth_usd.value.get(0.01, (0.0, 0.0))),
        }
        empty = [
            label for label, value in figures.items() if not (math.isfinite(value) and value > 0)
        ]
        if empty:
            dropped.append(f"{market.name}: left out: {', '.join(empty)} not above zero")
            continue
        trouble = tier_trouble(market)
        if trouble is not None:
            dropped.append(
                f"{market.name}: tiers read but not usable ({trouble}): the venue profile's apply"
            )
            market.tiers = None
        kept.append(market)
    return kept, dropped


def scenario_text(
    snapshot: Snapshot,
    *,
    name: str,
    shock: StressShock = StressShock(),
    seed: int = 0,
    named: list[NamedPosition] | tuple = (),
    data: str = "live",
) -> str:
    """The scenario file of a snapshot (validated by loading it); see the module docstring.

    Raises
    ------
    CascadesimInputError
        when no market has price, open interest and depth (nothing to simulate)
    """
    markets, dropped = usable(snapshot)
    problems = [*snapshot.problems, *dropped]
    if not markets:
        raise CascadesimInputError(
            "snapshot: no market with a price, open interest and order book was read"
            + (f" ({problems[0]})" if problems else "")
        )
    taken = utc_text(snapshot.taken_ms)
    replay = snapshot.index_path is not None
    writer = Writer()
    venues = sorted({m.venue for m in markets})
    assets = list(dict.fromkeys(m.asset for m in markets))
    writer.lines += [
        f"# The market at {taken}, read from {', '.join(venues)} ({data}).",
        f"# Written by: {snapshot.command or 'cascadesim snapshot'}",
        "# Every value says where it was read (venue, endpoint, UTC time) or that it is an",
        "# estimate. The leveraged population comes from the observables through the",
        '# library\'s fitted model (profile = "library"): no leveraged share is set here.',
    ]
    writer.lines += [f"# not read: {line}" for line in problems]
    writer.plain("name", name, "also the default output folder")
    what = (
        "the day replayed"
        if replay
        else (f"index -{shock.drop_fraction:.1%} over {shock.ramp_s:g} s")
    )
    writer.plain(
        "description",
        f"{'/'.join(assets)} on {', '.join(venues)} at {taken}: {what}",
        "shown by `cascadesim scenarios`",
    )
    writer.plain("seed", seed, "root seed of the population's random streams")
    duration = 86_400.0 if replay else float(shock.duration_s)
    writer.plain("duration_s", duration, "simulated seconds (a replayed day: 24 h)")
    writer.plain("step_s", 1.0, "one-second steps")
    writer.plain("profile", "library", "the event library's fitted population and flow")
    writer.table(
        "population_model",
        "Leveraged and long shares of each market from its observables (funding, open-interest\n"
        "and price changes, account ratios): the parameters are the profile's, fitted on the\n"
        "event library.",
    )
    writer.table(
        "flow",
        "Positions that open during the run at a rate tied to each market's 24-h volume\n"
        "(the profile's fitted rates).",
    )
    depth: dict[str, float] = {}
    for market in markets:
        assert market.depth_usd is not None
        bid, ask = market.depth_usd.value[0.01]
        depth[market.asset] = depth.get(market.asset, 0.0) + (bid + ask) / 2.0
    for asset in assets:
        writer.table(f"assets.{asset}")
        indexed = next((m for m in markets if m.asset == asset and m.index is not None), None)
        if indexed is not None and indexed.index is not None:
            writer.value(
                f"assets.{asset}",
                "price_usd",
                significant(float(indexed.index.value)),
                indexed.index.comment(),
            )
        writer.estimate(
            f"assets.{asset}",
            "spot_depth_1pct_usd",
            significant(depth[asset]),
            "spot books are not read; the summed perp depth within 1 % of the markets read",
        )
    funds = shares(markets, FUND_ESTIMATES_USD)
    backstops = shares(markets, BACKSTOP_ESTIMATES_USD)
    for market in markets:
        backstop = backstops[market.name] if market.venue in BACKSTOP_ESTIMATES_USD else None
        write_market(writer, market, funds[market.name], backstop)
    for position in named:
        write_named(writer, position)
    if snapshot.index_path is not None and any(a in snapshot.index_path.value for a in assets):
        write_replay(writer, snapshot, assets)
    else:
        write_stress(writer, shock)
    write_provenance(writer, taken, snapshot.command, data, problems)
    text = "\n".join(writer.lines).lstrip("\n") + "\n"
    Scenario.from_toml_text(text, source=f"{name}.toml")  # what is written must load
    return text


def write_replay(writer: Writer, snapshot: Snapshot, assets: list[str]) -> None:
    """The day's index path from the data files, as fractions of each asset's first price."""
    assert snapshot.index_path is not None
    paths = snapshot.index_path.value
    writer.table(
        "shock",
        "The day replayed: each asset's index path from the data files (fractions of its "
        "first price; an asset without one stays at its start price).",
    )
    writer.plain("kind", "index_path", "the index follows the day's path")
    writer.table("shock.per_asset", snapshot.index_path.comment())
    for asset in assets:
        points = paths.get(asset) or [(0.0, 1.0), (86_400.0, 1.0)]
        first = points[0][1]
        fractions = [[round(t, 3), round(p / first, 8)] for t, p in points]
        writer.sources[f"shock.per_asset.{asset}"] = snapshot.index_path.comment()
        writer.lines.append(f"{asset} = {toml_literal(fractions)}")


def write_stress(writer: Writer, shock: StressShock) -> None:
    writer.table(
        "shock",
        "The stress: every asset's index falls by drop_fraction over ramp_s (a risk team's "
        "'what does a 5 % drop flush?'); change it, or sweep it with `cascadesim sweep`.",
    )
    writer.plain("kind", "index_jump", "the index of every asset moves")
    writer.plain("asset", "all", "every asset")
    writer.plain("drop_fraction", shock.drop_fraction, "fraction of the index lost")
    writer.plain("at_s", shock.at_s, "seconds of calm first")
    writer.plain("ramp_s", shock.ramp_s, "seconds over which it falls")


def write_named(writer: Writer, position: NamedPosition) -> None:
    writer.lines += ["", f"# {position.source.comment()}", "[[named_positions]]"]
    for key in ("account", "market", "side", "quantity", "entry_price", "margin", "margin_mode"):
        value = getattr(position, key)
        writer.lines.append(
            f"{key} = {toml_literal(significant(value) if isinstance(value, float) else value)}"
        )
    writer.lines.append(f"leverage = {toml_literal(float(position.leverage))}")


def write_provenance(writer: Writer, taken: str, command: str, data: str, problems) -> None:
    writer.table("snapshot", "Where every value was read, and which are estimates.")
    writer.plain("taken_utc", taken, "when the snapshot was taken")
    writer.plain("command", command, "the command that wrote this file")
    writer.plain("data", data, "live APIs through ccxt, or the exchanges' data files")
    writer.lines.append(f"problems = {toml_literal(list(problems))}")
    writer.lines += ["", "[snapshot.sources]"]
    writer.lines += [f"{toml_literal(k)} = {toml_literal(v)}" for k, v in writer.sources.items()]
    writer.lines += ["", "[snapshot.estimates]"]
    writer.lines += [f"{toml_literal(k)} = {toml_literal(v)}" for k, v in writer.estimates.items()]
