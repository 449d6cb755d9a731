"""Baselines of the quality benchmark (design §7), all decayed with the same half-life."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from bench.retail_invoices import Invoice
from ranking.item_index import ItemIndex
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
    """The customer's items by decayed purchase occasions; ties (many items bought once, in one
    invoice) broken by global decayed popularity."""

    name = "own past items"

    def __init__(self, half_life_ms: float) -> None:
        self.half_life_ms = half_life_ms
        self.counts: dict[str, DecayedCounter] = {}
        self.popularity = DecayedCounter(half_life_ms)

    def update(self, invoice: Invoice) -> None:
        counter = self.counts.setdefault(invoice.customer, DecayedCounter(self.half_life_ms))
        for item in sorted(invoice.items):
            counter.add(item, 1.0, invoice.ts_ms)
            self.popularity.add(item, 1.0, invoice.ts_ms)

    def recommend(self, customer: str, now_ms: int, k: int) -> Ranked:
        counter = self.counts.get(customer)
        if counter is None:
            return []
        scores = dict(counter.top(len(counter), now_ms))
        # Scores of one invoice are equal in exact arithmetic; rounding must not break ties.
        key = lambda i: (-round(scores[i], 9), -self.popularity.order_key(i), i)  # noqa: E731
        return sorted(scores, key=key)[:k]


class CoOccurrence:
    """Items scored by cosine co-occurrence (invoices with both / sqrt of each one's invoices)
    with the customer's 30 strongest past items, decayed weights; an item co-occurs with itself
    (cosine 1), so past items count too."""

    name = "item co-occurrence"

    def __init__(self, half_life_ms: float) -> None:
        self.history = OwnHistory(half_life_ms)
        self.pairs: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.invoices: dict[str, int] = defaultdict(int)

    def update(self, invoice: Invoice) -> None:
        items = sorted(invoice.items)
        for a in items:
            self.invoices[a] += 1
            row = self.pairs[a]
            for b in items:
                if a != b:
                    row[b] += 1.0
        self.history.update(invoice)

    def recommend(self, customer: str, now_ms: int, k: int) -> Ranked:
        scores: dict[str, float] = defaultdict(float)
        counter = self.history.counts.get(customer)
        for item, weight in counter.top(30, now_ms) if counter else []:
            scores[item] += weight
            n = self.invoices[item]
            for other, count in self.pairs.get(item, {}).items():
                scores[other] += weight * count / math.sqrt(n * self.invoices[other])
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
