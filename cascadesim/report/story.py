"""The cascade told as a short numbered story, from a run's timeline, event log and books.

Each line is one moment, in plain words and numbers: the shock, the first liquidations and
their leverage, the bid side thinning, each wave, how far the cascade pushed the price beyond
the shock alone, the insurance fund, auto-deleveraging and bad debt, and when and why it
stopped. ``cascadesim explain`` prints it, the report opens with it and ``--json`` gives it
with the waves as a list.
"""

from __future__ import annotations

import numpy as np

from cascadesim._util.formatting import format_fraction, format_price, format_usd
from cascadesim.engine import layout
from cascadesim.report.book_view import depth_within
from cascadesim.report.waves import Wave, run_waves

FIRST_WINDOW_S = 10.0  # "the first liquidations": those within this many seconds of the first
NEAR_BOOK = 0.005  # the bid depth the story follows: within 0.5 % of the mid


def seconds(value: float) -> str:
    """'t = 312 s' or, past ten minutes, 't = 312 s (5 min 12 s)'."""
    text = f"t = {value:,.0f} s"
    if value >= 600:
        minutes, rest = divmod(int(round(value)), 60)
        text += f" ({minutes} min {rest:02d} s)"
    return text


def lead_market(result) -> int:
    """The market with the deepest fall: the one the price lines describe."""
    drawdowns = [row["max_drawdown"] for row in result.summary["markets"]]
    return int(np.argmax(drawdowns))


def position_leverage(result, rows: np.ndarray) -> np.ndarray:
    """Leverage of event rows: the event log's own, else the position's at entry."""
    events = result.outcome.events
    if "leverage" in (events.dtype.names or ()):
        return np.asarray(events["leverage"][rows], dtype=np.float64)
    positions = result.initial_positions
    index = events["position"][rows]
    inverse = np.asarray([spec.inverse for spec in result.setup.markets])[positions.market[index]]
    notional = positions.quantity[index] * np.where(inverse, 1.0, positions.entry_price[index])
    with np.errstate(divide="ignore", invalid="ignore"):
        return notional / positions.margin[index]


def shock_line(result, m: int) -> str | None:
    timeline = result.outcome.timeline[:, m]
    index = timeline["index_price"]
    start = float(result.setup.markets[m].price)
    moved = np.flatnonzero(np.abs(index / start - 1.0) > 1e-5)
    if not moved.size:
        return None
    low = int(np.argmin(index))
    name = result.setup.markets[m].asset
    text = (
        f"The {name} index began to move at {seconds(float(timeline['time'][moved[0]]) - 1)} "
        f"and reached its low of {format_price(float(index[low]))} USD "
        f"({format_fraction(float(index[low]) / start - 1.0)}) at "
        f"{seconds(float(timeline['time'][low]))}"
    )
    counterfactual = result.summary["markets"][m]["counterfactual_max_drawdown"]
    if counterfactual is not None:
        text += (
            f"; with no liquidations the price would have fallen {format_fraction(counterfactual)}"
        )
    return text + "."


def first_liquidations_line(result) -> str | None:
    events = result.outcome.events
    liquidations = np.flatnonzero(np.isin(events["kind"], layout.LIQUIDATION_KINDS))
    if not liquidations.size:
        return None
    first_time = float(events["time"][liquidations].min())
    early = liquidations[events["time"][liquidations] <= first_time + FIRST_WINDOW_S]
    early = early[events["position"][early] >= 0]
    market = result.market_names[int(events["market"][liquidations[0]])]
    text = f"The first liquidations hit at {seconds(first_time)} on {market}"
    if early.size:
        leverage = position_leverage(result, early)
        leverage = leverage[np.isfinite(leverage)]
        positions = int(np.unique(events["position"][early]).size)
        usd = float(events["notional"][early].sum())
        noun = "position" if positions == 1 else "positions"
        text += f": {positions:,} {noun} in the first {FIRST_WINDOW_S:g} s, {format_usd(usd)}"
        if leverage.size:
            text += (
                f", at a median leverage of {np.median(leverage):.0f}x "
                f"(the highest {leverage.max():.0f}x)"
            )
    return text + "."


def book_line(result, m: int) -> str | None:
    snapshots = result.outcome.book_snapshots
    if len(snapshots) < 2:
        return None
    bids = np.asarray([depth_within(s, m, NEAR_BOOK)[0] for s in snapshots])
    if bids[0] <= 0:
        return None
    thinnest = int(np.argmin(bids))
    if bids[thinnest] >= 0.9 * bids[0]:
        return (
            f"Bids within 0.5 % of the mid on {result.market_names[m]} held near "
            f"{format_usd(float(bids[0]))} throughout (never below 90 % of the start)."
        )
    at = snapshots[thinnest].step * result.setup.step_seconds
    text = (
        f"Bids within 0.5 % of the mid on {result.market_names[m]} fell from "
        f"{format_usd(float(bids[0]))} at the start to {format_usd(float(bids[thinnest]))} at "
        f"{seconds(at)} ({format_fraction(float(bids[thinnest] / bids[0]), 0)} of normal): the "
        "liquidity vacuum"
    )
    later = np.flatnonzero((np.arange(bids.size) > thinnest) & (bids >= 0.9 * bids[0]))
    if later.size:
        refilled = snapshots[int(later[0])].step * result.setup.step_seconds
        text += f"; they were back above 90 % by {seconds(refilled)}"
    return text + "."


def wave_line(wave: Wave, accounts: int) -> str:
    sides = f"{format_usd(wave.long_usd)} long, {format_usd(wave.short_usd)} short"
    return (
        f"Wave {wave.number}, {seconds(wave.start_s)} to {seconds(wave.end_s)}: "
        f"{format_usd(wave.total_usd)} liquidated ({sides}) from {accounts:,} accounts, "
        f"peaking at {format_usd(wave.peak_usd_per_s)} a second at {seconds(wave.peak_s)}."
    )


def wave_accounts(result, wave: Wave) -> int:
    events = result.outcome.events
    inside = (
        (events["time"] > wave.start_s)
        & (events["time"] <= wave.end_s)
        & np.isin(events["kind"], layout.LIQUIDATION_KINDS)
        & (events["account"] >= 0)
    )
    return int(np.unique(events["account"][inside]).size)


def beyond_line(result, m: int) -> str | None:
    row = result.summary["markets"][m]
    if row["counterfactual_max_drawdown"] is None or row["liquidated_total_usd"] <= 0:
        return None
    extra = row["max_drawdown"] - row["counterfactual_max_drawdown"]
    text = (
        f"The cascade took {row['market']} to {format_price(row['price_min'])} USD, "
        f"{format_fraction(row['max_drawdown'])} below the start against "
        f"{format_fraction(row['counterfactual_max_drawdown'])} for the shock alone"
    )
    if row["amplification"] is not None and extra > 1e-4:
        text += f": {extra * 100:.2f} points further, {row['amplification']:.2f}x the move"
    elif extra <= 1e-4:
        text += ": the liquidations added nothing to the low (the mark followed the index)"
    return text + "."


def fund_lines(result) -> list[str]:
    lines = []
    timeline = result.outcome.timeline
    fund = timeline["insurance_fund_usd"].sum(axis=1)
    paid = np.flatnonzero(np.diff(fund) < -1e-6 * max(abs(fund[0]), 1.0))
    change = result.summary["insurance_fund_change_usd"]
    if paid.size:
        first = seconds(float(timeline["time"][paid[0] + 1, 0]))
        lines.append(
            f"The insurance fund first paid out at {first} and ended "
            f"{format_usd(abs(change))} {'down' if change < 0 else 'up'} over all markets."
        )
    elif change > 0:
        lines.append(
            f"The insurance fund never paid out: it ended {format_usd(change)} up on "
            "liquidation fees and fills better than bankruptcy."
        )
    events = result.outcome.events
    adl = np.flatnonzero(events["kind"] == layout.KIND_ADL_COUNTERPARTY)
    if adl.size:
        lines.append(
            f"Auto-deleveraging started at {seconds(float(events['time'][adl].min()))}: "
            f"{adl.size:,} profitable positions closed against liquidated ones, "
            f"{format_usd(float(events['notional'][adl].sum()))}."
        )
    bad_debt = result.summary["bad_debt_usd"]
    if bad_debt > 0:
        lines.append(f"Losses beyond the fund and ADL left {format_usd(bad_debt)} of bad debt.")
    elif not adl.size:
        lines.append("No auto-deleveraging and no bad debt: the fund covered every shortfall.")
    return lines


def stop_line(result, m: int) -> str | None:
    events = result.outcome.events
    liquidated = np.isin(events["kind"], layout.LIQUIDATION_KINDS)
    if not liquidated.any():
        return None
    last = float(events["time"][liquidated].max())
    timeline = result.outcome.timeline[:, m]
    times = timeline["time"]
    index = timeline["index_price"]
    end = float(times[-1])
    if last >= end - 2 * result.setup.step_seconds:
        return f"Liquidations were still going at the end of the run ({seconds(end)})."
    # When the index last moved by more than 0.1 % of its final level.
    settled = np.flatnonzero(np.abs(index / index[-1] - 1.0) > 1e-3)
    still = float(times[settled[-1]]) if settled.size else 0.0
    reasons = []
    if still <= last + 60:
        reasons.append(f"the index stopped falling (flat from {seconds(still)})")
    nearest = nearest_liquidation(result, m)
    if nearest is not None and nearest < 1e-3:
        reasons.append(
            "the price turned before the next longs (their liquidation prices within 0.1 % "
            "below the low)"
        )
    elif nearest is not None:
        reasons.append(
            f"the nearest long still open had its liquidation price {format_fraction(nearest, 2)} "
            "below the run's lowest mark"
        )
    because = " and ".join(reasons) if reasons else "the price recovered"
    return f"The last liquidation was at {seconds(last)}; it stopped because {because}."


def nearest_liquidation(result, m: int) -> float | None:
    """How far below the run's lowest mark the nearest surviving long would be liquidated."""
    positions = result.outcome.positions
    spec = result.setup.markets[m]
    open_rows = (positions.market == m) & np.isin(
        positions.status, (layout.STATUS_OPEN, layout.STATUS_WATCHED)
    )
    longs = open_rows & (positions.side == (-1 if spec.reciprocal_scale else 1))
    if not longs.any():
        return None
    prices = positions.liquidation_price[longs]
    if spec.reciprocal_scale:
        prices = spec.reciprocal_scale / prices
    mark = float(np.min(result.outcome.timeline[:, m]["mark_price"]))
    below = prices[prices < mark]
    return None if not below.size else float(1.0 - below.max() / mark)


def cascade_story(result) -> tuple[list[str], list[Wave]]:
    """The numbered story of a run and its waves.

    Parameters
    ----------
    result : cascadesim.sim.result.Result

    Returns
    -------
    (lines without their numbers, waves)
    """
    m = lead_market(result)
    waves, minor = run_waves(result)
    lines = [line for line in (shock_line(result, m), first_liquidations_line(result)) if line]
    if not waves:
        lines.append(
            "No cascade: no position was liquidated."
            if result.summary["liquidated_total_usd"] <= 0
            else "Liquidations came one at a time, never as a wave."
        )
        lines += [line for line in (book_line(result, m),) if line]
        return lines, waves
    lines += [line for line in (book_line(result, m),) if line]
    lines += [wave_line(wave, wave_accounts(result, wave)) for wave in waves]
    if minor:
        flurries = "flurry" if minor == 1 else "flurries"
        lines.append(f"{minor} minor {flurries} (under 2 % of the total each) are not listed.")
    lines += [line for line in (beyond_line(result, m),) if line]
    lines += fund_lines(result)
    lines += [line for line in (stop_line(result, m),) if line]
    return lines, waves


def numbered(lines: list[str]) -> list[str]:
    return [f"{k}. {line}" for k, line in enumerate(lines, start=1)]


def story_json(result) -> dict:
    lines, waves = cascade_story(result)
    return {"story": numbered(lines), "waves": [wave.to_dict() for wave in waves]}
