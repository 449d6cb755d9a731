"""The latest trend signals of every worker, by kind, for ``GET /trends`` on any worker.

One Redis list per kind, newest first, trimmed to ``keep`` signals; written in the batch's
pipeline with the rest of its writes.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from feature_store.keys import Keys


class TrendSignalStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, keep: int = 100) -> None:
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
