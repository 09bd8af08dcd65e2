"""Mark price and funding kernels.

Liquidations trigger on the mark price, not the last trade. Each venue builds its mark from
the index, a moving average of the perp's basis and the perp's own prices, and the median in
those rules is what stops one wick on a thin book from liquidating everybody: the mark
follows the last price only once the index or the basis average moves too.

Funding is ``F = P + clamp(I - P, -clamp, +clamp)``, where P is the time-average premium of the
perp mid over the index since the last settlement and I the interest rate. F, I and the clamp
are quoted for the venue's premium period (8 h at every venue profile); what is paid at each
settlement is ``F x interval / period`` capped at +/- cap, the cap being per paid interval.
Binance, Bybit and OKX pay every 8 h (interval = period, so F is paid whole); Hyperliquid and
dYdX pay an eighth of it every hour. Positive F: longs pay shorts.
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
def period_funding_rate(average_premium, interest_rate, clamp):
    """``P + clamp(I - P, -clamp, +clamp)`` (fraction per premium period), uncapped."""
    gap = interest_rate - average_premium
    if gap > clamp:
        gap = clamp
    elif gap < -clamp:
        gap = -clamp
    return average_premium + gap


@njit(cache=True)
def funding_rate(average_premium, interest_rate, clamp, cap, interval_s, period_s):
    """Funding rate paid per interval (fraction) from the average premium (fraction).

    ``interest_rate`` and ``clamp`` are per premium period ``period_s``; the period's rate is
    scaled to the payment interval ``interval_s`` (a factor of exactly 1.0 when the two are
    equal) and then capped at +/- ``cap``, a fraction per interval.
    """
    rate = period_funding_rate(average_premium, interest_rate, clamp) * (interval_s / period_s)
    if rate > cap:
        rate = cap
    elif rate < -cap:
        rate = -cap
    return rate


@njit(cache=True)
def premium_for_rate(rate, interest_rate, clamp, interval_s, period_s):
    """An average premium that makes :func:`funding_rate` give ``rate`` per interval (uncapped).

    The rate is first put on the premium period's basis. ``F = P + clamp(I - P, +-c)`` is I
    for every premium within c of I, ``P - c`` above that band and ``P + c`` below it, so a
    rate above I comes from ``P = F + c``, one below from ``P = F - c``, and I itself from
    ``P = I``. (Up to 2026-12 rates strictly within c of I came back as I: a scenario's
    0.03 % settled at 0.01 %.)
    """
    period_rate = rate * (period_s / interval_s)
    if period_rate > interest_rate:
        return period_rate + clamp
    if period_rate < interest_rate:
        return period_rate - clamp
    return period_rate


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
    predicted_funding : float, fraction paid per interval (what :func:`funding_rate` returns)
    time_to_funding_s, funding_interval_s : float, seconds; Binance's funding basis
        ``index x (1 + rate x time to funding / interval)`` takes the rate per interval
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
