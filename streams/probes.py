"""Whether Redis and Kafka answer now, for ``GET /health`` (each within 2 s)."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from feature_store.clients import RedisClient
from streams.producer import KafkaSink


async def redis_answers(redis: RedisClient) -> bool:
    try:
        await asyncio.wait_for(redis.ping(), timeout=2.0)
    except (RedisError, OSError, TimeoutError):
        return False
    return True


async def kafka_answers(sink: KafkaSink) -> bool:
    producer = sink.producer
    if producer is None:
        return False
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=2.0)
    except (KafkaError, OSError, TimeoutError):
        return False
    return True
