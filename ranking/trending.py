"""Exponentially decayed counts in event time, with a top-k: what is popular right now.

Forward decay: an event at ``t`` adds ``w * 2 ** ((t - landmark) / h)``, so no stored count
ever needs touching when time moves on; ranks at any time are those of the decayed counts.
When the exponent grows large, every count is rescaled and the landmark moved.

>>> c = DecayedCounter(half_life_ms=1000)
>>> c.add("a", 1.0, 0); c.add("b", 1.0, 1000); c.add("a", 1.0, 1000)
>>> [(k, round(v, 3)) for k, v in c.top(2, at_ms=1000)]
[('a', 1.5), ('b', 1.0)]
"""

from __future__ import annotations

import heapq

# How fast "popular now" forgets: the trending source and the popular items of categories.
POPULARITY_HALF_LIFE_MS = 6 * 3600 * 1000.0


class DecayedCounter:
    def __init__(self, half_life_ms: float, max_keys: int = 100_000) -> None:
        self.half_life_ms = half_life_ms
        self.max_keys = max_keys
        self._scores: dict[str, float] = {}
        self._landmark: int | None = None
        self.latest_ms = 0  # the latest event time added

    def __len__(self) -> int:
        return len(self._scores)

    def add(self, key: str, weight: float, ts_ms: int) -> None:
        if self._landmark is None:
            self._landmark = ts_ms
        self.latest_ms = max(self.latest_ms, ts_ms)
        exponent = (ts_ms - self._landmark) / self.half_life_ms
        if exponent > 60:
            self._rescale(ts_ms)
            exponent = 0.0
        self._scores[key] = self._scores.get(key, 0.0) + weight * 2.0**exponent
        if len(self._scores) > 2 * self.max_keys:
            keep = heapq.nlargest(self.max_keys, self._scores.items(), key=lambda kv: kv[1])
            self._scores = dict(keep)

    def top(self, k: int, at_ms: int) -> list[tuple[str, float]]:
        """The ``k`` largest counts, decayed to ``at_ms``."""
        if self._landmark is None:
            return []
        # Far before the landmark the true factor overflows a float; ranks do not change, so
        # the factor is capped there.
        exponent = max(-1000.0, min(1000.0, -(at_ms - self._landmark) / self.half_life_ms))
        factor = 2.0**exponent
        best = heapq.nlargest(k, self._scores.items(), key=lambda kv: kv[1])
        return [(key, score * factor) for key, score in best]

    def order_key(self, key: str) -> float:
        """A number that orders keys as their decayed counts do, at any time (0 if unknown)."""
        return self._scores.get(key, 0.0)

    def _rescale(self, ts_ms: int) -> None:
        landmark = ts_ms if self._landmark is None else self._landmark
        factor = 2.0 ** (-(ts_ms - landmark) / self.half_life_ms)
        self._scores = {k: v * factor for k, v in self._scores.items() if v * factor > 1e-12}
        self._landmark = ts_ms


class CategoryPopularity:
    """What is popular right now within each category: one :class:`DecayedCounter` a category,
    each holding its ``per_category`` most popular items (up to twice as many between prunes).

    >>> p = CategoryPopularity(half_life_ms=1000)
    >>> p.add("mugs", "m1", 1.0, 0); p.add("mugs", "m2", 1.0, 1000); p.add("tea", "t1", 1.0, 0)
    >>> [(k, round(v, 3)) for k, v in p.top("mugs", 5)]
    [('m2', 1.0), ('m1', 0.5)]
    >>> p.top("unknown", 5)
    []
    """

    def __init__(self, half_life_ms: float, per_category: int = 100) -> None:
        self.half_life_ms = half_life_ms
        self.per_category = per_category
        self._counts: dict[str, DecayedCounter] = {}
        # A category's top items as last asked for, until its next event: the lists of a batch
        # ask for the same few categories many times.
        self._tops: dict[str, list[tuple[str, float]]] = {}

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, category: str, item: str, weight: float, ts_ms: int) -> None:
        counter = self._counts.get(category)
        if counter is None:
            counter = self._counts[category] = DecayedCounter(self.half_life_ms, self.per_category)
        counter.add(item, weight, ts_ms)
        self._tops.pop(category, None)

    def top(self, category: str, k: int) -> list[tuple[str, float]]:
        """The category's ``k`` most popular items with their counts, decayed to the category's
        latest event: a category's counts compare with each other, not with another's."""
        known = self._tops.get(category)
        if known is not None and (len(known) >= k or len(known) == len(self._counts[category])):
            return known[:k]
        counter = self._counts.get(category)
        if counter is None:
            return []
        self._tops[category] = found = counter.top(k, counter.latest_ms)
        return found
