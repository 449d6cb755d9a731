"""The Redis clients Pulse runs on: one Redis, or a Redis Cluster (every store takes either)."""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline as RedisPipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster

RedisClient: TypeAlias = aioredis.Redis | RedisCluster
Pipeline: TypeAlias = RedisPipeline | ClusterPipeline


# Connections to one Redis, and how long a command waits for one when all are busy: beyond
# the pool a burst of reads queues (``GET /search`` at 500/s holds hundreds in flight) instead
# of failing at once with "Too many connections", as redis-py's default pool does past 100.
MAX_CONNECTIONS = 100
CONNECTION_WAIT_S = 5.0


def redis_client(url: str, cluster: bool = False) -> RedisClient:
    """A client of the Redis at ``url``, or of the Redis Cluster one of whose nodes it names
    (its pools per node are not bounded)."""
    if cluster:
        return RedisCluster.from_url(url)
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=CONNECTION_WAIT_S
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes its pool
