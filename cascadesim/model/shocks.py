"""Exogenous shocks as engine arrays: the index path and the aggressive taker flow.

A scenario's ``[shock]`` table becomes two arrays that :class:`cascadesim.model.market.EngineSetup`
consumes:

- ``index_path`` : float64 (n_steps + 1, n_assets), the spot index of every asset in USD at the
  start of the run (row 0) and at the end of every step;
- ``taker_flow_usd`` : float64 (n_steps, n_markets) or None, signed USD of aggressive market
  orders per step (negative = selling), e.g. a sell programme.

Paths between given points are piecewise linear; a recorded price series is resampled to the
step grid by linear interpolation and held flat after its last point. The functions here take
plain values (no pydantic models) so that tests and notebooks can call them directly.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cascadesim._util.errors import CascadesimInputError, invalid

# A shock keeps every index within these multiples of its start price. No real day came near
# (the deepest fall reported in the event library is 30 %, small altcoins on 2024-12-09;
# LUNA's collapse took a week to lose 99.99 %); beyond them the engine's arithmetic (prices
# in integer ticks, the window's re-centring) would cost more than the run's declared size.
# The engine itself holds an index within 1e-6 to 1e6 of its start
# (cascadesim.engine.market.MAX_INDEX_RATIO), which leaves room for spot impact and betas on
# top of a path at these limits.
PATH_RANGE = (1e-4, 1e4)
MIN_TICKS_ABOVE_ZERO = 100


def step_times(n_steps: int, step_s: float) -> np.ndarray:
    """Times (seconds since the start) of the index path rows: 0, step, ..., n_steps * step.

    Returns
    -------
    float64 array (n_steps + 1,)
    """
    return np.arange(n_steps + 1, dtype=np.float64) * step_s


def jump_factor(times: np.ndarray, drop_fraction: float, at_s: float, ramp_s: float) -> np.ndarray:
    """Index as a fraction of its start price for a jump (or a linear ramp) at ``at_s``.

    Parameters
    ----------
    times : float64 array (n,), seconds
    drop_fraction : float, fraction of the start price lost (negative for a jump up)
    at_s : float, seconds, when the move starts
    ramp_s : float, seconds over which the move happens; 0 = all within one step

    Returns
    -------
    float64 array (n,), 1.0 before ``at_s`` and ``1 - drop_fraction`` after ``at_s + ramp_s``
    """
    if ramp_s > 0:
        progress = np.clip((times - at_s) / ramp_s, 0.0, 1.0)
    else:
        progress = (times >= at_s).astype(np.float64)
    return 1.0 - drop_fraction * progress


def piecewise_factor(times: np.ndarray, points: Sequence[Sequence[float]]) -> np.ndarray:
    """Linear interpolation of ``[[t_s, value], ...]`` at ``times``, held flat beyond the ends.

    Parameters
    ----------
    times : float64 array (n,), seconds
    points : sequence of (seconds, value) pairs with non-decreasing times

    Returns
    -------
    float64 array (n,)
    """
    table = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return np.interp(times, table[:, 0], table[:, 1])


def read_price_csv(path: Path) -> np.ndarray:
    """Read a recorded price series: a CSV with the header ``time_s,price_usd``.

    Parameters
    ----------
    path : Path of the CSV file

    Returns
    -------
    float64 array (k, 2): seconds since the start of the recording, price in USD

    Raises
    ------
    CascadesimInputError
        ``<file>: line N: <problem>`` for a malformed row, ``<file>: no such file``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CascadesimInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CascadesimInputError(f"{path}: cannot read: {error}") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [cell.strip() for cell in rows[0]] != ["time_s", "price_usd"]:
        raise CascadesimInputError(f"{path}: line 1: the header must be 'time_s,price_usd'")
    values: list[tuple[float, float]] = []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise CascadesimInputError(
                f"{path}: line {line_number}: two values (time_s, price_usd), got {len(row)}"
            )
        try:
            time_s, price_usd = float(row[0]), float(row[1])
        except ValueError:
            raise CascadesimInputError(
                f"{path}: line {line_number}: numbers expected, got {','.join(row)!r}"
            ) from None
        if not (math.isfinite(time_s) and math.isfinite(price_usd) and price_usd > 0):
            raise CascadesimInputError(
                f"{path}: line {line_number}: a finite time and a price > 0 USD expected"
            )
        if values and time_s < values[-1][0]:
            raise CascadesimInputError(
                f"{path}: line {line_number}: times must not decrease ({time_s} after "
                f"{values[-1][0]})"
            )
        values.append((time_s, price_usd))
    if len(values) < 2:
        raise CascadesimInputError(f"{path}: at least two rows of prices are needed")
    return np.asarray(values, dtype=np.float64)


def recorded_factor(
    times: np.ndarray, series: np.ndarray, start_price: float, relative: bool
) -> np.ndarray:
    """Resample a recorded series to the step grid, as a fraction of ``start_price``.

    The recording's clock starts at its first row. With ``relative`` the series is replayed
    as relative moves (price / first price), so a recording can be applied at any price
    level; otherwise its prices are used as they are.

    Parameters
    ----------
    times : float64 array (n,), seconds since the start of the run
    series : float64 array (k, 2), seconds and USD (see :func:`read_price_csv`)
    start_price : float, USD, the asset's index at the start of the run
    relative : bool

    Returns
    -------
    float64 array (n,), index / start_price
    """
    clock = series[:, 0] - series[0, 0]
    prices = np.interp(times, clock, series[:, 1])
    if relative:
        return prices / series[0, 1]
    return prices / start_price


def sell_programme_flow(
    n_steps: int, step_s: float, usd: float, start_s: float, duration_s: float
) -> np.ndarray:
    """USD sold per step by a programme spreading ``usd`` evenly over a time window.

    Step k covers the interval (k * step_s, (k + 1) * step_s]; it receives the share of the
    programme that falls inside it, so a window that does not line up with the steps is
    still sold exactly.

    Parameters
    ----------
    n_steps : int
    step_s : float, seconds per step
    usd : float, total USD sold (> 0)
    start_s, duration_s : float, seconds

    Returns
    -------
    float64 array (n_steps,), negative USD (sells)
    """
    begin = np.arange(n_steps, dtype=np.float64) * step_s
    end = begin + step_s
    overlap = np.clip(np.minimum(end, start_s + duration_s) - np.maximum(begin, start_s), 0.0, None)
    return -usd * overlap / duration_s


def shock_arrays(
    shock,
    n_steps: int,
    step_s: float,
    asset_names: Sequence[str],
    start_prices: Sequence[float],
    market_names: Sequence[str],
    base_dir: Path | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Index path and taker flow of a validated ``[shock]`` table.

    Parameters
    ----------
    shock : one of the shock models of :mod:`cascadesim.scenario.models` (read by attribute)
    n_steps : int
    step_s : float, seconds per step
    asset_names : sequence of str (n_assets,)
    start_prices : sequence of float (n_assets,), USD index of each asset at the start
    market_names : sequence of str (n_markets,)
    base_dir : Path or None, folder that a recorded path's ``file`` is relative to

    Returns
    -------
    index_path : float64 array (n_steps + 1, n_assets), USD
    taker_flow_usd : float64 array (n_steps, n_markets), signed USD per step, or None
    """
    times = step_times(n_steps, step_s)
    start = np.asarray(start_prices, dtype=np.float64)
    factors = np.ones((n_steps + 1, len(asset_names)))
    flow = None
    kind = shock.kind
    if kind == "sell_programme":
        flow = np.zeros((n_steps, len(market_names)))
        column = list(market_names).index(shock.market)
        flow[:, column] = sell_programme_flow(
            n_steps, step_s, shock.usd, shock.start_s, shock.duration_s
        )
    elif kind == "index_path" and shock.per_asset is not None:
        for asset, points in shock.per_asset.items():
            factors[:, list(asset_names).index(asset)] = piecewise_factor(times, points)
    else:
        for k, asset in enumerate(asset_names):
            if shock.asset not in ("all", asset):
                continue
            if kind == "index_jump":
                factors[:, k] = jump_factor(times, shock.drop_fraction, shock.at_s, shock.ramp_s)
            elif kind == "index_path":
                factors[:, k] = piecewise_factor(times, shock.points)
            elif kind == "recorded_path":
                factors[:, k] = recorded_factor(
                    times, recorded_series(shock, base_dir), start[k], shock.relative
                )
            else:  # pragma: no cover - the scenario model admits no other kind
                raise CascadesimInputError(f"shock.kind = {kind!r}: not a known shock")
    check_path_range(shock, factors, asset_names)
    return factors * start[None, :], flow


def shock_field(shock, asset: str) -> str:
    """The ``[shock]`` key whose values set ``asset``'s path (for an error message)."""
    if shock.kind == "index_path" and shock.per_asset is not None:
        return f"shock.per_asset.{asset}"
    return {
        "index_jump": "shock.drop_fraction",
        "recorded_path": "shock.points" if getattr(shock, "points", None) else "shock.file",
        "sell_programme": "shock.usd",
    }.get(shock.kind, "shock.points")


def check_tick_floor(shock, index_path: np.ndarray, asset_names: Sequence[str], markets) -> None:
    """Refuse a path that takes a linear market's index under ``MIN_TICKS_ABOVE_ZERO`` ticks.

    Below that one tick is more than 1 % of the price: the book cannot quote the market (its
    bids end at the tick-1 floor) and the perp stops trading while its index falls.

    Parameters
    ----------
    shock : the validated ``[shock]`` model (names the field in the error)
    index_path : float64 array (n_steps + 1, n_assets), USD
    asset_names : sequence of str (n_assets,)
    markets : sequence of MarketSpec (name, asset, tick_size in USD, contract)
    """
    lowest = dict(zip(asset_names, index_path.min(axis=0), strict=True))
    for spec in markets:
        floor = MIN_TICKS_ABOVE_ZERO * spec.tick_size
        if spec.contract == "linear" and lowest[spec.asset] < floor:
            start = float(index_path[0, list(asset_names).index(spec.asset)])
            raise invalid(
                shock_field(shock, spec.asset),
                round(float(lowest[spec.asset]) / start, 12),
                f"a path that keeps {spec.asset}'s index at least {MIN_TICKS_ABOVE_ZERO} ticks "
                f"above zero on {spec.name} ({floor:,.6g} USD with its tick of "
                f"{spec.tick_size:g} USD; a finer tick_usd allows a deeper fall)",
            )


def check_path_range(shock, factors: np.ndarray, asset_names: Sequence[str]) -> None:
    """Refuse a shock that takes an index outside ``PATH_RANGE`` times its start price.

    Parameters
    ----------
    shock : the validated ``[shock]`` model (names the field in the error)
    factors : float64 array (n_steps + 1, n_assets), index / start price
    asset_names : sequence of str (n_assets,)

    Raises
    ------
    CascadesimInputError
        ``shock.<field> = <value>: ...`` naming the first asset out of range.
    """
    low, high = PATH_RANGE
    for k, asset in enumerate(asset_names):
        column = factors[:, k]
        worst = float(column.max()) if column.max() > high else float(column.min())
        if low <= worst <= high and np.isfinite(column).all():
            continue
        raise invalid(
            shock_field(shock, asset),
            shock.drop_fraction if shock.kind == "index_jump" else worst,
            f"a path that keeps {asset}'s index within {low:g} to {high:,.0f} times its start "
            f"price (it reaches {worst:.3g} times; the engine's price range)",
        )


def recorded_series(shock, base_dir: Path | None) -> np.ndarray:
    """The (seconds, USD) rows of a recorded path: inline points or the CSV file."""
    if shock.points is not None:
        return np.asarray(shock.points, dtype=np.float64).reshape(-1, 2)
    path = Path(shock.file)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return read_price_csv(path)


def add_idiosyncratic_noise(
    index_path: np.ndarray, volatility: Sequence[float], step_s: float, rng: np.random.Generator
) -> np.ndarray:
    """Multiply each asset's path by its own log-normal random walk.

    Parameters
    ----------
    index_path : float64 array (n_steps + 1, n_assets), USD
    volatility : sequence of float (n_assets,), std of log moves per sqrt(second)
    step_s : float, seconds per step
    rng : numpy Generator, the only source of randomness

    Returns
    -------
    float64 array (n_steps + 1, n_assets), USD; row 0 unchanged
    """
    sigma = np.asarray(volatility, dtype=np.float64) * np.sqrt(step_s)
    steps = rng.standard_normal((index_path.shape[0] - 1, index_path.shape[1])) * sigma
    walk = np.vstack([np.zeros((1, index_path.shape[1])), np.cumsum(steps, axis=0)])
    return index_path * np.exp(walk)
