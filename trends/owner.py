"""The trend statistics of one partition of the observations topic: its subjects' burst
detectors and peak profiles, fed with shipments (``trends.exchange``). Pure.

An owner applies each event once: it remembers, for every input partition, the offset after the
last event it applied, and leaves out entries below it (a batch published again after a crash).
Shipments of one partition arrive in order, so the same shipments give the same state and the
same signals whichever worker applies them, and after a restart from a stored state.
"""

from __future__ import annotations

from typing import Any

from trends.exchange import Shipment
from trends.tracker import ACTIVITY, TrendTracker


class TrendPartition:
    def __init__(self, tracker: TrendTracker, seen: dict[str, int] | None = None) -> None:
        self.tracker = tracker
        # "topic:partition" of the input -> the first offset not applied yet
        self.seen: dict[str, int] = dict(seen or {})
        self.skipped = 0  # entries left out as applied before

    def apply(self, shipment: Shipment) -> list[dict[str, Any]]:
        """Apply one shipment; the signals that fire."""
        items: list[tuple[str, int, float]] = []
        queries: list[tuple[str, int]] = []
        categories: list[tuple[str, int, float]] = []
        scoped: list[tuple[str, int]] = []
        after: dict[str, int] = {}
        for e in shipment.entries:
            if e.source is not None:
                if e.offset < self.seen.get(e.source, 0):
                    self.skipped += 1
                    continue
                after[e.source] = max(after.get(e.source, 0), e.offset + 1)
            if e.what == "trending_item":
                items.append((e.subject, e.ts, e.weight))
            elif e.what == "trending_query":
                queries.append((e.subject, e.ts))
            elif e.what == "trending_category":
                categories.append((e.subject, e.ts, e.weight))
            elif e.what == ACTIVITY:
                scoped.append((e.subject, e.ts))
        self.seen.update(after)
        return self.tracker.apply(items, queries, categories, scoped, shipment.clock)
