"""Compile every engine kernel ahead of time: ``cascadesim warmup`` and the first-run notice.

A cold numba compile of the engine takes minutes on two cores; a warm start loads it from
the cache in a second (:mod:`cascadesim.engine.compile_cache` keeps that cache valid across
reinstalls of the same engine). :func:`warm_up` runs one small scenario that reaches every
procedure the engine has (five venue families, isolated and cross accounts, the counterfactual, the
insurance funds, the backstop vault and auto-deleveraging) and the liquidation-price
calculator of every venue, so that a Dask worker, a CI image or a classroom machine can
compile once before the first real run. It lives with the sweeps because their process and
Dask workers are its first users (one compile before the fan-out); ``cascadesim warmup`` and
the run command's first-run notice use it too.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from numba.core import config as numba_config

from cascadesim._util.formatting import format_duration
from cascadesim.engine import compile_cache
from cascadesim.model.calculator import liquidation_price
from cascadesim.model.venues import VENUES as VENUE_PROFILES
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate

# Five venues, half of the positions in cross accounts, a fall deep enough to empty a fund
# and reach auto-deleveraging, and an up-leg for the shorts: every branch the step loop has.
WARMUP_SCENARIO = """
name = "warmup"
description = "every engine procedure on a small population, to compile the kernels"
seed = 7
duration_s = 240
step_s = 1

[assets.BTC]
spot_depth_1pct_usd = 5e6

[markets.BTC-binance]
asset = "BTC"
venue = "binance"
price_usd = 100_000
open_interest_usd = 2e8
depth_1pct_usd = 1e6
insurance_fund_usd = 1e5

[markets.BTC-bybit]
asset = "BTC"
venue = "bybit"
price_usd = 100_000
open_interest_usd = 1e8
depth_1pct_usd = 1e6
insurance_fund_usd = 1e5

[markets.BTC-okx]
asset = "BTC"
venue = "okx"
price_usd = 100_000
open_interest_usd = 1e8
depth_1pct_usd = 1e6
insurance_fund_usd = 1e5

[markets.BTC-hyperliquid]
asset = "BTC"
venue = "hyperliquid"
price_usd = 100_000
open_interest_usd = 1e8
depth_1pct_usd = 1e6
insurance_fund_usd = 0
backstop_usd = 1e5

[markets.BTC-dydx]
asset = "BTC"
venue = "dydx"
price_usd = 100_000
open_interest_usd = 1e8
depth_1pct_usd = 1e6
insurance_fund_usd = 1e5

[population]
accounts = 400
isolated_share = 0.5
leveraged_share_of_open_interest = 0.5

[shock]
kind = "index_jump"
asset = "all"
drop_fraction = 0.2
at_s = 30
ramp_s = 60
"""

# The calculator of every profile (the scenario above covers each rule code once).
VENUES = tuple(VENUE_PROFILES)
# What a cold compile took on the project's 2-core machine, until this machine has its own.
DEFAULT_COMPILE_ESTIMATE_S = 120.0


class WarmupReport(NamedTuple):
    """What :func:`warm_up` did: seconds spent and whether the engine was cached before."""

    seconds: float
    was_cached: bool
    cache_dir: str


def jit_disabled() -> bool:
    """Whether numba's JIT is off (``NUMBA_DISABLE_JIT=1``): the kernels run as Python and
    nothing is compiled or cached."""
    return bool(getattr(numba_config, "DISABLE_JIT", 0))  # set by numba at import


def compile_notice() -> str | None:
    """The progress line for a run that will compile the engine first, or None if cached
    (or if the JIT is off: then nothing compiles)."""
    if jit_disabled() or compile_cache.is_compiled():
        return None
    recorded = compile_cache.last_compile_seconds()
    estimate = DEFAULT_COMPILE_ESTIMATE_S if recorded is None else recorded
    return f"compiling the engine (once per install, about {format_duration(estimate)})"


def warm_up() -> WarmupReport:
    """Compile (or load) every engine kernel by running one small scenario of each procedure.

    Returns
    -------
    WarmupReport
        seconds taken, whether the step loop was already cached, and the cache folder
    """
    was_cached = compile_cache.is_compiled()
    started = time.perf_counter()
    scenario = Scenario.from_toml_text(WARMUP_SCENARIO, "warmup")
    simulate(scenario, counterfactual=True)
    for venue in VENUES:
        for side in ("long", "short"):
            liquidation_price(venue, side, 100_000.0, 1.0, leverage=20.0, asset="BTC")
    seconds = time.perf_counter() - started
    if not was_cached and not jit_disabled():  # a run as Python is no compile's duration
        compile_cache.record_compile_seconds(seconds)
    return WarmupReport(seconds, was_cached, str(compile_cache.engine_cache_dir()))
