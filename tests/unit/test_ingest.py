"""The batch processor with in-memory fakes for Kafka (dead letters) and Redis (counts)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import orjson
from aiokafka.errors import KafkaConnectionError

from core.deadletter import RawMessage
from core.events import EventKind
from core.metrics import Metrics
from core.topics import Topics
from encoders.batcher import EncodeTiming
from feature_store.counts import MemoryCountStore
from feature_store.memory import (
    MemoryBatchWriter,
    MemoryCovisitStore,
    MemoryOffsets,
    MemoryUserStore,
    memory_stores,
)
from personalisation.pipeline import Personaliser
from ranking.item_index import ItemIndex
from streams.batch import BatchProcessor
from tests.unit.examples import VALID


class FlakySink:
    """Refuses the first ``failures`` publishes, then records what it is given."""

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, KafkaConnectionError)

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.published: list[tuple[bytes | None, bytes]] = []

    async def publish(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes]],
        partitions: Sequence[int] | None = None,
    ) -> None:
        assert topic == "pulse.dead-letter" and partitions is None
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("broker gone")
        self.published.extend(messages)


TOPICS = Topics("pulse.")


def counting(store: MemoryCountStore) -> MemoryBatchWriter:
    """A writer that keeps the batch counts in ``store``."""
    return MemoryBatchWriter(MemoryUserStore(8), MemoryCovisitStore(), counts=store)


def message(
    kind: EventKind, value: bytes | None, offset: int, key: bytes | None = None
) -> RawMessage:
    return RawMessage(TOPICS.for_kind(kind), 0, offset, key, value)


async def test_batch_counts_dead_letters_and_metrics() -> None:
    sink, store, metrics = FlakySink(), MemoryCountStore(), Metrics()
    processor = BatchProcessor(TOPICS, sink, counting(store), metrics)
    batch = [
        message(EventKind.CLICK, orjson.dumps(VALID[EventKind.CLICK]), 0),
        message(EventKind.CLICK, b"{broken", 1, key=b"17850"),
        message(EventKind.SEARCH, orjson.dumps(VALID[EventKind.SEARCH]), 2),
        message(EventKind.CATALOG, None, 3, key=b"85123A"),
        message(EventKind.PURCHASE, orjson.dumps({"user_id": "u"}), 4),
    ]
    counts = await processor.process(batch)
    assert counts.processed == Counter({"click": 1, "search": 1, "catalog": 1})
    assert counts.dead_lettered == Counter({"not_json": 1, "missing_field": 1})
    assert (await store.totals()).processed == counts.processed
    records = [orjson.loads(value) for _, value in sink.published]
    assert [(r["offset"], r["error"]["code"]) for r in records] == [
        (1, "not_json"),
        (4, "missing_field"),
    ]
    assert sink.published[0][0] == b"17850"
    assert metrics.get("pulse_events_processed_total", "kind", "click") == 1
    assert metrics.get("pulse_events_dead_lettered_total", "code", "not_json") == 1


async def test_dead_letters_are_retried_until_acknowledged() -> None:
    sink, store = FlakySink(failures=2), MemoryCountStore()
    processor = BatchProcessor(TOPICS, sink, counting(store), Metrics())
    await processor.process([message(EventKind.REVIEW, b"\xff", 9)])
    assert len(sink.published) == 1
    assert orjson.loads(sink.published[0][1])["payload_encoding"] == "base64"
    assert (await store.totals()).dead_lettered == Counter({"not_utf8": 1})


async def test_message_on_a_foreign_topic_is_dead_lettered() -> None:
    sink, store = FlakySink(), MemoryCountStore()
    processor = BatchProcessor(TOPICS, sink, counting(store), Metrics())
    counts = await processor.process([RawMessage("other.topic", 0, 0, None, b"{}")])
    assert counts.dead_lettered == Counter({"unknown_topic": 1})


class PickyEncoder:
    """Refuses one query, as a defect in the encoder would; encodes the others."""

    async def encode_query(self, query: str, timing: EncodeTiming | None = None) -> np.ndarray:
        if query == "poison":
            raise ValueError("a defect")
        return np.ones(8, np.float32) / np.sqrt(8)

    async def encode_text(self, text: str) -> np.ndarray:
        return await self.encode_query(text)


def search(user: str, query: str, event_id: str) -> bytes:
    return orjson.dumps(
        {"event_id": event_id, "user_id": user, "ts": 1_700_000_000_000, "query": query}
    )


async def test_a_defect_dead_letters_that_event_only() -> None:
    sink, store = FlakySink(), MemoryCountStore()
    stores = memory_stores(8)
    writer = MemoryBatchWriter(stores.users, stores.covisit, counts=store)  # type: ignore[arg-type]
    stores.writer = writer
    personaliser = Personaliser(ItemIndex(8), stores, PickyEncoder())
    processor = BatchProcessor(TOPICS, sink, writer, Metrics(), personaliser=personaliser)
    batch = [
        message(EventKind.CLICK, orjson.dumps(VALID[EventKind.CLICK]), 0),
        message(EventKind.CATALOG, orjson.dumps(VALID[EventKind.CATALOG]), 1),
        message(EventKind.SEARCH, b"{bad", 2),
        message(EventKind.SEARCH, search("u1", "poison", "s1"), 3),
        message(EventKind.SEARCH, search("u2", "tea towel", "s2"), 4),
        message(EventKind.SEARCH, search("u3", "   ", "s3"), 5),
    ]
    counts = await processor.process(batch)
    assert counts.processed == Counter({"catalog": 1, "click": 1, "search": 2})
    assert counts.dead_lettered == Counter({"processing_error": 1, "not_json": 1})
    records = sorted(
        (r["offset"], r["error"]["code"]) for r in map(orjson.loads, (v for _, v in sink.published))
    )
    assert records == [(2, "not_json"), (3, "processing_error")]
    assert "ValueError: a defect" in orjson.loads(sink.published[-1][1])["error"]["message"]
    [written] = writer.batches
    assert written.counts == counts
    # Every other shopper got a state and a list, the blank search included.
    assert set(written.states) == {VALID[EventKind.CLICK]["user_id"], "u2", "u3"}
    assert {uid for uid, _ in written.messages} == set(written.states)


async def test_a_redelivered_batch_is_applied_once() -> None:
    """Kafka redelivers what was processed but not committed (a killed worker): the offsets
    written with the batch make the second delivery change nothing, counts included."""
    sink, store, offsets = FlakySink(), MemoryCountStore(), MemoryOffsets()
    writer = MemoryBatchWriter(
        MemoryUserStore(8), MemoryCovisitStore(), counts=store, offsets=offsets
    )
    processor = BatchProcessor(TOPICS, sink, writer, Metrics(), applied=offsets)
    batch = [
        message(EventKind.CLICK, orjson.dumps(VALID[EventKind.CLICK]), 0),
        message(EventKind.SEARCH, b"{bad", 1),
        message(EventKind.SEARCH, orjson.dumps(VALID[EventKind.SEARCH]), 2),
    ]
    first = await processor.process(batch)
    assert offsets.offsets == {("pulse.events.clicks", 0): 1, ("pulse.events.searches", 0): 3}
    # The same messages again, and one new one behind them.
    again = await processor.process(
        [*batch, message(EventKind.CLICK, orjson.dumps(VALID[EventKind.CLICK]), 1)]
    )
    assert first.total == 3 and again.processed == Counter({"click": 1}) and again.total == 1
    assert (await store.totals()).processed == Counter({"click": 2, "search": 1})
    assert len(sink.published) == 1  # the bad search was dead-lettered once
    assert processor.metrics.get("pulse_redelivered_skipped_total") == 3
