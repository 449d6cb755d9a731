"""Follow the whole catalogue topic in every worker, so each keeps a complete item index.

Recommendations need every item, so each worker reads all catalogue partitions from the
beginning (``streams.follower``; the topic is compacted: this is the current catalogue), encodes
item texts in micro-batches, keeps the in-process index current and mirrors item attributes and
vectors to Redis. Invalid catalogue messages are skipped here: the agent dead-letters them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, TypeVar

import numpy as np

from core.deadletter import RawMessage, dead_letter_message
from core.errors import InvalidEventError
from core.events import CatalogItem, CatalogRemoval, EventKind
from core.metrics import Metrics
from core.retry import Faults, until_done
from core.settings import Settings
from core.topics import Topics
from core.validation import parse
from encoders.pooling import Floats
from encoders.protocol import TextEncoder, encode_each
from feature_store.clients import RedisClient
from feature_store.keys import Keys
from feature_store.writes import redis_transient
from personalisation.messages import Publisher, publish_records
from ranking.item_index import ItemIndex, ItemInfo
from streams.follower import TopicFollower

log = logging.getLogger(__name__)
T = TypeVar("T")


def item_text(item: CatalogItem) -> str:
    """What the encoder sees of an item: title, category path, start of the description; the
    item id when all of them are blank (a title of spaces is valid by the contract)."""
    parts = [item.title.strip()]
    if item.category:
        parts.append(item.category.strip())
    if item.description:
        parts.append(item.description[:300].strip())
    return ". ".join(p for p in parts if p) or item.item_id


# Called with the catalogue messages that could not be applied, each with its error.
OnFailed = Callable[[list[tuple[RawMessage, Exception]]], Awaitable[None]]


class CatalogFollower(TopicFollower):
    """Run :meth:`run` under a supervisor: after an error it starts again from the first message
    not yet applied. ``ready`` is set once the catalogue as it was at the first start is in."""

    def __init__(
        self,
        settings: Settings,
        index: ItemIndex,
        encoder: TextEncoder,
        redis: RedisClient,
        keys: Keys,
        model_tag: str,
        metrics: Metrics | None = None,
        *,
        faults: Faults | None = None,
        on_failed: OnFailed | None = None,
    ) -> None:
        super().__init__(
            settings,
            Topics.from_settings(settings).for_kind(EventKind.CATALOG),
            "pulse-catalog-follower",
        )
        # Vectors in Redis made by this model from the same text are reused, not re-encoded.
        self.model_tag = model_tag
        self.metrics = metrics
        if metrics is not None:
            metrics.describe(
                "pulse_catalog_vectors_total",
                "Catalogue item vectors: encoded, or reused from Redis.",
            )
            metrics.describe("pulse_catalog_failed_total", "Catalogue items that failed to apply.")
        self.index = index
        self.encoder = encoder
        self.redis = redis
        self.keys = keys
        self.faults = faults
        self.on_failed = on_failed

    def on_ready(self) -> None:
        log.info("catalogue loaded: %d items", len(self.index))

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

    async def apply(self, messages: Sequence[Any]) -> None:
        """Apply catalogue messages in order; an item that cannot be applied (its text refused
        by the encoder, say) is handed to ``on_failed`` and the others go on. Redis is retried
        while it is away, so nothing read is lost."""
        items: dict[str, CatalogItem] = {}
        sources: dict[str, RawMessage] = {}
        removed: set[str] = set()
        for m in messages:
            try:
                event = parse(EventKind.CATALOG, m.value, m.key)
            except InvalidEventError:
                continue  # the agent dead-letters it
            if isinstance(event, CatalogRemoval):
                removed.add(event.item_id)
                items.pop(event.item_id, None)
            elif isinstance(event, CatalogItem):
                items[event.item_id] = event
                sources[event.item_id] = RawMessage(
                    m.topic, m.partition, m.offset, m.key, m.value, int(m.timestamp or 0)
                )
                removed.discard(event.item_id)
        texts = {item_id: item_text(item) for item_id, item in items.items()}
        digests = {i: self._digest(t) for i, t in texts.items()}
        vectors = await self._redis(lambda: self._stored_vectors(digests), "reading item vectors")
        missing = [i for i in items if i not in vectors]
        encoded, failed = await encode_each(
            self.encoder.encode_text, {i: texts[i] for i in missing}
        )
        vectors.update(encoded)
        if self.metrics is not None:
            self.metrics.inc("pulse_catalog_vectors_total", "how", "encoded", len(missing))
            self.metrics.inc(
                "pulse_catalog_vectors_total", "how", "reused", len(items) - len(missing)
            )
        applied: dict[str, CatalogItem] = {}
        for item_id, item in items.items():
            if item_id in failed:
                continue
            try:
                info = ItemInfo(item_id, item.title, item.category, item.in_stock)
                self.index.upsert(info, vectors[item_id], texts[item_id])
            except Exception as exc:
                failed[item_id] = exc
            else:
                applied[item_id] = item
        for item_id in removed:
            self.index.remove(item_id)
        # here, not in the first search after the load; in a thread, not on the event loop
        await self.index.words.commit_in_thread()
        await self._redis(
            lambda: self._mirror(applied, vectors, digests, removed), "mirroring items to Redis"
        )
        if failed:
            if self.metrics is not None:
                self.metrics.inc("pulse_catalog_failed_total", n=len(failed))
            for item_id, error in failed.items():
                log.error("catalogue item %r could not be applied: %r", item_id, error)
            if self.on_failed is not None:
                await self.on_failed([(sources[i], error) for i, error in failed.items()])

    async def _mirror(
        self,
        items: dict[str, CatalogItem],
        vectors: dict[str, Floats],
        digests: dict[str, str],
        removed: set[str],
    ) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for item_id, item in items.items():
                pipe.hset(
                    self.keys.item(item_id),
                    mapping={
                        "title": item.title,
                        "category": item.category or "",
                        "in_stock": int(item.in_stock),
                        "text_sha": digests[item_id],
                        "vector": np.asarray(vectors[item_id], dtype=np.float16).tobytes(),
                    },
                )
            for item_id in removed:
                pipe.delete(self.keys.item(item_id))
            await pipe.execute()

    async def _redis(self, step: Callable[[], Awaitable[T]], what: str) -> T:
        return await until_done(
            step, what, transient=redis_transient, faults=self.faults, part="redis"
        )


def dead_letter_owned(
    assignment: Callable[[], Collection[Any]],
    publisher: Publisher,
    topic: str,
    faults: Faults | None,
) -> OnFailed:
    """What a worker does with catalogue items that could not be applied: it dead-letters those
    of the partitions it owns (``assignment``), so each item gets one dead letter although every
    worker follows the whole catalogue."""

    async def on_failed(failed: list[tuple[RawMessage, Exception]]) -> None:
        owned = {(tp.topic, tp.partition) for tp in assignment()}
        payloads = [
            dead_letter_message(
                m, InvalidEventError("processing_error", f"{type(e).__name__}: {e}")
            )
            for m, e in failed
            if (m.topic, m.partition) in owned
        ]
        await publish_records(publisher, topic, payloads, "catalogue dead letters", faults)

    return on_failed
