"""List prices of VM sizes per node-hour, for the run trace's cost estimate.

The table ships with the package (`aml_bridge/model/data/vm_prices.tsv`, its source in its header);
--aml-prices adds a user's own table on top (same columns; its rows win). --aml-refresh-prices
reads the public Azure Retail Prices API (no credentials) for the run's clusters at start
(`retail_prices`). A size, region or tier in no table has no price: the trace leaves it empty
rather than guess.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

COLUMNS = ("vm_size", "region", "tier", "usd_per_hour")
TIERS = ("dedicated", "low_priority")
Key = tuple[str, str, str]


def shipped_table() -> str:
    return files("aml_bridge.model").joinpath("data/vm_prices.tsv").read_text()


def table_rows(text: str, source: str) -> list[tuple[str, str, str, float]]:
    """(vm_size, region, tier, usd_per_hour) as written. ValueError naming the source's line
    for a wrong header, column count, tier or price."""
    rows = []
    header_seen = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            if tuple(fields) != COLUMNS:
                raise ValueError(f"{source} line {number}: header must be {' '.join(COLUMNS)}")
            header_seen = True
            continue
        if len(fields) != len(COLUMNS):
            raise ValueError(f"{source} line {number}: {len(fields)} columns, not {len(COLUMNS)}")
        size, region, tier, price = fields
        if tier not in TIERS:
            raise ValueError(f"{source} line {number}: tier {tier!r} is not one of {TIERS}")
        try:
            value = float(price)
        except ValueError:
            value = -1.0
        if value < 0:
            raise ValueError(f"{source} line {number}: usd_per_hour {price!r} is not a price")
        rows.append((size, region, tier, value))
    if not header_seen:
        raise ValueError(f"{source}: no header line ({' '.join(COLUMNS)})")
    return rows


def parse_table(text: str, source: str) -> dict[Key, float]:
    """(vm_size, region, tier), sizes and regions lower-cased → USD per node-hour."""
    return {
        key(size, region, tier): price for size, region, tier, price in table_rows(text, source)
    }


def key(vm_size: str, region: str, tier: str) -> Key:
    return vm_size.lower(), region.lower(), tier


def load_prices(user_table: Path | None = None) -> dict[Key, float]:
    """The shipped table, the user's rows on top."""
    prices = parse_table(shipped_table(), "aml_bridge/model/data/vm_prices.tsv")
    if user_table is not None:
        try:
            text = Path(user_table).read_text()
        except OSError as e:
            raise ValueError(f"{user_table}: {e.strerror}") from e
        prices.update(parse_table(text, str(user_table)))
    return prices
