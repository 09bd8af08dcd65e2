"""The rows of a cross-margin account: where a closed row's margin goes.

A cross account's margin is its wallet, spread over its positions' ``margin`` columns; when
one of its rows closes, what the row holds moves to another open row of the account. The
account-level procedures (check, close order, rebalancing) are in
:mod:`cascadesim.engine.cross_margin`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cascadesim.engine.layout import STATUS_OPEN, STATUS_WATCHED


@njit(cache=True)
def open_in_account(positions, crosses, slot, exclude):
    """First open row of cross account ``slot`` other than ``exclude``; -1 when none."""
    for k in range(crosses.offsets[slot], crosses.offsets[slot + 1]):
        j = np.int64(crosses.rows[k])
        if (
            j != exclude
            and positions.quantity[j] > 0.0
            and (positions.status[j] == STATUS_OPEN or positions.status[j] == STATUS_WATCHED)
        ):
            return j
    return -1


@njit(cache=True)
def release_to_account(positions, scratch, crosses, i):
    """Move closed row i's margin to an open position of its cross account.

    Returns the receiving row, or -1 when none is open (the margin stays on row i).
    """
    account = positions.account[i]
    keeper = open_in_account(positions, crosses, crosses.slot[account], i)
    if keeper >= 0:
        positions.margin[keeper] += positions.margin[i]
        positions.margin[i] = 0.0
    return keeper
