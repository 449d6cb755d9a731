"""The latest trend signals of every worker, by kind, for ``GET /trends`` on any worker.

One Redis list per kind, newest first, trimmed to ``keep`` signals; written in the batch's
pipeline with the rest of its writes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson

from feature_store.clients import Pipeline, RedisClient
from feature_store.keys import Keys

# The one kind of signal whose subject is a shopper.
SHOPPER_KIND = "intent_shift"


class TrendSignalStore:
    def __init__(self, client: RedisClient, keys: Keys, keep: int = 100) -> None:
        self.client = client
        self.keys = keys
        self.keep = keep

    def add(self, pipe: Pipeline, signals: list[dict[str, Any]]) -> None:
        for kind in sorted({s["kind"] for s in signals}):
            newest_last = [orjson.dumps(s) for s in signals if s["kind"] == kind]
            pipe.lpush(self.keys.trend_signals(kind), *newest_last)
            pipe.ltrim(self.keys.trend_signals(kind), 0, self.keep - 1)

    async def latest(self, kind: str, limit: int) -> list[dict[str, Any]]:
        rows = await self.client.lrange(self.keys.trend_signals(kind), 0, limit - 1)
        return [orjson.loads(row) for row in rows]

    async def naming(self, user_id: str) -> list[dict[str, Any]]:
        """The kept signals about the shopper (intent shifts: their subject is a shopper)."""
        return [s for _, s in await self._naming({user_id})]

    async def scrub(self, user_ids: Collection[str]) -> int:
        """Remove the kept signals about the shoppers; how many were removed. LREM takes each
        exact row, so signals other workers push meanwhile stay."""
        rows = await self._naming(user_ids)
        if not rows:
            return 0
        key = self.keys.trend_signals(SHOPPER_KIND)
        async with self.client.pipeline(transaction=False) as pipe:
            for raw, _ in rows:
                pipe.lrem(key, 0, raw)  # type: ignore[arg-type]
            removed = await pipe.execute()
        return int(sum(removed))

    async def _naming(self, user_ids: Collection[str]) -> list[tuple[bytes | str, dict[str, Any]]]:
        rows = await self.client.lrange(self.keys.trend_signals(SHOPPER_KIND), 0, -1)
        parsed = [(raw, orjson.loads(raw)) for raw in rows]
        return [(raw, s) for raw, s in parsed if s.get("subject") in user_ids]
