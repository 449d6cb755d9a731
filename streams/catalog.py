"""Follow the whole catalogue topic in every worker, so each keeps a complete item index.

The Faust agent consumes only the partitions assigned to its worker; recommendations need
every item. So each worker also reads all catalogue partitions from the beginning with a
group-less consumer (the topic is compacted: this is the current catalogue), encodes item texts
in micro-batches, keeps the in-process index current and mirrors item attributes and vectors
to Redis. Invalid catalogue messages are skipped here: the agent dead-letters them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

import numpy as np
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from core.errors import InvalidEventError
from core.events import CatalogItem, CatalogRemoval, EventKind
from core.metrics import Metrics
from core.settings import Settings
from core.topics import Topics
from core.validation import parse
from encoders.pooling import Floats
from encoders.protocol import TextEncoder
from feature_store.keys import Keys
from ranking.item_index import ItemIndex, ItemInfo
from streams.admin import topic_partitions

log = logging.getLogger(__name__)


def item_text(item: CatalogItem) -> str:
    """What the encoder sees of an item: title, category path, start of the description."""
    parts = [item.title]
    if item.category:
        parts.append(item.category)
    if item.description:
        parts.append(item.description[:300])
    return ". ".join(parts)


class CatalogFollower:
    def __init__(
        self,
        settings: Settings,
        index: ItemIndex,
        encoder: TextEncoder,
        redis: aioredis.Redis,
        keys: Keys,
        model_tag: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        # Vectors in Redis made by this model from the same text are reused, not re-encoded.
        self.model_tag = model_tag
        self.metrics = metrics
        if metrics is not None:
            metrics.describe(
                "pulse_catalog_vectors_total",
                "Catalogue item vectors: encoded, or reused from Redis.",
            )
        self.topic = Topics.from_settings(settings).for_kind(EventKind.CATALOG)
        self.index = index
        self.encoder = encoder
        self.redis = redis
        self.keys = keys
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        partitions = await topic_partitions(self.settings, self.topic)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            client_id="pulse-catalog-follower",
        )
        await consumer.start()
        parts = [TopicPartition(self.topic, p) for p in partitions]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        self._consumer = consumer
        self._task = asyncio.get_running_loop().create_task(self._follow(ends))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _follow(self, ends: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        pending = {tp: end for tp, end in ends.items() if end > 0}
        if not pending:
            self.ready.set()
        while True:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=2_000)
            messages = [m for records in batch.values() for m in records]
            if messages:
                await self.apply(messages)
            if not self.ready.is_set():
                for tp in list(pending):
                    if await self._consumer.position(tp) >= pending[tp]:
                        del pending[tp]
                if not pending:
                    log.info("catalogue loaded: %d items", len(self.index))
                    self.ready.set()

    def _digest(self, text: str) -> str:
        return hashlib.sha1(f"{self.model_tag}\n{text}".encode()).hexdigest()[:16]

    async def _stored_vectors(self, digests: dict[str, str]) -> dict[str, Floats]:
        """Vectors already in Redis for these items, made by this model from the same text."""
        if not digests:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for item_id in digests:
                pipe.hmget(self.keys.item(item_id), "text_sha", "vector")
            rows = await pipe.execute()
        out: dict[str, Floats] = {}
        for (item_id, digest), (stored, blob) in zip(digests.items(), rows, strict=True):
            if stored is not None and blob and stored.decode() == digest:
                vector = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
                if vector.shape == (self.index.dim,):
                    out[item_id] = vector
        return out

    async def apply(self, messages: list[object]) -> None:
        items: dict[str, CatalogItem] = {}
        removed: set[str] = set()
        for m in messages:
            try:
                event = parse(EventKind.CATALOG, m.value, m.key)  # type: ignore[attr-defined]
            except InvalidEventError:
                continue
            if isinstance(event, CatalogRemoval):
                removed.add(event.item_id)
                items.pop(event.item_id, None)
            elif isinstance(event, CatalogItem):
                items[event.item_id] = event
                removed.discard(event.item_id)
        texts = {item_id: item_text(item) for item_id, item in items.items()}
        digests = {i: self._digest(t) for i, t in texts.items()}
        vectors = await self._stored_vectors(digests)
        missing = [i for i in items if i not in vectors]
        encoded = await asyncio.gather(*(self.encoder.encode_text(texts[i]) for i in missing))
        vectors.update(zip(missing, encoded, strict=True))
        if self.metrics is not None:
            self.metrics.inc("pulse_catalog_vectors_total", "how", "encoded", len(missing))
            self.metrics.inc(
                "pulse_catalog_vectors_total", "how", "reused", len(items) - len(missing)
            )
        async with self.redis.pipeline(transaction=False) as pipe:
            for item_id, item in items.items():
                vector = vectors[item_id]
                self.index.upsert(
                    ItemInfo(item_id, item.title, item.category, item.in_stock), vector
                )
                pipe.hset(
                    self.keys.item(item_id),
                    mapping={
                        "title": item.title,
                        "category": item.category or "",
                        "in_stock": int(item.in_stock),
                        "text_sha": digests[item_id],
                        "vector": np.asarray(vector, dtype=np.float16).tobytes(),
                    },
                )
            for item_id in removed:
                self.index.remove(item_id)
                pipe.delete(self.keys.item(item_id))
            await pipe.execute()
