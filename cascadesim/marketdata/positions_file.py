"""An exchange's own positions from a CSV or Parquet file (``cascadesim run --positions``).

Columns: ``account, market, side, quantity, entry_price, margin`` and optionally
``margin_mode`` (isolated, the default, or cross), ``leverage`` and ``collateral``. Units
are the venue's: on a linear market ``quantity`` is coin and ``margin`` USD; on an inverse
market ``quantity`` is the USD face value (contracts x contract size) and ``margin`` coin.

Every bad row is named as ``FILE:ROW: column = value: what is allowed`` (up to
``MAX_REPORTED`` of them, then a count) and nothing runs. ROW is the line of a CSV file (the
header is line 1) or the row number from 1 of a Parquet file. Checks are vectorised with
pyarrow and numpy, so 1e7 rows load in seconds (``benchmarks/bench_positions.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cascadesim._util.errors import CascadesimInputError, one_line
from cascadesim.model.contracts import settlement_currency
from cascadesim.model.market import MarketSpec
from cascadesim.model.position_book import PositionBook

REQUIRED = ("account", "market", "side", "quantity", "entry_price", "margin")
OPTIONAL = ("margin_mode", "leverage", "collateral")
NUMERIC = ("quantity", "entry_price", "margin", "leverage")
MAX_REPORTED = 20
MAX_ACCOUNT_CHARS = 128
MAX_LEVERAGE = 1000.0  # no venue offers more; a larger value is a units mistake
USD_COINS = ("USD", "USDT", "USDC")


class BookErrors:
    """Bad rows, in file order, kept as (row, text) and printed as one line each."""

    def __init__(self, source: str, first_line: int):
        self.source = source
        self.first_line = first_line  # the file line of row 0
        self.found: list[tuple[int, str]] = []
        self.unlisted = 0  # bad rows past the first MAX_REPORTED + 1 of one check

    def add(self, rows: np.ndarray, column: str, values, allowed: str) -> None:
        """Record the rows where a check failed (``values``: their values, in order)."""
        for row, value in zip(rows[: MAX_REPORTED + 1], values, strict=False):
            shown = repr(value.item() if hasattr(value, "item") else value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            line = int(row) + self.first_line
            self.found.append((line, f"{self.source}:{line}: {column} = {shown}: {allowed}"))
        self.unlisted += max(rows.size - MAX_REPORTED - 1, 0)

    def raise_if_any(self) -> None:
        if not self.found:
            return
        lines = [text for _, text in sorted(self.found)[:MAX_REPORTED]]
        more = len(self.found) + self.unlisted - len(lines)
        if more > 0:
            lines.append(f"{self.source}: {more:,} more bad rows")
        raise BookFileError(lines)


class BookFileError(CascadesimInputError):
    """A position book with bad rows: one line per row (the first ``MAX_REPORTED``)."""

    def __init__(self, lines: list[str]):
        self.lines = [one_line(line) for line in lines]
        super().__init__(self.lines[0])

    def __str__(self) -> str:
        return "\n".join(self.lines)


def read_table(path: Path) -> tuple[pa.Table, int]:
    """The file as an Arrow table of strings and numbers, and the file line of row 0."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq  # lazy: only Parquet books need the reader

            return pq.read_table(path), 1
        if suffix == ".csv":
            return read_csv(path), 2
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as error:
        raise CascadesimInputError(
            f"{path}: cannot read the position book ({first_line_of(error)})"
        ) from None
    raise CascadesimInputError(
        f"{path}: a position book must be a .csv or .parquet file (suffix {suffix!r})"
    )


def read_csv(path: Path) -> pa.Table:
    """A CSV book; text columns stay text so that '1e3' in ``account`` is an account."""
    import pyarrow.csv as pcsv  # lazy: only CSV books need the reader

    # The streaming reader parses only the first block to learn the column names.
    with pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 16)) as reader:
        header = reader.schema.names
    text = {name: pa.string() for name in header if name not in NUMERIC}
    numeric = {name: pa.float64() for name in header if name in NUMERIC}
    try:
        return pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types={**text, **numeric}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid:
        # A number column holds text somewhere: read every column as text and find the rows.
        return pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False
            ),
        )


def first_line_of(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def numbers(table: pa.Table, name: str, errors: BookErrors) -> np.ndarray:
    """A numeric column as float64 (NaN where missing); text that is no number is an error."""
    column = table.column(name)
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        raise CascadesimInputError(
            f"{errors.source}: column {name} has type {column.type}: numbers"
        )
    text = column.combine_chunks()
    # Empty cells are missing values (checked as NaN below); anything else must parse.
    trimmed = pc.utf8_trim_whitespace(text)
    parsed = np.full(len(text), np.nan)
    is_number = pc.match_substring_regex(
        trimmed, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|NaN|inf|Inf|infinity)$"
    )
    ok = is_number.to_numpy(zero_copy_only=False)
    if ok.any():
        parsed[ok] = pc.cast(pc.filter(trimmed, is_number), pa.float64()).to_numpy(
            zero_copy_only=False
        )
    bad = np.flatnonzero(~ok & (pc.utf8_length(trimmed).to_numpy(zero_copy_only=False) > 0))
    if bad.size:
        errors.add(bad, name, [text[int(k)].as_py() for k in bad[: MAX_REPORTED + 1]], "a number")
    return parsed


def texts(table: pa.Table, name: str, default: str = "") -> pa.Array:
    """A text column (nulls as ``default``), or ``default`` on every row when absent."""
    if name not in table.column_names:
        return pa.array(np.full(table.num_rows, default, dtype=object), type=pa.string())
    column = table.column(name).combine_chunks()
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    return pc.fill_null(column, default)


def codes(column: pa.Array, allowed: list[str], fold=None) -> np.ndarray:
    """Index of each value in ``allowed`` (-1 where it is not there).

    ``fold`` (a pyarrow compute function such as ``pc.utf8_lower``) is applied to the
    distinct values only: a column of 1e7 rows holds a handful of sides or markets.
    """
    encoded = pc.dictionary_encode(column)
    values = encoded.dictionary if fold is None else fold(encoded.dictionary)
    index = pc.index_in(values, value_set=pa.array(allowed, type=pa.string()))
    lookup = pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return lookup[encoded.indices.to_numpy(zero_copy_only=False)]


def read_position_book(
    path: str | Path, market_names: list[str], markets: list[MarketSpec]
) -> PositionBook:
    """Read and check a position book against a scenario's markets.

    Parameters
    ----------
    path : .csv or .parquet file
    market_names : the scenario's market names, in order
    markets : their MarketSpecs (contract type, venue and tiers), in the same order

    Returns
    -------
    PositionBook, market indices into ``market_names``

    Raises
    ------
    BookFileError
        one line per bad row (file, row, column, value, what is allowed)
    CascadesimInputError
        an unreadable file, or missing or unknown columns
    """
    path = Path(path)
    if not path.is_file():
        raise CascadesimInputError(
            f"--positions = {str(path)!r}: an existing .csv or .parquet file"
        )
    table, first_line = read_table(path)
    source = path.name
    check_columns(table, source)
    errors = BookErrors(source, first_line)
    n = table.num_rows

    market_text = texts(table, "market")
    market = codes(market_text, market_names)
    bad = np.flatnonzero(market < 0)
    errors.add(
        bad,
        "market",
        [market_text[int(k)].as_py() for k in bad[: MAX_REPORTED + 1]],
        "a market of the scenario: " + ", ".join(market_names),
    )

    side_text = texts(table, "side")
    side_code = codes(side_text, ["long", "short"], pc.utf8_lower)
    bad = np.flatnonzero(side_code < 0)
    errors.add(
        bad, "side", [side_text[int(k)].as_py() for k in bad[: MAX_REPORTED + 1]], "long or short"
    )

    account_text = texts(table, "account")
    account_codes = pc.dictionary_encode(account_text)
    account = account_codes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    length = pc.utf8_length(account_codes.dictionary).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(((length == 0) | (length > MAX_ACCOUNT_CHARS))[account])
    errors.add(
        bad,
        "account",
        [account_text[int(k)].as_py() for k in bad[: MAX_REPORTED + 1]],
        f"an account identifier of 1 to {MAX_ACCOUNT_CHARS} characters",
    )

    values = {name: numbers(table, name, errors) for name in NUMERIC if name in table.column_names}
    for name in ("quantity", "entry_price", "margin"):
        column = values[name]
        bad = np.flatnonzero(~(np.isfinite(column) & (column > 0)))
        unit = unit_text(name)
        errors.add(bad, name, column[bad[: MAX_REPORTED + 1]], f"a finite number > 0 ({unit})")
    leverage = values.get("leverage", np.full(n, np.nan))
    if "leverage" in values:
        given = ~np.isnan(leverage)
        bad = np.flatnonzero(given & ~((leverage >= 1) & (leverage <= MAX_LEVERAGE)))
        errors.add(
            bad,
            "leverage",
            leverage[bad[: MAX_REPORTED + 1]],
            f"from 1 to {MAX_LEVERAGE:g}, or empty",
        )

    mode_text = texts(table, "margin_mode", "isolated")
    mode = codes(mode_text, ["isolated", "cross", ""], fold_mode)
    bad = np.flatnonzero(mode < 0)
    errors.add(
        bad,
        "margin_mode",
        [mode_text[int(k)].as_py() for k in bad[: MAX_REPORTED + 1]],
        "isolated or cross",
    )
    check_collateral(table, market, markets, errors)

    side = np.where(side_code == 1, -1, 1).astype(np.int8)
    check_duplicates(account, market, side, account_text, market_names, errors)
    errors.raise_if_any()
    return PositionBook(
        account=account,
        account_names=account_codes.dictionary,
        market=market.astype(np.int32),
        side=side,
        quantity=values["quantity"],
        entry_price=values["entry_price"],
        margin=values["margin"],
        cross=mode == 1,
        leverage=leverage,
        row=np.arange(n, dtype=np.int64) + first_line,
        source=source,
    )


def fold_mode(values: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.utf8_trim_whitespace(values))


def unit_text(name: str) -> str:
    return {
        "quantity": "coin on a linear market, USD face value on an inverse one",
        "entry_price": "USD",
        "margin": "USD on a linear market, coin on an inverse one",
    }[name]


def check_columns(table: pa.Table, source: str) -> None:
    names = table.column_names
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise CascadesimInputError(
            f"{source}: columns: {', '.join(missing)} missing (required: {', '.join(REQUIRED)}; "
            f"optional: {', '.join(OPTIONAL)}; found: {', '.join(names) or 'none'})"
        )
    unknown = [name for name in names if name not in REQUIRED + OPTIONAL]
    if unknown:
        raise CascadesimInputError(
            f"{source}: column {unknown[0]!r}: not a column of a position book "
            f"({', '.join(REQUIRED + OPTIONAL)})"
        )
    if len(set(names)) != len(names):
        raise CascadesimInputError(f"{source}: columns: each name once (found {', '.join(names)})")


def check_collateral(
    table: pa.Table, market: np.ndarray, markets: list[MarketSpec], errors: BookErrors
) -> None:
    """A row's collateral is its market's settlement coin (a book gives no baskets)."""
    if "collateral" not in table.column_names:
        return
    text = pc.utf8_upper(pc.utf8_trim_whitespace(texts(table, "collateral")))
    given = pc.utf8_length(text).to_numpy(zero_copy_only=False) > 0
    coin = codes(text, list(USD_COINS) + sorted({spec.asset.upper() for spec in markets}))
    names = list(USD_COINS) + sorted({spec.asset.upper() for spec in markets})
    settlement = [settlement_currency(spec) for spec in markets]
    allowed = np.zeros((len(markets), len(names)), dtype=bool)
    for m, currency in enumerate(settlement):
        for k, name in enumerate(names):
            allowed[m, k] = (name in USD_COINS) if currency == "USD" else (name == currency)
    known = market >= 0
    ok = ~given | ((coin >= 0) & known & allowed[np.maximum(market, 0), np.maximum(coin, 0)])
    ok |= ~known  # the market's own error names the row
    bad = np.flatnonzero(~ok)
    errors.add(
        bad,
        "collateral",
        [text[int(k)].as_py() for k in bad[: MAX_REPORTED + 1]],
        "the market's settlement coin (USDT, USDC or USD on a linear market, the coin on an "
        "inverse one): a book's wallets hold that coin",
    )


def check_duplicates(account, market, side, account_text, market_names, errors) -> None:
    """One position per account, market and side: a venue merges the rest into it."""
    key = (account * (len(market_names) + 1) + (market + 1)) * 2 + (side < 0)
    order = np.argsort(key, kind="stable")
    repeated = order[1:][np.diff(key[order]) == 0]
    if not repeated.size:
        return
    repeated = np.sort(repeated)
    errors.add(
        repeated,
        "account",
        [account_text[int(k)].as_py() for k in repeated[: MAX_REPORTED + 1]],
        "one position per account, market and side (a venue merges a second one into the "
        "first; hedge mode holds one long and one short)",
    )
