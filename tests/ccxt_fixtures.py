"""Venues' documented response bodies served to ccxt through its request hook.

Every REST call of ccxt's sync ``Exchange`` goes through ``Exchange.fetch(url, method,
headers, body)``. :class:`FixtureFetch` replaces it on an instance: it serves the JSON of
``tests/fixtures/ccxt/<venue>/`` by URL path (Hyperliquid's ``POST /info`` by the body's
``type``), records every request, and raises ``ccxt.NetworkError`` for a path it has no
fixture for, so ccxt's parsing and ours both run and a test sees which calls happen.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import ccxt

from cascadesim.marketdata.live import new_exchange

FIXTURES = Path(__file__).parent / "fixtures" / "ccxt"


class FixtureFetch:
    """Stands in for ``Exchange.fetch``: fixture JSON by path, NetworkError for the rest.

    ``failing`` maps a path (or 'POST /info <type>') to the ccxt error class it raises.
    A fixture named ``<path>@<key>=<value>.json`` answers requests with that query value.
    """

    def __init__(self, venue: str, failing: dict | None = None) -> None:
        self.folder = FIXTURES / venue
        self.failing = failing or {}
        self.requested: list[str] = []

    def __call__(self, url, method="GET", headers=None, body=None):
        parts = urllib.parse.urlparse(url)
        name = parts.path.strip("/").replace("/", "_")
        request = f"{method} {parts.path}"
        if body:
            kind = json.loads(body)["type"]
            name, request = f"{name}_{kind}", f"{request} {kind}"
        self.requested.append(request)
        if request in self.failing:
            raise self.failing[request](f"fixture says {request} failed")
        for key, value in urllib.parse.parse_qsl(parts.query):
            special = self.folder / f"{name}@{key}={value}.json"
            if special.exists():
                return json.loads(special.read_text())
        path = self.folder / f"{name}.json"
        if not path.exists():
            raise ccxt.NetworkError(f"no fixture for {request}")
        return json.loads(path.read_text())


def offline(venue: str, failing: dict | None = None):
    exchange = new_exchange(venue, enableRateLimit=False)
    exchange.fetch = FixtureFetch(venue, failing)
    return exchange
