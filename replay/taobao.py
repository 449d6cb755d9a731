"""Taobao UserBehavior: ids only, real view/cart/buy ratios, a two-hour window.

pv -> click (action view), cart -> click (action add_to_cart), buy -> purchase (quantity 1;
the data has no price, so price is 0). ``fav`` has no contract event and is skipped (counted).
Items enter the catalogue with a generated title and their category id.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path

from core.errors import ConfigError
from core.events import EventKind
from replay.source import Item, Skipped, Source


def _rows(path: Path) -> Iterator[list[str]]:
    if not path.exists():
        raise ConfigError(f"Taobao data not found at {path}; see the README's 'Data' section")
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        yield from csv.reader(handle)


def events(path: Path, skipped: Skipped) -> Iterator[Item]:
    seen: set[str] = set()
    for row in _rows(path):
        item_id, category = row[1], row[2]
        if item_id not in seen:
            seen.add(item_id)
            yield (
                EventKind.CATALOG,
                {
                    "item_id": item_id,
                    "title": f"Taobao item {item_id}",
                    "category": f"Taobao > {category}",
                },
            )
    for line, (user_id, item_id, _category, behavior, seconds) in enumerate(_rows(path), start=1):
        common = {
            "event_id": f"tb-{line}",
            "user_id": user_id,
            "ts": int(seconds) * 1000,
            "item_id": item_id,
        }
        if behavior == "pv":
            yield EventKind.CLICK, {**common, "action": "view"}
        elif behavior == "cart":
            yield EventKind.CLICK, {**common, "action": "add_to_cart"}
        elif behavior == "buy":
            yield EventKind.PURCHASE, {**common, "quantity": 1, "price": 0.0}
        else:
            skipped.add(f"behavior {behavior!r} has no contract event")


def source(path: Path) -> Source:
    skipped = Skipped()
    return Source("taobao", events(path, skipped), skipped)
