"""Read the running totals a worker keeps in Redis."""

from __future__ import annotations

from redis.exceptions import RedisError

from core.errors import ServiceError
from core.settings import Settings
from feature_store.clients import redis_client
from feature_store.counts import BatchCounts, RedisCountStore
from feature_store.keys import Keys


async def read_totals(settings: Settings) -> BatchCounts:
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        return await RedisCountStore(client, Keys(settings.redis_prefix)).totals()
    except (RedisError, OSError) as exc:
        raise ServiceError(f"cannot read totals from Redis at {settings.redis_url}: {exc}") from exc
    finally:
        await client.aclose()
