"""The Redis clients Pulse runs on: one Redis, or a Redis Cluster (every store takes either)."""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline as RedisPipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster

RedisClient: TypeAlias = aioredis.Redis | RedisCluster
Pipeline: TypeAlias = RedisPipeline | ClusterPipeline


def redis_client(url: str, cluster: bool = False) -> RedisClient:
    """A client of the Redis at ``url``, or of the Redis Cluster one of whose nodes it names."""
    return RedisCluster.from_url(url) if cluster else aioredis.from_url(url)
