"""Baselines of the quality benchmark (design §7), all decayed with the same half-life."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from bench.retail_invoices import Invoice
from feature_store.item_index import ItemIndex
from ranking.trending import DecayedCounter

Ranked = list[str]


class Popularity:
    name = "global popularity"

    def __init__(self, half_life_ms: float) -> None:
        self.counts = DecayedCounter(half_life_ms)

    def update(self, invoice: Invoice) -> None:
        for item in sorted(invoice.items):
            self.counts.add(item, 1.0, invoice.ts_ms)

    def recommend(self, customer: str, now_ms: int, k: int) -> Ranked:
        return [item for item, _ in self.counts.top(k, now_ms)]


class OwnHistory:
    name = "own past items"

    def __init__(self, half_life_ms: float) -> None:
        self.half_life_ms = half_life_ms
        self.counts: dict[str, DecayedCounter] = {}

    def update(self, invoice: Invoice) -> None:
        counter = self.counts.setdefault(invoice.customer, DecayedCounter(self.half_life_ms))
        for item in sorted(invoice.items):
            counter.add(item, 1.0, invoice.ts_ms)

    def recommend(self, customer: str, now_ms: int, k: int) -> Ranked:
        counter = self.counts.get(customer)
        return [item for item, _ in counter.top(k, now_ms)] if counter else []


class CoOccurrence:
    name = "item co-occurrence"

    def __init__(self, half_life_ms: float) -> None:
        self.history = OwnHistory(half_life_ms)
        self.pairs: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def update(self, invoice: Invoice) -> None:
        items = sorted(invoice.items)
        for a in items:
            row = self.pairs[a]
            for b in items:
                if a != b:
                    row[b] += 1.0
        self.history.update(invoice)

    def recommend(self, customer: str, now_ms: int, k: int) -> Ranked:
        scores: dict[str, float] = defaultdict(float)
        for item, weight in (
            self.history.counts[customer].top(30, now_ms) if customer in self.history.counts else []
        ):
            row = self.pairs.get(item, {})
            total = sum(row.values()) or 1.0
            for other, count in row.items():
                scores[other] += weight * count / total
        return sorted(scores, key=lambda i: -scores[i])[:k]


class ContentVectors:
    name = "MiniLM content vectors"

    def __init__(self, half_life_ms: float, index: ItemIndex) -> None:
        self.history = OwnHistory(half_life_ms)
        self.index = index

    def update(self, invoice: Invoice) -> None:
        self.history.update(invoice)

    def recommend(self, customer: str, now_ms: int, k: int) -> Ranked:
        counter = self.history.counts.get(customer)
        if counter is None:
            return []
        vectors = [(self.index.vector(i), w) for i, w in counter.top(50, now_ms)]
        parts = [v * w for v, w in vectors if v is not None]
        if not parts:
            return []
        profile = np.sum(parts, axis=0)
        profile /= np.linalg.norm(profile) or 1.0
        return [item for item, _ in self.index.search(profile.astype(np.float32), k)]
