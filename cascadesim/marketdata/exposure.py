"""What a run did to the accounts of an exchange's own book, by account tier.

An account's tier is its notional at the start (``ACCOUNT_TIER_NAMES``). Per tier: its
accounts and notional, what was liquidated (long, short, accounts, positions), the equity
below zero at the close (the shortfall the fund, the backstop or bad debt absorbed), the
market's bad debt shared by that shortfall, and the tier's positions closed by
auto-deleveraging as counterparties.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cascadesim.engine import layout
from cascadesim.model.position_book import ACCOUNT_TIER_NAMES, BookPlacement


def engine_account_tiers(placement: BookPlacement, n_engine_accounts: int) -> np.ndarray:
    """Tier of each engine account (-1: not the book's: the opening flow, the population)."""
    book_tier = placement.placed.account_tiers(placement.setup.markets)
    tiers = np.full(max(n_engine_accounts, placement.owner.size), -1, dtype=np.int64)
    mine = placement.owner >= 0
    tiers[: placement.owner.size][mine] = book_tier[placement.owner[mine]]
    return tiers


def exposure_by_tier(result, placement: BookPlacement) -> pd.DataFrame:
    """One row per account tier of the book's accounts (see the module docstring).

    Money in USD; ``owner`` maps engine accounts to book accounts, so a book account that
    the engine holds as two wallets (cross and isolated) counts once.
    """
    events = result.liquidations
    account = events["account"].to_numpy()
    n_ids = int(max(account.max() + 1 if len(account) else 0, placement.owner.size))
    tier_of = engine_account_tiers(placement, n_ids)
    owner = np.full(n_ids, -1, dtype=np.int64)
    owner[: placement.owner.size] = placement.owner
    ours = account >= 0
    tier = np.full(len(events), -1, dtype=np.int64)
    tier[ours] = tier_of[account[ours]]
    book_account = np.full(len(events), -1, dtype=np.int64)
    book_account[ours] = owner[account[ours]]
    kind = events["kind"].cat.codes.to_numpy()
    liquidation = np.isin(kind, layout.LIQUIDATION_KINDS) & (tier >= 0)
    adl = (kind == layout.KIND_ADL_COUNTERPARTY) & (tier >= 0)
    long_side = (events["side"] == "long").to_numpy()
    quantity = events["quantity"].to_numpy()
    gap = events["bankruptcy_price"].to_numpy() - events["fill_price"].to_numpy()
    shortfall = np.where(long_side, gap, -gap) * quantity
    shortfall = np.where(liquidation & (kind == layout.KIND_BOOK), np.maximum(shortfall, 0.0), 0.0)
    market = events["market"].cat.codes.to_numpy()
    bad_debt = np.asarray([row["bad_debt_usd"] for row in result.summary["markets"]])
    per_market_shortfall = np.bincount(market, weights=shortfall, minlength=bad_debt.size)
    share = np.divide(
        shortfall,
        per_market_shortfall[market],
        out=np.zeros_like(shortfall),
        where=per_market_shortfall[market] > 0,
    )
    notional = events["notional"].to_numpy()
    placed = placement.placed
    account_tier = placed.account_tiers(placement.setup.markets)
    account_notional = np.bincount(
        placed.account,
        weights=placed.notional_usd(placement.setup.markets),
        minlength=len(placed.account_names),
    )
    held = np.bincount(placed.account, minlength=len(placed.account_names)) > 0
    rows = []
    for k, name in enumerate(ACCOUNT_TIER_NAMES):
        in_tier = tier == k
        liq = liquidation & in_tier
        rows.append(
            {
                "tier": name,
                "accounts": int((held & (account_tier == k)).sum()),
                "notional_usd": float(account_notional[held & (account_tier == k)].sum()),
                "liquidated_long_usd": float(notional[liq & long_side].sum()),
                "liquidated_short_usd": float(notional[liq & ~long_side].sum()),
                "accounts_liquidated": int(np.unique(book_account[liq]).size),
                "positions_liquidated": int(np.unique(events["position"].to_numpy()[liq]).size),
                "shortfall_usd": float(shortfall[in_tier].sum()),
                "bad_debt_usd": float((share * bad_debt[market])[in_tier].sum()),
                "adl_closes": int((adl & in_tier).sum()),
                "adl_notional_usd": float(notional[adl & in_tier].sum()),
            }
        )
    return pd.DataFrame(rows)


def breached_table(placement: BookPlacement, market_names: list[str]) -> pd.DataFrame:
    """The book's rows already at or below maintenance margin at the start (not run)."""
    rows = placement.breached
    names = rows.account_names
    return pd.DataFrame(
        {
            "row": rows.row,
            "account": [str(names[int(k)]) for k in rows.account],
            "market": [market_names[int(m)] for m in rows.market],
            "side": np.where(rows.side > 0, "long", "short"),
            "quantity": rows.quantity,
            "entry_price": rows.entry_price,
            "margin": rows.margin,
            "margin_mode": np.where(rows.cross, "cross", "isolated"),
        }
    )
