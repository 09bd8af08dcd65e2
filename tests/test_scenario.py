"""Scenario files: validation, one-line errors from the command line, schema, bundled list, shocks.

Bad input must give exactly one line on stderr naming the file, the field path, the value and
what is allowed, exit code 2, no traceback, and nothing written to the output folder.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.toml import dump_toml
from cascadesim.model.market import default_tick
from cascadesim.model.shocks import (
    jump_factor,
    piecewise_factor,
    read_price_csv,
    sell_programme_flow,
)
from cascadesim.model.venues import VENUES
from cascadesim.scenario.bundled import bundled_scenarios
from cascadesim.scenario.models import Scenario
from tests.cli import run_cli

REPO_ROOT = Path(__file__).resolve().parents[1]

VALID = """\
name = "tiny"
description = "a small valid scenario for the tests"
seed = 3
duration_s = 120
step_s = 1

[assets.BTC]
spot_depth_1pct_usd = 50e6

[markets.BTC-binance]
asset = "BTC"
venue = "binance"
price_usd = 100000
open_interest_usd = 2e6
funding_rate = 0.0001
depth_1pct_usd = 1e6

[population.leverage]
values = [5, 10, 20]
weights = [0.5, 0.3, 0.2]

[shock]
kind = "index_jump"
drop_fraction = 0.03
at_s = 10
ramp_s = 30
"""


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout == ""
    return lines[0]


def edited(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


BAD_FILES = {
    # case: (scenario text, fragments that the error line must contain)
    "misspelt field": (
        edited("open_interest_usd = 2e6", "open_interst_usd = 2e6"),
        ["markets.BTC-binance.open_interst_usd", "2000000.0", "not a field", "open_interest_usd"],
    ),
    "wrong type": (
        edited("open_interest_usd = 2e6", 'open_interest_usd = "lots"'),
        ["markets.BTC-binance.open_interest_usd", "'lots'", "a number"],
    ),
    "negative depth": (
        edited("depth_1pct_usd = 1e6", "depth_1pct_usd = -1e6"),
        ["markets.BTC-binance.depth_1pct_usd", "-1000000.0", ">= 1"],
    ),
    "weights not summing to 1": (
        edited("weights = [0.5, 0.3, 0.2]", "weights = [0.5, 0.3, 0.1]"),
        ["population.leverage.weights", "[0.5, 0.3, 0.1]", "summing to 1"],
    ),
    "malformed TOML": (edited('venue = "binance"', 'venue = "binance'), ["line 12"]),
    "unknown venue": (
        edited('venue = "binance"', 'venue = "ftx"'),
        ["markets.BTC-binance.venue", "'ftx'", "binance"],
    ),
    "unknown asset": (
        edited('asset = "BTC"', 'asset = "ETH"'),
        ["markets.BTC-binance.asset", "'ETH'", "BTC"],
    ),
    "duration not a multiple of step": (
        edited("step_s = 1", "step_s = 7"),
        ["duration_s", "120", "multiple"],
    ),
    "shock on an unknown market": (
        edited(
            'kind = "index_jump"\ndrop_fraction = 0.03\nat_s = 10\nramp_s = 30',
            'kind = "sell_programme"\nmarket = "BTC-okx"\nusd = 1e6\nduration_s = 10',
        ),
        ["shock.market", "'BTC-okx'", "BTC-binance"],
    ),
    "unknown shock kind": (
        edited('kind = "index_jump"', 'kind = "meteor"'),
        ["shock.kind", "'meteor'", "index_jump"],
    ),
    "unknown override": (
        VALID + "\n[markets.BTC-binance.overrides]\nfee_rate = 0.01\n",
        ["markets.BTC-binance.overrides.fee_rate", "liquidation_fee_rate"],
    ),
    "bad override value": (
        VALID + "\n[markets.BTC-binance.overrides]\nslippage_limit = 2.0\n",
        ["markets.BTC-binance.overrides.slippage_limit", "2.0", "fraction"],
    ),
    "tier table with a rate per tier missing": (
        VALID
        + "\n[markets.BTC-binance.tiers]\nfloors_usd = [0, 1e6]\nmmr = [0.01]\n"
        + "max_leverage = [50, 20]\n",
        ["markets.BTC-binance.tiers.mmr", "[0.01]", "one value per tier"],
    ),
    "leveraged share too high for the skew": (
        edited(
            "[population.leverage]",
            "[population]\nlong_share = 0.9\nleveraged_share_of_open_interest = 0.9\n\n"
            "[population.leverage]",
        ),
        ["population.leveraged_share_of_open_interest", "0.9", "at most"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_scenario_file_is_one_line_exit_2_and_writes_nothing(case, tmp_path):
    text, fragments = BAD_FILES[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "out"
    result = run_cli("run", str(path), "--out", str(out), cwd=tmp_path)
    line = assert_one_line_error(result, str(path), *fragments)
    assert line.startswith(f"cascadesim: error: {path}: ")
    assert not out.exists()
    assert not (tmp_path / "cascadesim-out").exists()


def test_missing_file_is_one_line_exit_2(tmp_path):
    result = run_cli("run", "no-such.toml", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert_one_line_error(result, "no-such.toml", "no such file")
    assert not (tmp_path / "out").exists()


def test_unknown_scenario_name_is_one_line_exit_2(tmp_path):
    result = run_cli("run", "flash-crash", cwd=tmp_path)
    assert_one_line_error(result, "flash-crash", "default", "gentle", "liquidity_vacuum")
    assert not (tmp_path / "cascadesim-out").exists()


def test_negative_seed_is_rejected(tmp_path):
    result = run_cli("run", "gentle", "--seed", "-4", cwd=tmp_path)
    assert_one_line_error(result, "--seed", "-4")
    assert not (tmp_path / "cascadesim-out").exists()


def test_schema_prints_valid_json_schema(tmp_path):
    result = run_cli("schema", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert {"markets", "assets", "population", "shock", "duration_s"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert "Market" in schema["$defs"]


def test_scenarios_lists_the_bundled_files_by_kind(tmp_path):
    result = run_cli("scenarios", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sections = result.stdout.strip().split("\n\n")
    headings = [section.splitlines()[0] for section in sections]
    assert headings[0].startswith("teaching and stress scenarios")
    assert headings[1].startswith("real days of the event library")
    assert headings[2].startswith("sweeps")
    assert headings[3].startswith("population profiles") and "library" in headings[3]
    names = [line.split()[0] for line in sections[0].splitlines()[1:]]
    assert names == [
        "default",
        "contagion",
        "gentle",
        "inverse_vs_linear",
        "liquidity_vacuum",
        "stablecoin_depeg",
    ]
    events = [line.split()[0] for line in sections[1].splitlines()[1:]]
    assert len(events) == 14 and "2025-11-btc-98k" in events
    assert [line.split()[0] for line in sections[2].splitlines()[1:]] == [
        "exchange_tuning",
        "leverage_fat_tails",
    ]
    for section in sections[:3]:  # each file has a description, none invalid
        for line in section.splitlines()[1:]:
            assert len(line.split(maxsplit=1)) == 2 and "(invalid" not in line


def test_an_event_runs_by_name(tmp_path):
    from cascadesim.scenario.bundled import bundled_directory, resolve_scenario

    expected = bundled_directory() / "events" / "2025-11-btc-98k.toml"
    assert resolve_scenario("2025-11-btc-98k") == expected


@pytest.mark.parametrize(
    "name",
    ["contagion", "default", "gentle", "inverse_vs_linear", "liquidity_vacuum", "stablecoin_depeg"],
)
def test_bundled_scenarios_validate_and_build(name):
    scenario = Scenario.from_toml(bundled_scenarios()[name])
    assert scenario.name == name
    setup = scenario.build()
    assert setup.index_path.shape == (scenario.n_steps + 1, len(scenario.assets))
    accounts = np.unique(setup.positions.account)
    assert accounts.size == setup.n_accounts  # account ids are 0..n-1, every one used
    if scenario.population.isolated_share == 1.0:
        assert len(setup.positions) == setup.n_accounts  # one isolated account per position
    else:
        venues = [market.venue for market in scenario.markets.values()]
        if len(set(venues)) < len(venues):
            assert setup.n_accounts < len(setup.positions)  # cross accounts hold several
        else:  # one market per venue: a cross account holds one position there
            assert setup.n_accounts == len(setup.positions)
    assert setup.labels["provenance"]["scenario_hash"] == scenario.hash()


def test_gentle_has_one_thousand_accounts():
    setup = Scenario.from_toml(bundled_scenarios()["gentle"]).build()
    assert setup.n_accounts == 1000


def test_hash_ignores_formatting_and_follows_content():
    scenario = Scenario.from_toml_text(VALID)
    again = Scenario.from_toml_text("# a comment\n" + VALID.replace("seed = 3", "seed    = 3"))
    assert scenario.hash() == again.hash()
    rewritten = Scenario.from_toml_text(
        dump_toml(scenario.model_dump(mode="json", exclude_none=True))
    )
    assert rewritten.hash() == scenario.hash()
    changed = Scenario.from_toml_text(VALID.replace("seed = 3", "seed = 4"))
    assert changed.hash() != scenario.hash()
    assert len(scenario.hash()) == 16


def test_to_toml_text_keeps_the_original_file(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(VALID)
    assert Scenario.from_toml(path).to_toml_text() == VALID


def test_overrides_replace_venue_rules():
    text = (
        VALID + "\n[markets.BTC-binance.overrides]\nliquidation_fee_rate = 0.002\n"
        "tier_floor_usd = [0, 1e6]\ntier_mmr = [0.01, 0.02]\n"
        "tier_max_leverage = [50, 20]\n"
    )
    spec = Scenario.from_toml_text(text).market_specs()[0]
    assert spec.liquidation_fee_rate == 0.002
    assert spec.tier_floor_usd == (0.0, 1e6)
    assert spec.maintenance_amounts().tolist() == [0.0, 1e6 * 0.01]  # from the recursion
    assert spec.mark_rule == "binance" and spec.takeover_mode == "insurance"


# --- a market's own tier table ------------------------------------------------------------
def with_tiers(body: str) -> str:
    return VALID + "\n[markets.BTC-binance.tiers]\n" + body


def test_own_tier_table_replaces_the_venue_profile():
    text = with_tiers(
        "floors_usd = [0, 1e6, 5e6]\nmmr = [0.01, 0.02, 0.05]\nmax_leverage = [50, 20, 10]\n"
    )
    spec = Scenario.from_toml_text(text).market_specs()[0]
    assert spec.tier_floor_usd == (0.0, 1e6, 5e6)
    assert spec.tier_mmr == (0.01, 0.02, 0.05)
    assert spec.tier_max_leverage == (50.0, 20.0, 10.0)
    # No amounts given: the continuity recursion, 1e6 x 1 % and then + 5e6 x 3 %.
    assert spec.maintenance_amounts().tolist() == pytest.approx([0.0, 10_000.0, 160_000.0])
    assert spec.mark_rule == "binance"  # the rest of the venue profile stays


def test_own_tier_table_keeps_given_maintenance_amounts_and_scales_with_mmr_scale():
    text = with_tiers(
        "floors_usd = [0, 1e6]\nmmr = [0.01, 0.02]\nmax_leverage = [50, 20]\n"
        "maintenance_amount_usd = [0, 12000]\n"
    ).replace("depth_1pct_usd = 1e6", "depth_1pct_usd = 1e6\nmmr_scale = 1.5")
    spec = Scenario.from_toml_text(text).market_specs()[0]
    assert spec.tier_mmr == pytest.approx((0.015, 0.03))
    assert spec.maintenance_amounts().tolist() == pytest.approx([0.0, 18_000.0])


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (
            "floors_usd = [100, 1e6]\nmmr = [0.01, 0.02]\nmax_leverage = [50, 20]\n",
            ["markets.BTC-binance.tiers.floors_usd = [100, 1000000.0]", "starting at 0"],
        ),
        (
            "floors_usd = [0, 1e6, 1e6]\nmmr = [0.01, 0.02, 0.03]\nmax_leverage = [50, 20, 10]\n",
            ["markets.BTC-binance.tiers.floors_usd", "strictly increasing"],
        ),
        (
            "floors_usd = [0, 1e6]\nmmr = [0.01, 1.0]\nmax_leverage = [50, 20]\n",
            ["markets.BTC-binance.tiers.mmr = [0.01, 1.0]", "between 0 and 1"],
        ),
        (
            "floors_usd = [0, 1e6]\nmmr = [0.0, 0.02]\nmax_leverage = [50, 20]\n",
            ["markets.BTC-binance.tiers.mmr", "between 0 and 1"],
        ),
        (
            "floors_usd = [0, 1e6]\nmmr = [0.02, 0.01]\nmax_leverage = [50, 20]\n",
            ["markets.BTC-binance.tiers.mmr", "non-decreasing"],
        ),
        (
            "floors_usd = [0, 1e6]\nmmr = [0.01, 0.02]\nmax_leverage = [50]\n",
            ["markets.BTC-binance.tiers.max_leverage = [50]", "one value per tier (2 tiers"],
        ),
        (
            "floors_usd = [0, 1e6]\nmmr = [0.01, 0.02]\nmax_leverage = [50, 0.5]\n",
            ["markets.BTC-binance.tiers.max_leverage[1] = 0.5", ">= 1"],
        ),
        (
            "floors_usd = [0, 1e6]\nmmr = [0.01, 0.02]\nmax_leverage = [50, 20]\n"
            "maintenance_amount_usd = [0]\n",
            ["markets.BTC-binance.tiers.maintenance_amount_usd = [0]", "one value per tier"],
        ),
        (
            "floors_usd = [0, 1e6]\nmmr = [0.01, 0.02]\n",
            ["markets.BTC-binance.tiers.max_leverage = (missing)"],
        ),
        (
            "floors_usd = [0]\nmmr = [0.01]\nmax_leverage = [50]\nmmr_rates = [0.01]\n",
            ["markets.BTC-binance.tiers.mmr_rates", "not a field"],
        ),
        (
            "floors_usd = [0, 1e6]\nmmr = [0.01, 0.02]\nmax_leverage = [50, 20]\n"
            "\n[markets.BTC-binance.overrides]\ntier_mmr = [0.01, 0.03]\n",
            ["markets.BTC-binance.overrides", "tier_mmr", "give the table in one place"],
        ),
    ],
)
def test_bad_own_tier_table_is_one_line(body, fragments):
    with pytest.raises(CascadesimInputError) as error:
        Scenario.from_toml_text(with_tiers(body), "tiers.toml").market_specs()
    message = str(error.value)
    assert message.startswith("tiers.toml: markets.BTC-binance.") and "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_market_spec_takes_the_assets_table_and_fee():
    doge = VALID.replace('asset = "BTC"', 'asset = "DOGE"').replace("[assets.BTC]", "[assets.DOGE]")
    doge = doge.replace("price_usd = 100000", "price_usd = 0.2")
    spec = Scenario.from_toml_text(doge).market_specs()[0]
    table = VENUES["binance"].tiers("DOGE")
    assert spec.tier_floor_usd == tuple(table.floors) and spec.tier_floor_usd[1] == 10_000.0
    assert spec.liquidation_fee_rate == 0.01  # DOGEUSDT's published liquidationFee


def test_okx_tiers_take_the_markets_price():
    okx = VALID.replace('"binance"', '"okx"').replace("BTC-binance", "BTC-okx")
    spec = Scenario.from_toml_text(okx.replace("price_usd = 100000", "price_usd = 60000"))
    floors = spec.market_specs()[0].tier_floor_usd
    # OKX tiers BTC-USDT-SWAP by contracts of 0.01 BTC: 1,000 and 5,000 contracts.
    assert floors[1:3] == pytest.approx((1_000 * 0.01 * 60_000.0, 5_000 * 0.01 * 60_000.0))


def test_market_spec_follows_the_venue_profile():
    spec = Scenario.from_toml_text(
        VALID.replace('"binance"', '"hyperliquid"').replace("BTC-binance", "BTC-hl")
    ).market_specs()[0]
    assert spec.partial_mode == "chunks" and spec.takeover_mode == "backstop"
    assert spec.funding_interval_s == 3600.0
    assert spec.time_to_first_funding_s == 1800.0
    assert spec.backstop_usd > 0
    assert spec.tier_max_leverage == (40.0, 20.0)
    assert spec.tick_size == 10.0


def test_errors_from_python_name_the_field_without_a_file():
    with pytest.raises(CascadesimInputError, match=r"^<scenario>: population\.leverage\.weights"):
        Scenario.from_toml_text(edited("weights = [0.5, 0.3, 0.2]", "weights = [1, 1, 1]"))


def test_missing_required_field_is_named():
    with pytest.raises(
        CascadesimInputError,
        match=r"markets\.BTC-binance\.price_usd = "
        r"\(missing\): a required field",
    ):
        Scenario.from_toml_text(edited("price_usd = 100000\n", ""))


def test_default_tick_is_about_one_basis_point():
    assert default_tick(100_000.0) == 10.0
    assert default_tick(3_500.0) == 0.5
    assert default_tick(0.25) == 0.00002


# --- shocks -------------------------------------------------------------------------------
def test_jump_and_ramp():
    times = np.arange(0.0, 10.0)
    assert jump_factor(times, 0.1, 3.0, 0.0).tolist() == [1, 1, 1] + [0.9] * 7
    ramp = jump_factor(times, 0.1, 2.0, 4.0)
    assert ramp[2] == 1.0 and ramp[4] == pytest.approx(0.95) and ramp[6:].tolist() == [0.9] * 4


def test_piecewise_path_is_linear_and_held_flat():
    values = piecewise_factor(np.array([0.0, 5.0, 10.0, 20.0]), [[0, 1.0], [10, 0.9]])
    assert values.tolist() == pytest.approx([1.0, 0.95, 0.9, 0.9])


def test_sell_programme_sells_exactly_the_amount_inside_the_window():
    flow = sell_programme_flow(100, 1.0, 1e6, 10.5, 20.0)
    assert flow.sum() == pytest.approx(-1e6)
    assert flow[9] == 0 and flow[10] == pytest.approx(-25_000) and flow[31] == 0


def test_recorded_path_file_is_relative_to_the_scenario(tmp_path):
    (tmp_path / "path.csv").write_text("time_s,price_usd\n0,50000\n60,45000\n120,47500\n")
    text = edited(
        'kind = "index_jump"\ndrop_fraction = 0.03\nat_s = 10\nramp_s = 30',
        'kind = "recorded_path"\nfile = "path.csv"',
    )
    (tmp_path / "s.toml").write_text(text)
    setup = Scenario.from_toml(tmp_path / "s.toml").build()
    path = setup.index_path[:, 0]
    assert path[0] == 100_000 and path[60] == pytest.approx(90_000)
    assert path[30] == pytest.approx(95_000) and path[120] == pytest.approx(95_000)


def test_recorded_path_missing_file_names_it(tmp_path):
    text = edited(
        'kind = "index_jump"\ndrop_fraction = 0.03\nat_s = 10\nramp_s = 30',
        'kind = "recorded_path"\nfile = "gone.csv"',
    )
    (tmp_path / "s.toml").write_text(text)
    out = tmp_path / "out"
    result = run_cli("run", str(tmp_path / "s.toml"), "--out", str(out), cwd=tmp_path)
    assert_one_line_error(result, "s.toml", "shock.file", "gone.csv")
    assert not out.exists()


def test_malformed_csv_names_the_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("time_s,price_usd\n0,100\n1,abc\n")
    with pytest.raises(CascadesimInputError, match=r"p\.csv: line 3: numbers expected"):
        read_price_csv(path)


# --- profiles: a bundled name or a file -----------------------------------------------------
MY_PROFILE = """\
[calibration]
status = "written by hand for the test"

[population.leverage]
values = [2, 50]
weights = [0.25, 0.75]

[population.account_size]
tail_alpha = 2.25

[population.entry]
spread_fraction = 0.02

[market_defaults]
withdrawal_flow_sensitivity = 7.5
"""


def with_profile(text: str, value: str) -> str:
    return text.replace("seed = 3\n", f"seed = 3\nprofile = {json.dumps(value)}\n", 1)


def test_a_profile_path_is_relative_to_the_scenario_folder(tmp_path, monkeypatch):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "my_profile.toml").write_text(MY_PROFILE)
    (folder / "s.toml").write_text(with_profile(VALID, "./my_profile.toml"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the scenario's folder counts, not the current one
    scenario = Scenario.from_toml(folder / "s.toml")
    population = scenario.population
    assert population.account_size.tail_alpha == 2.25
    assert population.entry.spread_fraction == 0.02
    assert scenario.markets["BTC-binance"].withdrawal_flow_sensitivity == 7.5
    assert population.leverage.values == [5, 10, 20]  # the file's own table wins
    # A variant keeps the scenario's folder (event modes and sweep points re-validate).
    variant = scenario.derived(scenario.model_dump(mode="json", exclude_unset=True))
    assert variant.population.account_size.tail_alpha == 2.25
    # The profile's values are part of the scenario's content.
    (folder / "my_profile.toml").write_text(MY_PROFILE.replace("2.25", "2.5"))
    assert Scenario.from_toml(folder / "s.toml").hash() != scenario.hash()


def test_a_profile_path_may_be_absolute_and_without_a_leading_dot(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mine.toml").write_text(MY_PROFILE)
    text = VALID.replace("[population.leverage]\nvalues = [5, 10, 20]\n", "[unused]\n")
    text = text.replace("[unused]\nweights = [0.5, 0.3, 0.2]\n", "")
    absolute = Scenario.from_toml_text(with_profile(text, str(tmp_path / "p" / "mine.toml")))
    assert absolute.population.leverage.values == [2, 50]
    assert absolute.population.leverage.weights == [0.25, 0.75]
    (tmp_path / "s.toml").write_text(with_profile(text, "p/mine.toml"))
    relative = Scenario.from_toml(tmp_path / "s.toml")
    assert relative.population == absolute.population


def test_a_bundled_profile_name_still_works_and_an_unknown_one_lists_them():
    bundled = Scenario.from_toml_text(with_profile(VALID, "calibrated"))
    assert bundled.population.account_size.tail_alpha != 1.5  # the fitted value, not default
    with pytest.raises(CascadesimInputError) as error:
        Scenario.from_toml_text(with_profile(VALID, "nonexistent"), "s.toml")
    message = str(error.value)
    assert message.startswith("s.toml: profile = 'nonexistent': a bundled profile (calibrated")
    assert "path to a profile .toml file" in message and "\n" not in message


def test_a_bad_profile_file_is_a_one_line_error_naming_the_profile(tmp_path):
    (tmp_path / "p.toml").write_text(MY_PROFILE + "\n[markets.BTC]\nprice_usd = 1\n")
    (tmp_path / "s.toml").write_text(with_profile(VALID, "p.toml"))
    with pytest.raises(CascadesimInputError) as error:
        Scenario.from_toml(tmp_path / "s.toml")
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 's.toml'}: profile = 'p.toml': ")
    assert "markets: not a profile table" in message and "\n" not in message
    (tmp_path / "p.toml").write_text("[population\n")
    with pytest.raises(CascadesimInputError, match=r"profile = 'p\.toml': .*line 1"):
        Scenario.from_toml(tmp_path / "s.toml")


def test_a_missing_profile_file_is_one_line_exit_2(tmp_path):
    (tmp_path / "bad.toml").write_text(with_profile(VALID, "./my_profile.toml"))
    result = run_cli("run", "bad.toml", cwd=tmp_path)
    line = assert_one_line_error(
        result, "profile = './my_profile.toml'", "no such file", str(tmp_path / "my_profile.toml")
    )
    assert line.startswith("cascadesim: error: bad.toml: profile = ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]  # nothing written


def test_tables_written_to_a_pipe_keep_their_cells_whole(tmp_path):
    # OKX's BTC table has long source notes: rich cut them to 80 columns off a terminal.
    result = run_cli("tiers", "okx", "BTC", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
