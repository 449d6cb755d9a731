"""The Redis clients Pulse runs on: one Redis, or a Redis Cluster (every store takes either)."""

from __future__ import annotations

from typing import Any, TypeAlias

import hiredis
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


class HiredisPackedConnection(aioredis.Connection):
    """A connection that packs commands with hiredis (compiled) as redis-py's synchronous
    connections do; its asyncio ones pack in Python (redis/redis-py#4176), about 2 µs a
    command of the worker's event loop (0.3-0.4 µs here). The same bytes: a command hiredis
    would pack differently (a first word with a space in it, as in "CONFIG GET") or not at
    all (a type redis-py refuses, such as a bool), and every command of a client whose
    encoding is not strict UTF-8, take redis-py's own packing, and with it its errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        encoder = self.encoder
        self._utf8 = (
            encoder.encoding.lower() in ("utf-8", "utf8") and encoder.encoding_errors == "strict"
        )

    def pack_command(self, *args: Any) -> list[bytes]:
        head = args[0]
        if isinstance(head, str):
            plain = " " not in head
        else:
            plain = isinstance(head, bytes) and b" " not in head
        if plain and self._utf8:
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass
        return super().pack_command(*args)


def redis_client(url: str, cluster: bool = False) -> RedisClient:
    """A client of the Redis at ``url``, or of the Redis Cluster one of whose nodes it names
    (its pools per node are not bounded)."""
    if cluster:
        return RedisCluster.from_url(url)
    # (a unix:// or rediss:// address brings its own connection class, packing in Python)
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=CONNECTION_WAIT_S,
        connection_class=HiredisPackedConnection,
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes its pool
