"""Waves and the cascade's story on hand-made timelines: one clean wave, two, none at all."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cascadesim.engine import layout
from cascadesim.report.story import cascade_story, numbered
from cascadesim.report.waves import detect_waves
from cascadesim.sim.outcome import BookSnapshot

STEPS = 600
START = 100_000.0


def per_step(bursts: dict[tuple[int, int], float]) -> np.ndarray:
    """USD liquidated per step: each (first, last) step range gets its amount spread evenly."""
    usd = np.zeros(STEPS)
    for (first, last), amount in bursts.items():
        usd[first : last + 1] = amount / (last - first + 1)
    return usd


def test_one_clean_wave():
    time = np.arange(1, STEPS + 1, dtype=float)
    waves, minor = detect_waves(time, per_step({(100, 129): 3e6}), np.zeros(STEPS))
    assert minor == 0
    [wave] = waves
    assert (wave.start_s, wave.end_s) == (100.0, 130.0)  # step 100 covers t = 100 to 101 s
    assert wave.long_usd == pytest.approx(3e6)
    assert wave.peak_usd_per_s == pytest.approx(1e5)


def test_two_waves_split_by_a_quiet_minute_and_a_short_gap_kept_inside_one():
    time = np.arange(1, STEPS + 1, dtype=float)
    long_usd = per_step({(100, 119): 2e6, (130, 139): 1e6, (300, 329): 4e6})
    short_usd = per_step({(310, 319): 5e5})
    waves, _ = detect_waves(time, long_usd, short_usd)
    assert [(w.start_s, w.end_s) for w in waves] == [(100.0, 140.0), (300.0, 330.0)]
    assert waves[0].long_usd == pytest.approx(3e6)  # the 10-s gap is not a quiet spell
    assert waves[1].short_usd == pytest.approx(5e5)
    assert [w.number for w in waves] == [1, 2]


def test_a_stray_small_liquidation_is_a_minor_flurry_not_a_wave():
    time = np.arange(1, STEPS + 1, dtype=float)
    waves, minor = detect_waves(time, per_step({(100, 129): 3e6, (400, 400): 3e4}), np.zeros(STEPS))
    assert len(waves) == 1 and minor == 1


def test_no_liquidations_no_waves():
    time = np.arange(1, STEPS + 1, dtype=float)
    assert detect_waves(time, np.zeros(STEPS), np.zeros(STEPS)) == ([], 0)


def fake_run(bursts: dict[tuple[int, int], float], low_fraction: float = 0.95):
    """A one-market run with an index sliding 5 % from step 60 to 360 and the given bursts."""
    timeline = np.zeros((STEPS, 1), dtype=layout.TIMELINE_DTYPE)
    time = np.arange(1, STEPS + 1, dtype=float)
    index = START * np.interp(time, [0, 60, 360, STEPS], [1, 1, low_fraction, low_fraction])
    timeline["time"][:, 0] = time
    timeline["index_price"][:, 0] = index
    timeline["mark_price"][:, 0] = index
    timeline["last_price"][:, 0] = index
    long_usd = per_step(bursts)
    timeline["liquidated_long_usd"][:, 0] = long_usd
    timeline["insurance_fund_usd"][:, 0] = 1e9
    rows = []
    for step in np.flatnonzero(long_usd > 0):
        rows.append((time[step], 0, len(rows), len(rows), 1, layout.KIND_BOOK, long_usd[step] / 9e4,
                     long_usd[step], 9e4, 8.9e4, index[step]))  # fmt: skip
    events = np.zeros(len(rows), dtype=layout.LIQUIDATION_EVENT_DTYPE)
    for k, values in enumerate(rows):
        for name, value in zip(layout.LIQUIDATION_EVENT_DTYPE.names, values, strict=False):
            events[k][name] = value
    events["entry_price"] = START
    events["leverage"] = 20.0  # what the engine records: q x mark / margin at the trigger
    events["liquidation_price"] = 9.0e4
    events["equity_usd"] = 1e3
    n = max(len(rows), 1)
    initial = SimpleNamespace(
        market=np.zeros(n, dtype=np.int32),
        quantity=np.ones(n),
        entry_price=np.full(n, START),
        margin=np.full(n, START / 20),  # 20x
    )
    prices = START * (1 + (np.arange(200) - 100) * 1e-4)
    depth = np.where(prices < START, 10.0, 0.0)
    snapshot = BookSnapshot(0, prices[None, :], depth[None, :], (10.0 - depth)[None, :])
    total = float(long_usd.sum())
    market = {
        "market": "BTC-binance",
        "max_drawdown": 1 - low_fraction + (0.005 if total else 0.0),
        "counterfactual_max_drawdown": 1 - low_fraction,
        "amplification": (1 - low_fraction + 0.005) / (1 - low_fraction) if total else 1.0,
        "liquidated_total_usd": total,
        "price_min": START * (low_fraction - (0.005 if total else 0.0)),
    }
    return SimpleNamespace(
        outcome=SimpleNamespace(
            timeline=timeline,
            events=events,
            book_snapshots=[snapshot, snapshot],
            positions=SimpleNamespace(
                market=np.zeros(1, dtype=np.int32),
                side=np.ones(1, dtype=np.int8),
                status=np.zeros(1, dtype=np.int8),
                liquidation_price=np.array([START * 0.80]),
            ),
        ),
        setup=SimpleNamespace(
            markets=[
                SimpleNamespace(price=START, asset="BTC", reciprocal_scale=0.0, inverse=False)
            ],
            step_seconds=1.0,
        ),
        market_names=["BTC-binance"],
        initial_positions=initial,
        summary={
            "markets": [market],
            "liquidated_total_usd": total,
            "bad_debt_usd": 0.0,
            "insurance_fund_change_usd": 1e3 if total else 0.0,
        },
    )


def test_the_story_of_one_clean_wave():
    lines, waves = cascade_story(fake_run({(200, 229): 3e6}))
    text = "\n".join(numbered(lines))
    assert len(waves) == 1
    assert text.startswith("1. The BTC index began to move at t = 60 s")
    assert "The first liquidations hit at t = 201 s on BTC-binance" in text
    assert "at a median leverage of 20x" in text
    assert "Wave 1, t = 200 s to t = 230 s: $3.0M liquidated ($3.0M long, $0 short)" in text
    assert "Wave 2" not in text
    assert "0.50 points further" in text
    assert "No auto-deleveraging and no bad debt" in text
    assert "The last liquidation was at t = 230 s" in text


def test_the_story_of_two_waves_numbers_both():
    lines, waves = cascade_story(fake_run({(100, 119): 2e6, (300, 329): 4e6}))
    text = "\n".join(lines)
    assert [w.number for w in waves] == [1, 2]
    assert "Wave 1, t = 100 s to t = 120 s: $2.0M" in text
    assert "Wave 2, t = 300 s to t = 330 s: $4.0M" in text
    assert text.index("Wave 1") < text.index("Wave 2")


def test_the_story_without_a_cascade_says_so():
    lines, waves = cascade_story(fake_run({}))
    assert waves == []
    assert "No cascade: no position was liquidated." in lines
    assert not any(line.startswith("Wave") for line in lines)
    assert lines[0].startswith("The BTC index began to move at t = 60 s")
