"""The ingest step of a worker: validate a micro-batch, dead-letter the bad, count the good.

:class:`BatchProcessor` holds the logic and talks to two seams, a :class:`DeadLetterSink` and a
:class:`~feature_store.counts.CountStore`; :class:`IngestResources` builds their real adapters
(aiokafka, Redis) for the worker. The batch returns only after the dead letters are acknowledged
by Kafka and the counts by Redis, so the agent acks (and Faust commits) offsets after both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from feature_store.counts import BatchCounts, CountStore, RedisCountStore
from feature_store.keys import Keys
from streams.deadletter import RawMessage, encode_dead_letter
from streams.errors import ServiceError
from streams.metrics import Metrics
from streams.producer import new_producer, start_producer
from streams.retry import until_done
from streams.settings import Settings
from streams.topics import Topics
from streams.triage import triage

log = logging.getLogger(__name__)


class DeadLetterSink(Protocol):
    async def publish(self, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Send ``(key, value)`` pairs; return once every one is acknowledged."""


class KafkaDeadLetterSink:
    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = new_producer(self.settings, client_id="pulse-dead-letter")
        await start_producer(self.producer, self.settings)

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def publish(self, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
        if self.producer is None:
            raise ServiceError("the dead-letter producer is not started")
        producer = self.producer
        futures = [await producer.send(self.topic, value=v, key=k) for k, v in messages]
        await asyncio.gather(*futures)


class BatchProcessor:
    def __init__(
        self, topics: Topics, dead_letters: DeadLetterSink, counts: CountStore, metrics: Metrics
    ) -> None:
        self.topics = topics
        self.dead_letters = dead_letters
        self.counts = counts
        self.metrics = metrics
        metrics.describe("pulse_events_processed_total", "Valid events processed, by kind.")
        metrics.describe("pulse_events_dead_lettered_total", "Messages dead-lettered, by code.")
        metrics.describe("pulse_batches_total", "Micro-batches processed.")

    async def process(self, messages: Sequence[RawMessage]) -> BatchCounts:
        result = triage(messages, self.topics)
        if result.dead_letters:
            payloads = [(m.key, encode_dead_letter(r)) for m, r in result.dead_letters]
            await until_done(
                lambda: self.dead_letters.publish(payloads),
                f"publishing {len(payloads)} dead letters",
                retry_on=(KafkaError, ServiceError, OSError),
            )
        await until_done(
            lambda: self.counts.add(result.counts),
            "writing batch counts to Redis",
            retry_on=(RedisError, OSError),
        )
        for kind, n in result.counts.processed.items():
            self.metrics.inc("pulse_events_processed_total", "kind", kind, n)
        for code, n in result.counts.dead_lettered.items():
            self.metrics.inc("pulse_events_dead_lettered_total", "code", code, n)
        self.metrics.inc("pulse_batches_total")
        return result.counts


class IngestResources:
    """The real adapters of a worker: a Redis client and the dead-letter producer."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.redis = aioredis.from_url(settings.redis_url)
        topics = Topics.from_settings(settings)
        self.dead_letters = KafkaDeadLetterSink(settings, topics.dead_letter)
        self.count_store = RedisCountStore(self.redis, Keys(settings.redis_prefix))
        self.processor = BatchProcessor(topics, self.dead_letters, self.count_store, metrics)
        self._started = False
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self._started:
                return
            try:
                await self.redis.ping()
            except (RedisError, OSError) as exc:
                raise ServiceError(
                    f"cannot reach Redis at {self.settings.redis_url}: {exc}; "
                    "start it with `infra/stack.sh up` or set PULSE_REDIS_URL"
                ) from exc
            await self.dead_letters.start()
            self._started = True

    async def stop(self) -> None:
        async with self._lock:
            if not self._started:
                return
            self._started = False
            await self.dead_letters.stop()
            await self.redis.aclose()
