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


class DecayedCounter:
    def __init__(self, half_life_ms: float, max_keys: int = 100_000) -> None:
        self.half_life_ms = half_life_ms
        self.max_keys = max_keys
        self._scores: dict[str, float] = {}
        self._landmark: int | None = None

    def __len__(self) -> int:
        return len(self._scores)

    def add(self, key: str, weight: float, ts_ms: int) -> None:
        if self._landmark is None:
            self._landmark = ts_ms
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
