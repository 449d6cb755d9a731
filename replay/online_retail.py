"""Online Retail (UCI): a catalogue from product names, then one purchase per invoice line.

Rows that cannot be contract purchases are skipped and counted by reason: cancellations and
other negative quantities, rows without a customer, negative prices. Event ids are derived from
the line number, so replaying the file twice produces the same events.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import ConfigError
from core.events import EventKind
from replay.source import Item, Skipped, Source

LONDON = ZoneInfo("Europe/London")


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if not path.exists():
        raise ConfigError(
            f"Online Retail data not found at {path}; see the README's 'Data' section"
        )
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def catalogue(path: Path) -> dict[str, str]:
    """item_id -> product name (the first non-empty description seen)."""
    titles: dict[str, str] = {}
    for row in _rows(path):
        code, title = row["StockCode"].strip(), row["Description"].strip()
        if code and title and code not in titles:
            titles[code] = title
    return titles


def local_iso(stamp: str) -> str:
    """``2011-06-01T10:00:00`` UK local time as RFC 3339 with its offset."""
    return datetime.fromisoformat(stamp).replace(tzinfo=LONDON).isoformat()


def events(path: Path, skipped: Skipped) -> Iterator[Item]:
    for item_id, title in catalogue(path).items():
        yield EventKind.CATALOG, {"item_id": item_id, "title": title}
    for line, row in enumerate(_rows(path), start=2):
        customer = row["CustomerID"].strip()
        quantity = int(row["Quantity"])
        price = float(row["UnitPrice"])
        if row["InvoiceNo"].startswith("C") or quantity <= 0:
            skipped.add("cancellation or negative quantity")
            continue
        if not customer:
            skipped.add("no customer id")
            continue
        if price < 0:
            skipped.add("negative price")
            continue
        yield (
            EventKind.PURCHASE,
            {
                "event_id": f"or-{line}",
                "user_id": customer,
                "ts": local_iso(row["InvoiceDate"]),
                "item_id": row["StockCode"].strip(),
                "quantity": quantity,
                "price": price,
                "order_id": row["InvoiceNo"],
                "currency": "GBP",
                "country": row["Country"],
            },
        )


def source(path: Path) -> Source:
    skipped = Skipped()
    return Source("online-retail", events(path, skipped), skipped)
