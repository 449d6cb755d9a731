"""How often each item is bought again by a shopper who bought it before, learned online.

Two Redis hashes: item -> purchase occasions, item -> repeat occasions (the shopper had bought
the item before, at an earlier time). A worker reads both in full at most every
``refresh_s`` seconds and adds its own increments meanwhile, so the ranking reads the rates
without a round trip.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from feature_store.clients import Pipeline, RedisClient
from feature_store.keys import Keys
from feature_store.periodic import Periodic

# Beta(1, 3) prior: an item nobody has bought twice yet starts at a 0.25 repeat rate.
PRIOR_REPEATS = 1.0
PRIOR_OCCASIONS = 4.0


def repeat_rate(occasions: float, repeats: float) -> float:
    return (repeats + PRIOR_REPEATS) / (occasions + PRIOR_OCCASIONS)


class RepeatCounts:
    """The counts in process; the base of the Redis store and the in-memory one."""

    def __init__(self) -> None:
        self.occasions: dict[str, float] = {}
        self.repeats: dict[str, float] = {}

    def count(self, increments: dict[str, tuple[int, int]]) -> None:
        for item, (occasions, repeats) in increments.items():
            self.occasions[item] = self.occasions.get(item, 0.0) + occasions
            self.repeats[item] = self.repeats.get(item, 0.0) + repeats

    def rates_now(self, items: Iterable[str]) -> dict[str, float]:
        return {
            item: repeat_rate(self.occasions.get(item, 0.0), self.repeats.get(item, 0.0))
            for item in items
        }


class RepeatStore(RepeatCounts):
    def __init__(
        self,
        client: RedisClient,
        keys: Keys,
        refresh_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.client = client
        self.keys = keys
        self.refresh_s = refresh_s
        self._refresh = Periodic(refresh_s, clock)

    async def rates(self, items: Iterable[str]) -> dict[str, float]:
        if self._refresh.due():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.keys.purchase_occasions)
                pipe.hgetall(self.keys.repeat_occasions)
                occasions, repeats = await pipe.execute()
            self.occasions = {k.decode(): float(v) for k, v in occasions.items()}
            self.repeats = {k.decode(): float(v) for k, v in repeats.items()}
        return self.rates_now(items)

    def add(self, pipe: Pipeline, increments: dict[str, tuple[int, int]]) -> None:
        """Queue ``item -> (occasions, repeats)`` increments (``remember`` them once written)."""
        for item, (occasions, repeats) in increments.items():
            if occasions:
                pipe.hincrby(self.keys.purchase_occasions, item, occasions)
            if repeats:
                pipe.hincrby(self.keys.repeat_occasions, item, repeats)

    def remember(self, increments: dict[str, tuple[int, int]]) -> None:
        """Count written increments here at once, before the next read of the totals."""
        self.count(increments)
