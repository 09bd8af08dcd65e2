"""Order-book kernels against their pure-Python references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadesim.engine.book import relax_toward_target, tabulate_profile
from tests.reference import book_reference


@st.composite
def books(draw):
    """A window of resting quotes (some levels empty, some above target) and a centre that
    may lie anywhere, including outside the window."""
    n_levels = draw(st.sampled_from([8, 64, 256]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    tick_size = draw(st.sampled_from([0.01, 0.5, 10.0]))
    origin_tick = draw(st.integers(1, 5_000))
    centre_tick = origin_tick + draw(st.integers(-n_levels, 2 * n_levels))
    # A profile as long as the window takes the vectorised passes; a shorter one clamps the
    # profile index and takes the scalar loop. Both must match the reference.
    profile_levels = draw(st.one_of(st.just(n_levels), st.integers(1, n_levels)))
    centre_price = max(centre_tick, 1) * tick_size
    profile = np.zeros(profile_levels)
    tabulate_profile(
        draw(st.floats(1e3, 1e9)), draw(st.floats(0.5, 2.0)), tick_size, centre_price, profile
    )
    scale = 1e6 / centre_price
    bids = rng.random(n_levels) * scale * (rng.random(n_levels) < 0.7)
    asks = rng.random(n_levels) * scale * (rng.random(n_levels) < 0.7)
    return (
        bids,
        asks,
        origin_tick,
        tick_size,
        centre_tick,
        profile,
        draw(st.floats(0.0, 1.5)),
        draw(st.floats(0.0, 1.0)),
        draw(st.floats(0.0, 1.0)),
    )


@given(books())
@settings(max_examples=200)
def test_relax_toward_target_matches_reference(book):
    bids, asks, origin_tick, tick_size, centre_tick, profile, factor, refill, cancel = book
    expected_bids, expected_asks = bids.tolist(), asks.tolist()
    book_reference.relax_toward_target(
        expected_bids,
        expected_asks,
        origin_tick,
        tick_size,
        centre_tick,
        profile.tolist(),
        factor,
        refill,
        cancel,
    )
    relax_toward_target(
        bids, asks, origin_tick, tick_size, centre_tick, profile, factor, refill, cancel
    )
    # Same arithmetic in the same order: the results are identical, not just close.
    np.testing.assert_array_equal(bids, np.asarray(expected_bids))
    np.testing.assert_array_equal(asks, np.asarray(expected_asks))
    assert (bids >= 0.0).all() and (asks >= 0.0).all()


def test_relax_converges_to_the_profile_and_clears_the_wrong_side():
    """Repeated steps leave bids on the profile below the centre, asks above, nothing at it."""
    n_levels, tick_size, origin_tick = 64, 0.5, 1_000
    centre_tick = origin_tick + 30
    profile = np.zeros(n_levels)
    tabulate_profile(1e6, 1.0, tick_size, centre_tick * tick_size, profile)
    bids = np.full(n_levels, 50.0)
    asks = np.full(n_levels, 50.0)
    for _ in range(400):
        relax_toward_target(bids, asks, origin_tick, tick_size, centre_tick, profile, 0.8, 0.1, 0.2)
    ticks = origin_tick + np.arange(n_levels)
    distance = np.abs(ticks - centre_tick)
    target = 0.8 * profile[np.maximum(distance - 1, 0)] / (ticks * tick_size)
    below, above = ticks < centre_tick, ticks > centre_tick
    np.testing.assert_allclose(bids[below], target[below], rtol=1e-12)
    np.testing.assert_allclose(asks[above], target[above], rtol=1e-12)
    assert np.all(bids[~below] < 1e-15) and np.all(asks[~above] < 1e-15)
