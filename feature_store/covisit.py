"""Item-item co-visitation weights in Redis sorted sets, updated online, bounded per item."""

from __future__ import annotations

import random
from collections.abc import Iterable

from feature_store.clients import Pipeline, RedisClient
from feature_store.keys import Keys


class CovisitStore:
    def __init__(
        self, client: RedisClient, keys: Keys, max_neighbours: int = 100, trim_every: int = 16
    ) -> None:
        self.client = client
        self.keys = keys
        self.max_neighbours = max_neighbours
        # An item's set is trimmed back to max_neighbours on about one update in trim_every,
        # so it holds at most about max_neighbours + trim_every * (pairs per update) members.
        self.trim_every = trim_every
        self._rng = random.Random(0)

    async def neighbours(
        self, items: Iterable[str], n: int = 30
    ) -> dict[str, list[tuple[str, float]]]:
        wanted = sorted(set(items))
        if not wanted:
            return {}
        async with self.client.pipeline(transaction=False) as pipe:
            for item in wanted:
                pipe.zrevrange(self.keys.covisit(item), 0, n - 1, withscores=True)
            rows = await pipe.execute()
        return {
            item: [(m.decode() if isinstance(m, bytes) else m, float(s)) for m, s in row]
            for item, row in zip(wanted, rows, strict=True)
            if row
        }

    def add(self, pipe: Pipeline, pairs: dict[tuple[str, str], float]) -> None:
        """Queue ``(a, b) -> weight`` increments, both directions, and trim touched items."""
        touched: set[str] = set()
        for (a, b), weight in pairs.items():
            pipe.zincrby(self.keys.covisit(a), weight, b)
            pipe.zincrby(self.keys.covisit(b), weight, a)
            touched.update((a, b))
        for item in touched:
            if self._rng.randrange(self.trim_every) == 0:
                pipe.zremrangebyrank(self.keys.covisit(item), 0, -(self.max_neighbours + 1))
