"""Mark price and funding kernels.

Liquidations trigger on the mark price, not the last trade. Each venue builds its mark from
the index, a moving average of the perp's basis and the perp's own prices, and the median in
those rules is what stops one wick on a thin book from liquidating everybody: the mark
follows the last price only once the index or the basis average moves too.

Funding (Binance/Bybit style) is ``F = P + clamp(I - P, -clamp, +clamp)`` per interval, where P
is the time-average premium of the perp mid over the index since the last settlement and I
the interest rate per interval, then capped at +/- cap. Positive F: longs pay shorts.
"""

from __future__ import annotations

from numba import njit

from cascadesim.engine.layout import MARK_BINANCE, MARK_HYPERLIQUID, MARK_INDEX


@njit(cache=True)
def median_of_three(a, b, c):
    """Median of three numbers."""
    if a > b:
        a, b = b, a
    if b > c:
        b = c
    return a if a > b else b


@njit(cache=True)
def funding_rate(average_premium, interest_rate, clamp, cap):
    """Funding rate per interval (fraction) from the average premium (fraction)."""
    gap = interest_rate - average_premium
    if gap > clamp:
        gap = clamp
    elif gap < -clamp:
        gap = -clamp
    rate = average_premium + gap
    if rate > cap:
        rate = cap
    elif rate < -cap:
        rate = -cap
    return rate


@njit(cache=True)
def premium_for_rate(rate, interest_rate, clamp):
    """An average premium that makes :func:`funding_rate` give ``rate`` (uncapped).

    Rates inside ``interest_rate +/- clamp`` all come from the same premium band, so the
    premium equal to the rate is returned there; outside it the clamp is undone.
    """
    if rate > interest_rate + clamp:
        return rate + clamp
    if rate < interest_rate - clamp:
        return rate - clamp
    return rate


@njit(cache=True)
def mark_price(
    rule,
    index_price,
    basis_average,
    last_price,
    best_bid,
    best_ask,
    predicted_funding,
    time_to_funding_s,
    funding_interval_s,
):
    """Venue mark price (USD).

    Parameters
    ----------
    rule : int, MARK_* code from :mod:`cascadesim.engine.layout`
    index_price, basis_average, last_price, best_bid, best_ask : float, USD
    predicted_funding : float, fraction per interval
    time_to_funding_s, funding_interval_s : float, seconds
    """
    if rule == MARK_BINANCE:
        funding_basis = index_price * (
            1.0 + predicted_funding * time_to_funding_s / funding_interval_s
        )
        return median_of_three(funding_basis, index_price + basis_average, last_price)
    if rule == MARK_HYPERLIQUID:
        book_price = median_of_three(best_bid, best_ask, last_price)
        return median_of_three(index_price + basis_average, book_price, index_price)
    if rule == MARK_INDEX:
        return index_price
    return index_price + basis_average
