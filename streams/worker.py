"""One Pulse worker: it owns its parts and offers named operations to the agents and views.

Parts: the Redis client and stores, the Kafka producers (one for what the worker publishes, one
for ``POST /events``), and when personalising, the encoder, the item index with its catalogue
follower and the personalisation pipeline. ``streams.app.WorkerService`` ties their start and stop
to the Faust app's lifecycle. A personalising worker also owns the trend subjects of the
observations topic's partitions it holds (``streams.trend_owner``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from core.deadletter import RawMessage
from core.errors import HaltError, ServiceError
from core.events import Event, EventKind
from core.forget import Forget, encode_forget
from core.metrics import Metrics
from core.retry import Faults, until_done
from core.settings import Settings, admin_token_problem
from core.supervisor import Supervisor
from core.topics import Topics
from encoders.service import EncoderService
from feature_store.clients import redis_client
from feature_store.counts import BatchCounts, RedisCountStore
from feature_store.keys import Keys
from feature_store.offsets import RedisOffsets
from feature_store.stores import redis_stores
from feature_store.trend_state import TrendStateStore
from feature_store.writes import RedisBatchWriter, redis_transient
from personalisation import serving
from personalisation.configs import ranking_configs, trend_tracker
from personalisation.forget import erase, stored_about
from personalisation.pipeline import Personaliser
from personalisation.search import search_items
from personalisation.serving import ListFilter
from ranking.item_index import ItemIndex
from ranking.search import SearchConfig
from streams.admin import topic_partitions
from streams.batch import BatchProcessor
from streams.catalog import CatalogFollower, dead_letter_owned
from streams.forget import ForgetFollower
from streams.producer import EventProducer, KafkaSink
from streams.trend_owner import TrendOwner
from trends.exchange import Router

log = logging.getLogger(__name__)
T = TypeVar("T")
CATALOGUE = "catalogue"
FORGET = "forget"
# What a forget request's answer promises: every worker has applied it by then.
FORGET_WITHIN_MS = 1_000


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self.metrics = Metrics()
        # Transient failures going on now (GET /health, metrics).
        self.faults = Faults(self.metrics)
        # Background tasks (the catalogue follower), restarted after an error.
        self.supervisor = Supervisor(self.metrics)
        # Why the worker stopped processing, after a permanent failure it cannot get past.
        self.halted: str | None = None
        self.cluster = settings.redis_cluster
        self.redis = redis_client(settings.redis_url, self.cluster)
        self.keys = Keys(settings.redis_prefix)
        self.sink = KafkaSink(settings)
        self.producer = EventProducer(settings, client_id="pulse-http-ingest")
        # Input offsets applied to Redis: written with every batch, read to skip redeliveries.
        self.offsets = RedisOffsets(self.redis, self.keys)
        counts = RedisCountStore(self.redis, self.keys)  # alone until personalising starts
        writer = RedisBatchWriter(self.redis, counts, offsets=self.offsets, cluster=self.cluster)
        self.processor = BatchProcessor(
            self.topics,
            self.sink,
            writer,
            self.metrics,
            max_ahead_ms=int(settings.max_event_ahead_seconds * 1000),
            applied=self.offsets,
            faults=self.faults,
        )
        self.encoder: EncoderService | None = None
        self.personaliser: Personaliser | None = None
        self.follower: CatalogFollower | None = None
        # The input partitions the consumer group gives this worker (set by the app).
        self.assignment: Callable[[], Collection[Any]] = tuple
        self.forgets: ForgetFollower | None = None
        self.trend_owner: TrendOwner | None = None
        self._started = False
        self._lock = asyncio.Lock()
        # Held while a batch is processed: a forget request is applied between batches.
        self._batch = asyncio.Lock()
        # Called by the agents after each batch (the command line's worker: core.heap.BatchHeap).
        self.after_batch: Callable[[], None] = lambda: None

    async def start(self) -> None:
        async with self._lock:
            if self._started:
                return
            refused = admin_token_problem(self.settings)
            if refused is not None:
                raise ServiceError(f"the worker does not start: {refused}")
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
            await self.producer.start()
            self._started = True

    async def _start_personalisation(self) -> None:
        settings = self.settings
        self.encoder = EncoderService(settings, self.metrics)
        log.info("encoder: %s", self.encoder.description)
        index = ItemIndex(self.encoder.model.dim)
        stores = redis_stores(
            self.redis,
            self.keys,
            index.dim,
            ttl_s=int(settings.user_ttl_days * 86_400),
            offsets=self.offsets,
            cluster=self.cluster,
        )
        profile, ranking = ranking_configs(settings)
        if settings.trends:
            observed = self.topics.trend_observations
            self.trend_owner = TrendOwner(
                TrendStateStore(self.redis, self.keys),
                lambda: trend_tracker(settings, index),
                self.sink,
                self.topics,
                len(await topic_partitions(settings, observed)),
                metrics=self.metrics,
                faults=self.faults,
            )
        self.personaliser = Personaliser(
            index,
            stores,
            self.encoder,
            profile=profile,
            ranking=ranking,
            trends=trend_tracker(settings, index) if settings.trends else None,
            trend_router=Router(self.trend_owner.partitions) if self.trend_owner else None,
            publisher=self.sink,
            topics=self.topics,
            metrics=self.metrics,
            faults=self.faults,
            forget_keep_ms=settings.forget_keep_days * 86_400_000,
        )
        self.processor.writer = stores.writer
        self.processor.personaliser = self.personaliser
        self.follower = CatalogFollower(
            settings,
            index,
            self.encoder,
            self.redis,
            self.keys,
            self.encoder.model_tag,
            self.metrics,
            faults=self.faults,
            on_failed=dead_letter_owned(
                lambda: self.assignment(), self.sink, self.topics.dead_letter, self.faults
            ),
        )
        self.supervisor.start(CATALOGUE, self.follower.run)
        self.forgets = ForgetFollower(settings, self.apply_forgets)
        self.supervisor.start(FORGET, self.forgets.run)

    async def stop(self) -> None:
        async with self._lock:
            if not self._started:
                return
            self._started = False
            await self.producer.stop()
            await self.supervisor.stop()
            if self.encoder is not None:
                await self.encoder.close()
            await self.sink.stop()
            await self.redis.aclose()

    # For the agents.

    async def wait_ready(self) -> None:
        """Until the catalogue is loaded (so first events find their items) and the deletions
        the forget topic keeps are known (so no event brings a forgotten shopper back)."""
        for follower in (self.follower, self.forgets):
            if follower is not None:
                await follower.ready.wait()

    @property
    def is_ready(self) -> bool:
        if not self._started:
            return False
        return all(
            follower is None or (follower.ready.is_set() and self.supervisor.alive(name))
            for name, follower in ((CATALOGUE, self.follower), (FORGET, self.forgets))
        )

    async def process(self, messages: Sequence[RawMessage]) -> BatchCounts:
        """One micro-batch, written and published before this returns.

        Transient failures are retried inside; a permanent one that no dead letter can take
        (Redis out of memory, a message Kafka refuses for good) halts the worker: it raises
        :class:`HaltError`, processes nothing more, and ``GET /health`` says why.
        """
        async with self._batch:
            return await self._halting(lambda: self.processor.process(messages))

    async def process_trends(self, messages: Sequence[RawMessage]) -> None:
        """A batch of trend shipments (``streams.trend_owner``), halting as :meth:`process`."""
        owner = self.trend_owner
        if owner is not None:
            await self._halting(lambda: owner.process(messages))

    async def _halting(self, step: Callable[[], Awaitable[T]]) -> T:
        if self.halted is not None:
            raise HaltError(self.halted)
        try:
            return await step()
        except Exception as exc:
            self.halted = f"{type(exc).__name__}: {exc}"[:1000]
            log.critical(
                "the worker stops processing: %s. Its offsets stay uncommitted: fix the cause "
                "and restart it to go on from the batch that failed.",
                self.halted,
                exc_info=exc,
            )
            raise HaltError(self.halted) from exc

    def partitions_revoked(self) -> None:
        """Another worker may own these shoppers now: read them from Redis from here on."""
        self.offsets.forget()
        if self.trend_owner is not None:
            self.trend_owner.revoked()
        if self.personaliser is not None:
            self.personaliser.stores.users.clear_cache()

    # For the views.

    @property
    def personalising(self) -> bool:
        return self.personaliser is not None

    @property
    def trending(self) -> bool:
        return self.personaliser is not None and self.personaliser.trends is not None

    def prepare_event(
        self, kind: EventKind, event: Mapping[str, Any]
    ) -> tuple[bytes, bytes, Event]:
        return self.producer.prepare(kind, event)

    async def send_events(
        self, messages: list[tuple[EventKind, bytes, bytes]]
    ) -> list[BaseException | None]:
        return await self.producer.send_each(messages)

    async def recommendations(
        self, user_id: str, k: int, rules: ListFilter | None = None
    ) -> dict[str, Any]:
        """The shopper's list under ``rules`` (``personalisation.serving``), or trending items
        at once for a shopper Pulse has not seen yet. ServiceError when Redis does not answer."""
        rules = rules or ListFilter()
        return await self._read(lambda p: serving.recommendations(p, user_id, k, rules))

    async def recommendations_many(
        self, user_ids: list[str], k: int, rules: ListFilter
    ) -> list[dict[str, Any]]:
        """:meth:`recommendations` of each shopper, in order (the stored lists in one trip)."""
        return await self._read(lambda p: serving.recommendations_many(p, user_ids, k, rules))

    async def similar_items(self, item_id: str, k: int) -> list[dict[str, Any]]:
        """Items like ``item_id`` (KeyError when the catalogue does not hold it)."""
        return await self._read(lambda p: serving.similar_items(p, item_id, k))

    async def search(
        self, query: str, k: int, user_id: str | None, rules: ListFilter, strength: float
    ) -> dict[str, Any]:
        """Items for ``query``, ordered for ``user_id`` (``personalisation.search``)."""
        cfg = SearchConfig(strength=strength)
        return await self._read(lambda p: search_items(p, query, k, cfg, user_id, rules))

    async def forget(self, user_id: str) -> dict[str, Any]:
        """Forget the shopper everywhere: the request goes to the forget topic (every worker
        applies it), and what Redis holds about them is erased now. ServiceError when Kafka
        does not take the request (nothing is forgotten then; the caller may retry)."""
        personaliser = self._personaliser()
        at_ms = int(time.time() * 1000)
        try:
            await self.sink.publish(self.topics.forget, [encode_forget(Forget(user_id, at_ms))])
        except Exception as exc:
            raise ServiceError(f"the forget request did not reach Kafka: {exc!r}") from exc
        try:
            await erase(personaliser.stores, user_id)
        except (RedisError, OSError) as exc:
            # Recorded in Kafka: every worker erases once Redis is back.
            log.warning("erasing %r now failed (the workers retry): %r", user_id, exc)
        return {
            "user_id": user_id,
            "forgotten_at": at_ms,
            # Every worker applies the request within its poll and the batch in flight.
            "complete_by": at_ms + FORGET_WITHIN_MS,
            "events_forgotten": f"those that happened at or before {at_ms} (ms since epoch)",
        }

    async def apply_forgets(self, requests: list[Forget]) -> None:
        """Forget requests (a poll's), between batches: in process, then in Redis."""
        personaliser = self._personaliser()
        async with self._batch:
            for r in requests:
                personaliser.forget(r.user_id, r.at_ms)
            await until_done(
                lambda: erase(personaliser.stores, *(r.user_id for r in requests)),
                f"erasing {len(requests)} shoppers",
                transient=redis_transient,
                faults=self.faults,
                part="redis",
            )

    async def stored_about(self, user_id: str) -> dict[str, Any]:
        """What Pulse holds about the shopper (a data access request)."""
        stored = await self._read(lambda p: stored_about(p.stores, user_id))
        forgotten = self._personaliser().forgotten.at.get(user_id)
        return {"user_id": user_id, **stored, "forgotten_at": forgotten}

    async def trends(self, kind: str, limit: int) -> dict[str, Any]:
        """Every owner's latest signals of ``kind`` and the shop's peak profiles."""
        owner, tracker = self.trend_owner, self._personaliser().trends
        if owner is None or tracker is None:
            raise ServiceError("this worker runs without trends (PULSE_TRENDS=false)")
        return await self._read(lambda p: owner.summary(kind, limit, tracker, p.stores.signals))

    async def health(self) -> dict[str, Any]:
        """Whether Redis and Kafka answer now, the input partitions, whether the worker is
        ready (its parts alive, the catalogue loaded), and what is failing or halted."""
        redis_ok, kafka_ok = await asyncio.gather(self._redis_answers(), self._kafka_answers())
        inputs = set(self.topics.inputs)
        ok = redis_ok and kafka_ok and self.halted is None
        return {
            "status": "ok" if ok else ("halted" if self.halted else "degraded"),
            "redis": redis_ok,
            "kafka": kafka_ok,
            # Input partitions this worker consumes now (0 until the group has assigned it).
            "partitions": sum(tp.topic in inputs for tp in self.assignment()),
            "trend_partitions": sorted(
                tp.partition
                for tp in self.assignment()
                if tp.topic == self.topics.trend_observations
            ),
            # The catalogue is loaded and its follower alive: events are being processed.
            "ready": self.is_ready and self.halted is None,
            "failing": self.faults.now(),
            "tasks": self.supervisor.report(),
            "halted": self.halted,
        }

    async def _redis_answers(self) -> bool:
        try:
            await asyncio.wait_for(self.redis.ping(), timeout=2.0)
        except (RedisError, OSError, TimeoutError):
            return False
        return True

    async def _kafka_answers(self) -> bool:
        producer = self.sink.producer
        if producer is None:
            return False
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=2.0)
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    async def _read(self, call: Callable[[Personaliser], Awaitable[T]]) -> T:
        """A read of the personaliser's stores; ServiceError when Redis does not answer."""
        personaliser = self._personaliser()
        try:
            return await call(personaliser)
        except (RedisError, OSError) as exc:
            raise ServiceError(str(exc)) from exc

    def _personaliser(self) -> Personaliser:
        if self.personaliser is None:
            raise ServiceError("this worker runs with PULSE_PERSONALISE=false")
        return self.personaliser
