"""Exploration: Thompson sampling over arms (candidate sources or categories). Pure.

Each arm keeps a Beta(1 + clicks, 1 + impressions - clicks) posterior of its click rate; to fill
an exploration slot, one click rate is drawn per arm and the arm with the highest draw wins, so
arms that are promising or still uncertain get tried, and proven losers fade out.

>>> t = ThompsonSampler(["similar", "trending"])
>>> t.update("similar", clicked=True); t.update("trending", clicked=False)
>>> t.posterior("similar"), t.posterior("trending")
((2.0, 1.0), (1.0, 2.0))
"""

from __future__ import annotations

import random
from collections.abc import Iterable


class ThompsonSampler:
    def __init__(self, arms: Iterable[str], prior: tuple[float, float] = (1.0, 1.0)) -> None:
        self.prior = prior
        self.clicks: dict[str, float] = {arm: 0.0 for arm in arms}
        self.impressions: dict[str, float] = {arm: 0.0 for arm in self.clicks}

    def posterior(self, arm: str) -> tuple[float, float]:
        a, b = self.prior
        return a + self.clicks[arm], b + self.impressions[arm] - self.clicks[arm]

    def update(self, arm: str, clicked: bool) -> None:
        """One impression of ``arm``, clicked or not."""
        self.record_impression(arm)
        if clicked:
            self.record_click(arm)

    def record_impression(self, arm: str) -> None:
        """``arm`` was shown; its click, if one comes, is recorded later by :meth:`record_click`."""
        if arm in self.impressions:
            self.impressions[arm] += 1.0

    def record_click(self, arm: str) -> None:
        if arm in self.clicks:
            self.clicks[arm] += 1.0

    def set_counts(self, impressions: dict[str, float], clicks: dict[str, float]) -> None:
        """Replace the counts (with totals shared by several samplers); unknown arms ignored."""
        for arm in self.clicks:
            self.impressions[arm] = impressions.get(arm, 0.0)
            self.clicks[arm] = clicks.get(arm, 0.0)

    def choose(self, rng: random.Random, arms: Iterable[str] | None = None) -> str:
        candidates = list(arms) if arms is not None else list(self.clicks)
        draws = {arm: rng.betavariate(*self.posterior(arm)) for arm in candidates}
        return max(draws, key=draws.__getitem__)

    def mean(self, arm: str) -> float:
        a, b = self.posterior(arm)
        return a / (a + b)


def exploration_slots(k: int, share: float) -> int:
    """How many of ``k`` slots are reserved for exploration (at least one when share > 0)."""
    if share <= 0 or k <= 0:
        return 0
    return min(k, max(1, round(k * share)))
