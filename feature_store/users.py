"""Shopper state in Redis, with a write-through cache of the shoppers this worker owns.

One shopper's events all land on one partition, so one worker owns a shopper at a time and may
keep the state in memory; every write goes to Redis in the batch's pipeline. The cache is
cleared when partitions are reassigned.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from feature_store.keys import Keys
from feature_store.user_state import UserState, decode, encode


class UserStore:
    def __init__(
        self, client: aioredis.Redis, keys: Keys, dim: int, ttl_s: int, cache_size: int = 200_000
    ) -> None:
        self.client = client
        self.keys = keys
        self.dim = dim
        self.ttl_s = ttl_s
        self.cache_size = cache_size
        self._cache: OrderedDict[str, UserState] = OrderedDict()

    def clear_cache(self) -> None:
        self._cache.clear()

    async def load(self, user_ids: Iterable[str]) -> dict[str, UserState]:
        """States of ``user_ids``: from the cache, else Redis (one pipeline), else new."""
        out: dict[str, UserState] = {}
        missing: list[str] = []
        for uid in user_ids:
            state = self._cache.get(uid)
            if state is None:
                missing.append(uid)
            else:
                out[uid] = state
        if missing:
            async with self.client.pipeline(transaction=False) as pipe:
                for uid in missing:
                    pipe.get(self.keys.user(uid))
                blobs = await pipe.execute()
            for uid, blob in zip(missing, blobs, strict=True):
                out[uid] = decode(blob) if blob else UserState.new(self.dim)
        return out

    def write(self, pipe: Pipeline, states: dict[str, UserState]) -> None:
        """Queue the states' writes on ``pipe`` and update the cache (after ``execute``)."""
        for uid, state in states.items():
            pipe.set(self.keys.user(uid), encode(state), ex=self.ttl_s)

    def remember(self, states: dict[str, UserState]) -> None:
        for uid, state in states.items():
            self._cache[uid] = state
            self._cache.move_to_end(uid)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def write_recommendations(
        self, pipe: Pipeline, user_id: str, message: dict[str, object]
    ) -> None:
        pipe.set(self.keys.recommendations(user_id), orjson.dumps(message), ex=self.ttl_s)

    async def recommendations(self, user_id: str) -> dict[str, object] | None:
        blob = await self.client.get(self.keys.recommendations(user_id))
        return orjson.loads(blob) if blob else None
