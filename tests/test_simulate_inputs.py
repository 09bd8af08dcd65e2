"""Bad input to the public engine entry point: one-line errors that name the argument."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.sim.driver import simulate


def healthy_setup(**position_overrides) -> EngineSetup:
    """Three 5x positions at the start price, a flat index for ten steps."""
    columns = {
        "market": np.zeros(3, dtype=np.int32),
        "account": np.arange(3),
        "side": np.array([1, -1, 1], dtype=np.int8),
        "quantity": np.array([0.5, 0.25, 1.0]),
        "entry_price": np.full(3, 100_000.0),
        "margin": np.array([10_000.0, 5_000.0, 20_000.0]),
    }
    columns.update(position_overrides)
    return EngineSetup(
        markets=[MarketSpec()],
        assets=[AssetSpec()],
        positions=PositionArrays(**columns),
        index_path=np.full((11, 1), 100_000.0),
    )


def error_of(setup: EngineSetup) -> str:
    with pytest.raises(CascadesimInputError) as caught:
        simulate(setup, counterfactual=False)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "column,value,allowed",
    [
        ("quantity", 0.0, "> 0"),
        ("quantity", -1.0, "> 0"),
        ("quantity", math.nan, "finite"),
        ("entry_price", math.inf, "finite"),
        ("margin", -5.0, "> 0"),
    ],
)
def test_bad_position_values_are_named(column, value, allowed):
    values = getattr(healthy_setup().positions, column).copy()
    values[1] = value
    message = error_of(healthy_setup(**{column: values}))
    assert message.startswith(f"positions.{column}[1]")
    assert allowed in message


def test_bad_side_is_named():
    message = error_of(healthy_setup(side=np.array([1, 0, 1], dtype=np.int8)))
    assert message.startswith("positions.side[1]") and "+1" in message


def test_margin_below_maintenance_at_start_is_refused():
    # 0.1 % margin on a 100k notional is below the 0.4 % maintenance rate.
    message = error_of(healthy_setup(margin=np.array([10_000.0, 100.0, 20_000.0])))
    assert message.startswith("positions.margin[1]") and "maintenance" in message


def test_bad_index_path_and_market_fields():
    setup = healthy_setup()
    setup.index_path = np.full((11, 1), -1.0)
    assert error_of(setup).startswith("index_path")
    with pytest.raises(CascadesimInputError, match=r"markets\.x\.depth_1pct_usd = -1"):
        MarketSpec(name="x", depth_1pct_usd=-1.0)
    with pytest.raises(CascadesimInputError, match=r"markets\.x\.venue|mark_rule"):
        MarketSpec(name="x", mark_rule="nasdaq")
    with pytest.raises(CascadesimInputError, match="tier_mmr"):
        MarketSpec(
            name="x",
            tier_floor_usd=(0.0, 10.0),
            tier_mmr=(0.01, 1.5),
            tier_max_leverage=(50.0, 20.0),
        )


def test_a_valid_setup_runs_and_keeps_its_positions_healthy():
    result = simulate(healthy_setup(), counterfactual=False)
    assert result.summary["liquidated_total_usd"] == 0.0
    assert result.summary["accounts_liquidated"] == 0
