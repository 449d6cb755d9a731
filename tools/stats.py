"""Read the running totals a worker keeps in Redis."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.errors import ServiceError
from core.settings import Settings
from feature_store.counts import BatchCounts, RedisCountStore
from feature_store.keys import Keys


async def read_totals(settings: Settings) -> BatchCounts:
    client = aioredis.from_url(settings.redis_url)
    try:
        return await RedisCountStore(client, Keys(settings.redis_prefix)).totals()
    except (RedisError, OSError) as exc:
        raise ServiceError(f"cannot read totals from Redis at {settings.redis_url}: {exc}") from exc
    finally:
        await client.aclose()
