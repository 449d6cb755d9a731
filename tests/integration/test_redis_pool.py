"""The Redis client under a burst: more commands in flight than its pool has connections."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError

from core.settings import Settings
from feature_store.clients import MAX_CONNECTIONS, redis_client

pytestmark = pytest.mark.integration


async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing() -> None:
    client = redis_client(Settings().redis_url)
    key = f"it-pool-{uuid.uuid4().hex[:8]}"  # never written: each BLPOP waits its 0.2 s out
    try:
        burst = 2 * MAX_CONNECTIONS
        answers = await asyncio.wait_for(
            asyncio.gather(*(client.blpop([key], timeout=0.2) for _ in range(burst))), 30
        )
        assert answers == [None] * burst
    finally:
        await client.aclose()
    # redis-py's default pool of as many connections fails such a burst at once
    plain = aioredis.from_url(Settings().redis_url, max_connections=MAX_CONNECTIONS)
    try:
        with pytest.raises(ConnectionError, match="Too many connections"):
            await asyncio.gather(*(plain.blpop([key], timeout=0.2) for _ in range(burst)))
    finally:
        await plain.aclose()
