"""Online Retail as the quality protocol of design §7 reads it: cleaned invoices in time order.

Dropped: cancellations (invoice starting with C) and non-positive quantities, rows without a
customer, stock codes that are not five digits plus an optional letter.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

from core.events import Purchase, UserEvent
from core.validation import parse_ts
from replay.online_retail import local_iso

STOCK_CODE = re.compile(r"^\d{5}[A-Za-z]?$")


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice: str
    customer: str
    ts_ms: int
    lines: tuple[tuple[str, int, float], ...]  # (item_id, quantity, unit price)

    @property
    def items(self) -> set[str]:
        return {item for item, _, _ in self.lines}

    def purchases(self) -> list[UserEvent]:
        """The invoice as the shop sends it: one purchase event a line."""
        return [
            Purchase(
                f"{self.invoice}-{n}", self.customer, self.ts_ms, item, qty, price, self.invoice
            )
            for n, (item, qty, price) in enumerate(self.lines)
        ]


def load(path: Path) -> tuple[list[Invoice], dict[str, str]]:
    """Invoices sorted by time (then number), and item_id -> product name."""
    lines: dict[str, list[tuple[str, int, float]]] = {}
    meta: dict[str, tuple[str, int]] = {}
    titles: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            invoice, code = row["InvoiceNo"], row["StockCode"].strip()
            customer = row["CustomerID"].strip()
            quantity = int(row["Quantity"])
            if (
                invoice.startswith("C")
                or quantity <= 0
                or not customer
                or not STOCK_CODE.match(code)
            ):
                continue
            if row["Description"].strip():
                titles.setdefault(code, row["Description"].strip())
            if invoice not in meta:
                meta[invoice] = (customer, parse_ts(local_iso(row["InvoiceDate"])))
            lines.setdefault(invoice, []).append((code, quantity, float(row["UnitPrice"])))
    invoices = [Invoice(no, meta[no][0], meta[no][1], tuple(ls)) for no, ls in lines.items()]
    invoices.sort(key=lambda inv: (inv.ts_ms, inv.invoice))
    return invoices, titles
