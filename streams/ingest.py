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
from zoneinfo import ZoneInfo

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from encoders.service import EncoderService
from feature_store.bandit import BanditStore
from feature_store.counts import BatchCounts, CountStore, RedisCountStore
from feature_store.covisit import CovisitStore
from feature_store.item_index import ItemIndex
from feature_store.keys import Keys
from feature_store.repeats import RepeatStore
from feature_store.trend_signals import TrendSignalStore
from feature_store.users import UserStore
from streams.catalog import CatalogFollower
from streams.deadletter import RawMessage, dead_letter_record, encode_dead_letter
from streams.errors import InvalidEventError, ServiceError
from streams.metrics import Metrics
from streams.personalise import Outcome, Personaliser, ranking_configs
from streams.producer import new_producer, start_producer
from streams.retry import until_done
from streams.settings import Settings
from streams.topics import EventKind, Topics
from streams.triage import Triage, triage
from trends.tracker import TrendConfig, TrendTracker

log = logging.getLogger(__name__)


class Sink(Protocol):
    async def publish(self, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Send ``(key, value)`` pairs to ``topic``; return once every one is acknowledged."""


class KafkaSink:
    """The worker's producer for what it publishes: dead letters and recommendations."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = new_producer(self.settings, client_id="pulse-worker", linger_ms=1)
        await start_producer(self.producer, self.settings)

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def publish(self, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
        if self.producer is None:
            raise ServiceError("the worker's producer is not started")
        producer = self.producer
        futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
        await asyncio.gather(*futures)


class BatchProcessor:
    def __init__(
        self,
        topics: Topics,
        sink: Sink,
        counts: CountStore,
        metrics: Metrics,
        personalise: PersonaliseStep | None = None,
    ) -> None:
        self.topics = topics
        self.sink = sink
        self.counts = counts
        self.metrics = metrics
        self.personalise = personalise
        metrics.describe("pulse_events_processed_total", "Valid events processed, by kind.")
        metrics.describe("pulse_events_dead_lettered_total", "Messages dead-lettered, by code.")
        metrics.describe("pulse_batches_total", "Micro-batches processed.")
        metrics.describe("pulse_recommendations_published_total", "Lists published.")
        metrics.describe("pulse_trend_signals_total", "Trend signals published, by kind.")

    async def process(self, messages: Sequence[RawMessage]) -> BatchCounts:
        result = triage(messages, self.topics)
        if result.dead_letters:
            payloads = [(m.key, encode_dead_letter(r)) for m, r in result.dead_letters]
            await self._publish(self.topics.dead_letter, payloads, "dead letters")
        if self.personalise is None:
            await until_done(
                lambda: self.counts.add(result.counts),
                "writing batch counts to Redis",
                retry_on=(RedisError, OSError),
            )
        else:
            step = self.personalise
            events = [e for kind, e in result.valid if kind is not EventKind.CATALOG]
            try:
                outcome = await until_done(
                    lambda: step.personaliser.prepare(events, result.ingested_ms),  # type: ignore[arg-type]
                    "reading shopper state from Redis",
                    retry_on=(RedisError, OSError),
                )
            # A defect must not lose the batch: its user events go to the dead-letter topic
            # with the reason (to be replayed once fixed), the rest of the batch goes on.
            except Exception as exc:
                log.exception("personalisation failed; dead-lettering %d events", len(events))
                outcome = Outcome()
                await self._dead_letter_unprocessed(messages, result, exc)
            await until_done(
                lambda: step.commit(outcome, result.counts),
                "writing the batch to Redis",
                retry_on=(RedisError, OSError),
            )
            recs: list[tuple[bytes | None, bytes]] = [
                (uid.encode(), orjson.dumps(m)) for uid, m in outcome.messages
            ]
            signals: list[tuple[bytes | None, bytes]] = [
                (t["kind"].encode(), orjson.dumps(t)) for t in outcome.trends
            ]
            # Both topics at once: the batch waits for one round of acknowledgements.
            await asyncio.gather(
                self._publish(self.topics.recommendations, recs, "recommendations"),
                self._publish(self.topics.trends, signals, "trend signals"),
            )
            self.metrics.inc("pulse_recommendations_published_total", n=len(recs))
            for signal in outcome.trends:
                self.metrics.inc("pulse_trend_signals_total", "kind", signal["kind"])
            step.personaliser.committed(outcome)
        for kind, n in result.counts.processed.items():
            self.metrics.inc("pulse_events_processed_total", "kind", kind, n)
        for code, n in result.counts.dead_lettered.items():
            self.metrics.inc("pulse_events_dead_lettered_total", "code", code, n)
        self.metrics.inc("pulse_batches_total")
        return result.counts

    async def _dead_letter_unprocessed(
        self, messages: Sequence[RawMessage], result: Triage, exc: Exception
    ) -> None:
        error = InvalidEventError("processing_error", f"{type(exc).__name__}: {exc}"[:500])
        user_topics = {self.topics.for_kind(k) for k in EventKind if k is not EventKind.CATALOG}
        bad = {id(m) for m, _ in result.dead_letters}
        failed = [m for m in messages if m.topic in user_topics and id(m) not in bad]
        payloads = [(m.key, encode_dead_letter(dead_letter_record(m, error))) for m in failed]
        if payloads:
            await self._publish(self.topics.dead_letter, payloads, "unprocessed events")
        for kind in EventKind:
            if kind is not EventKind.CATALOG:
                result.counts.processed.pop(kind.value, None)
        result.counts.dead_lettered[error.code] += len(failed)

    async def _publish(
        self, topic: str, payloads: list[tuple[bytes | None, bytes]], what: str
    ) -> None:
        if not payloads:
            return
        await until_done(
            lambda: self.sink.publish(topic, payloads),
            f"publishing {len(payloads)} {what}",
            retry_on=(KafkaError, ServiceError, OSError),
        )


class PersonaliseStep:
    """The personaliser with the Redis pipeline that commits a batch in one round trip."""

    def __init__(
        self, personaliser: Personaliser, redis: aioredis.Redis, counts: RedisCountStore
    ) -> None:
        self.personaliser = personaliser
        self.redis = redis
        self.counts = counts

    async def commit(self, outcome: Outcome, counts: BatchCounts) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            self.counts.queue(pipe, counts)
            self.personaliser.queue_writes(pipe, outcome)
            await pipe.execute()


class IngestResources:
    """The real adapters of a worker: Redis, the worker's producer and, when personalising,
    the encoder, the item index with its catalogue follower, and the shopper stores."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.redis = aioredis.from_url(settings.redis_url)
        self.keys = Keys(settings.redis_prefix)
        self.topics = Topics.from_settings(settings)
        self.sink = KafkaSink(settings)
        self.count_store = RedisCountStore(self.redis, self.keys)
        self.processor = BatchProcessor(self.topics, self.sink, self.count_store, metrics)
        self.personaliser: Personaliser | None = None
        self.follower: CatalogFollower | None = None
        self.encoder: EncoderService | None = None
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
            await self.sink.start()
            if self.settings.personalise:
                await self._start_personalisation()
            self._started = True

    async def _start_personalisation(self) -> None:
        settings = self.settings
        self.encoder = EncoderService(settings, self.metrics)
        log.info("encoder: %s", self.encoder.description)
        index = ItemIndex(self.encoder.model.dim)
        users = UserStore(
            self.redis, self.keys, index.dim, ttl_s=int(settings.user_ttl_days * 86_400)
        )
        self.personaliser = Personaliser(
            index,
            users,
            CovisitStore(self.redis, self.keys),
            self.encoder,
            *ranking_configs(settings),
            metrics=self.metrics,
            repeats=RepeatStore(self.redis, self.keys),
            bandit=BanditStore(self.redis, self.keys),
            trends=trend_tracker(settings, index) if settings.trends else None,
            signals=TrendSignalStore(self.redis, self.keys),
        )
        self.processor.personalise = PersonaliseStep(
            self.personaliser, self.redis, self.count_store
        )
        self.follower = CatalogFollower(
            settings,
            index,
            self.encoder,
            self.redis,
            self.keys,
            self.encoder.model_tag,
            self.metrics,
        )
        await self.follower.start()

    @property
    def is_ready(self) -> bool:
        return self._started and (self.follower is None or self.follower.ready.is_set())

    async def wait_ready(self) -> None:
        """Until the catalogue is loaded (so first events find their items)."""
        if self.follower is not None:
            await self.follower.ready.wait()

    async def stop(self) -> None:
        async with self._lock:
            if not self._started:
                return
            self._started = False
            if self.follower is not None:
                await self.follower.stop()
            if self.encoder is not None:
                await self.encoder.close()
            await self.sink.stop()
            await self.redis.aclose()


def trend_tracker(settings: Settings, index: ItemIndex) -> TrendTracker:
    """The trend statistics of a worker, configured by ``settings``."""

    def title_of(item_id: str) -> str | None:
        info = index.info(item_id)
        return info.title if info else None

    cfg = TrendConfig(
        window_ms=int(settings.trend_window_seconds * 1000),
        min_support=settings.trend_min_support,
        min_ratio=settings.trend_min_ratio,
        min_z=settings.trend_min_z,
        warmup_windows=settings.trend_warmup_windows,
    )
    return TrendTracker(cfg, ZoneInfo(settings.shop_timezone), title_of)
