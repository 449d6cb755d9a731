"""The owner of trend partitions (``streams.trend_owner``) with an in-memory store and publisher:
poison shipments are dead-lettered alone, the rest applied, published and stored; a partition
whose write failed is read again from the store, never applied twice from memory."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.deadletter import RawMessage
from core.events import Click
from core.topics import Topics
from feature_store.memory import MemoryTrendStateStore
from feature_store.trend_state import StoredTrends
from streams.trend_owner import DELAY, TrendOwner
from trends.exchange import route
from trends.tracker import Observations, TrendConfig, TrendTracker

T0 = 1_717_372_800_000
TOPIC = "pulse.trend-observations"


class Store(MemoryTrendStateStore):
    """The in-memory store, counting loads, with writes that can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_saves = 0
        self.loads = 0

    async def load(self, partition: int) -> StoredTrends:
        self.loads += 1
        return await super().load(partition)

    async def save(self, partition: int, delta: Any, signals: list[dict[str, Any]]) -> None:
        if self.fail_saves:
            self.fail_saves -= 1
            raise RuntimeError("out of memory")  # permanent: not retried
        await super().save(partition, delta, signals)


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def transient(self, exc: BaseException) -> bool:
        return False

    async def publish(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes]],
        partitions: Sequence[int] | None = None,
    ) -> None:
        self.sent += [(topic, value) for _, value in messages]


def tracker() -> TrendTracker:
    return TrendTracker(
        TrendConfig(window_ms=1000, min_support=3, warmup_windows=2, grace_ms=0), UTC
    )


def owner(store: Store, publisher: Publisher) -> TrendOwner:
    return TrendOwner(store, tracker, publisher, Topics("pulse."), 1)  # type: ignore[arg-type]


def shipments(start: int = 0) -> list[RawMessage]:
    """Steady clicks on i1 for five windows, then a burst of i2: one shipment per batch."""
    out = []
    for n in range(start, 12):
        obs = Observations()
        clicks = [("i1", 0), ("i1", 500)] if n < 10 else [("i2", k) for k in range(0, 400, 50)]
        for item, ms in clicks:
            eid = f"e{n}-{ms}"
            obs.add(Click(eid, "u", T0 + (n // 2) * 1000 + ms, item, "click"), None)
        message = route(
            obs,
            {
                f"e{n}-{ms}": ("pulse.events.clicks:0", n * 10 + k)
                for k, (_, ms) in enumerate(clicks)
            },
            1,
        )[0]
        out.append(RawMessage(TOPIC, 0, n, None, message, 0))
    return out


def kinds(publisher: Publisher, topic: str) -> list[Any]:
    return [orjson.loads(v) for t, v in publisher.sent if t == topic]


async def test_poison_is_dead_lettered_alone_and_the_rest_applied() -> None:
    store, publisher = Store(), Publisher()
    messages = shipments()
    poison = RawMessage(TOPIC, 0, 99, b"k", b'{"v": 1, "clock": "soon"}', 0)
    await owner(store, publisher).process([*messages[:6], poison, *messages[6:]])
    [letter] = kinds(publisher, "pulse.dead-letter")
    assert letter["error"]["code"] == "invalid_trend_shipment" and letter["offset"] == 99
    assert "clock" in letter["error"]["message"]
    signals = kinds(publisher, "pulse.trends")
    assert [(s["kind"], s["subject"]) for s in signals] == [("trending_item", "i2")]
    assert store.signals[0] == signals and store.parts[0].meta["seen"]


async def test_a_partition_whose_write_failed_is_read_again_not_applied_twice() -> None:
    store, publisher = Store(), Publisher()
    pulse = owner(store, publisher)
    messages = shipments()
    await pulse.process(messages[:8])
    store.fail_saves = 1
    with pytest.raises(RuntimeError):
        await pulse.process(messages[8:10])
    assert 0 not in pulse.parts and store.loads == 1
    await pulse.process(messages[8:])  # Kafka delivers the batch again
    assert store.loads == 2
    again = Store()
    await owner(again, Publisher()).process(messages)
    assert store.parts[0].baselines == again.parts[0].baselines
    assert store.parts[0].windows == again.parts[0].windows
    # Redelivered after being stored: its events are skipped by their positions.
    await pulse.process(messages[10:])
    assert pulse.parts[0].skipped > 0
    assert [s["subject"] for s in store.signals[0]] == ["i2"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=5))
async def test_any_bytes_among_shipments_never_stop_the_owner(junk: list[bytes]) -> None:
    store, publisher = Store(), Publisher()
    poison = [RawMessage(TOPIC, 0, 1000 + n, None, raw, 0) for n, raw in enumerate(junk)]
    await owner(store, publisher).process([*poison, *shipments()])
    letters = kinds(publisher, "pulse.dead-letter")
    assert len(letters) == len(junk)  # none of these random bytes is a valid shipment
    assert [s["subject"] for s in kinds(publisher, "pulse.trends")] == ["i2"]


async def test_the_hop_from_publication_to_owner_is_measured() -> None:
    store, publisher = Store(), Publisher()
    pulse = owner(store, publisher)
    now_ms = int(time.time() * 1000)
    stamped = [replace(m, timestamp_ms=now_ms - 250) for m in shipments()[:3]]
    await pulse.process(stamped)
    text = pulse.metrics.render()
    line = next(x for x in text.splitlines() if x.startswith(DELAY + "_count"))
    assert line.endswith(" 3")
    total = next(x for x in text.splitlines() if x.startswith(DELAY + "_sum"))
    assert 0.7 <= float(total.split()[-1]) < 5  # three of about 0.25 s each
