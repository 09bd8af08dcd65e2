"""Numbers as people read them: compact USD, percentages, prices, byte counts.

One implementation of each, shared by the CLI, the plots and the HTML reports.
"""

from __future__ import annotations

import math

_MAGNITUDES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def format_usd(value: float | None, digits: int = 1, trim: bool = False) -> str:
    """Compact USD: ``$1.2M``, ``$3.4B``, ``-$850.0K``, ``$12``; ``n/a`` if not finite.

    ``trim`` drops trailing zeros (``$1.25M``, ``$250K``), as axis ticks want.
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for threshold, suffix in _MAGNITUDES:
        if magnitude >= threshold:
            text = f"{magnitude / threshold:.{digits}f}"
            if trim:
                text = text.rstrip("0").rstrip(".")
            return f"{sign}${text}{suffix}"
    if trim:
        return "$0" if magnitude == 0 else f"{sign}${magnitude:,.2f}".rstrip("0").rstrip(".")
    return f"{sign}${magnitude:,.0f}"


def format_millions(value: float | None, digits: int = 1) -> str:
    """USD in millions with separators (``1,716.0 M``), for tables that compare figures."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value / 1e6:,.{digits}f} M"


def format_fraction(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage (``0.256 -> 25.6 %``); ``n/a`` if not finite."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100.0 * value:.{digits}f} %"


def price_decimals(price: float) -> int:
    """Decimals that show a price to about four significant figures (0 for BTC, 4 for 0.5)."""
    if not (price > 0 and math.isfinite(price)):
        return 2
    return int(min(6, max(0, 3 - math.floor(math.log10(price)))))


def format_price(price: float | None, reference: float | None = None) -> str:
    """Price with thousands separators and decimals suited to the reference price's size."""
    if price is None or not math.isfinite(price):
        return "n/a"
    return f"{price:,.{price_decimals(reference or price)}f}"


def format_bytes(count: float) -> str:
    """``1.5e9`` -> ``'1.5 GB'`` (decimal units, as disks and most people count)."""
    for size, unit in ((1e15, "PB"), (1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if count >= size:
            return f"{count / size:,.3g} {unit}"
    return f"{count:,.0f} B"


def format_duration(seconds: float) -> str:
    """``45 s``, ``3 min``: the rough size of a wait."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
