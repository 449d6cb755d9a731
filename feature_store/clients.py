"""The Redis clients Pulse runs on: one Redis, or a Redis Cluster (every store takes either)."""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline as RedisPipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster

RedisClient: TypeAlias = aioredis.Redis | RedisCluster
Pipeline: TypeAlias = RedisPipeline | ClusterPipeline
