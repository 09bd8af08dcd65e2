"""The ADL queue (a binary heap) pops in the order of a stable sort by descending score."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadesim.engine import layout
from cascadesim.engine.adl import adl_pop, adl_sift_down


def queue_order(rows: list[int], scores: list[float]) -> list[int]:
    """Heapify the candidates as rank_adl_candidates does and pop them all."""
    scratch = layout.Scratch(
        triggered=np.zeros(1, dtype=np.int32),
        adl_candidates=np.asarray(rows + [0], dtype=np.int32),
        adl_scores=np.asarray(scores + [0.0], dtype=np.float64),
        account_liquidated=np.zeros(1, dtype=np.bool_),
        account_wallet=np.zeros(1),
        adl_cache=np.full(5, -1, dtype=np.int64),
        chunk_cooldown_end=np.zeros(1),
    )
    size = len(rows)
    for slot in range(size // 2 - 1, -1, -1):
        adl_sift_down(scratch, slot, size)
    popped = []
    while size > 0:
        popped.append(int(scratch.adl_candidates[0]))
        size = adl_pop(scratch, size)
    return popped


@st.composite
def candidates(draw):
    """Rows in increasing order (as the scan appends them), the hedged aggregate (-1) last
    when present, and scores drawn from a few values so that ties are common."""
    n = draw(st.integers(0, 300))
    rows = sorted(draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n, unique=True)))
    if draw(st.booleans()):
        rows.append(-1)
    levels = draw(st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=5))
    scores = [draw(st.sampled_from(levels)) for _ in rows]
    return rows, scores


@given(candidates())
@settings(max_examples=300)
def test_queue_pops_in_stable_descending_score_order(case):
    rows, scores = case
    # The rule the engine had as a stable argsort: descending score, ties in scan order
    # (rows ascending, the aggregate after them).
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    expected = [rows[k] for k in order]
    assert queue_order(rows, scores) == expected


def test_queue_of_one_and_of_none():
    assert queue_order([], []) == []
    assert queue_order([-1], [2.0]) == [-1]
