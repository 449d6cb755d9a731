"""The messages the pipeline publishes: recommendation lists and trend signals (design §3)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

import orjson

from core.events import UserEvent
from core.retry import Faults, until_done
from core.topics import Topics
from feature_store.writes import BatchWrites
from ranking.blend import Recommendation

KafkaMessage = tuple[bytes | None, bytes]


class Publisher(Protocol):
    """Sends messages to a topic; ``transient`` says which errors are worth retrying on."""

    def transient(self, exc: BaseException) -> bool: ...

    async def publish(
        self,
        topic: str,
        messages: Sequence[KafkaMessage],
        partitions: Sequence[int] | None = None,
    ) -> None:
        """Send ``(key, value)`` pairs to ``topic`` (to the given ``partitions``, one per
        message, else by key); return once every one is acknowledged."""


def item_message(rec: Recommendation) -> dict[str, Any]:
    item: dict[str, Any] = {
        "item_id": rec.item_id,
        "score": rec.score,
        "source": rec.source,
        "reason": rec.reason,
    }
    if rec.arm is not None:
        item["arm"] = rec.arm
    return item


def rec_ids(n: int) -> list[str]:
    """``n`` list ids: 128 random bits each from the system's generator, as 32 hex digits
    (one system call for all of them, not one a list)."""
    digits = os.urandom(16 * n).hex()
    return [digits[i : i + 32] for i in range(0, 32 * n, 32)]


def list_message(
    user_id: str,
    recs: Sequence[Recommendation],
    trigger: UserEvent,
    ingested_ms: int | None,
    generated_ms: int,
    rec_id: str,
) -> dict[str, Any]:
    """A shopper's fresh list, as ``pulse.recommendations`` carries it (key = user_id)."""
    return {
        "user_id": user_id,
        "rec_id": rec_id,
        "items": [item_message(r) for r in recs],
        "trigger_event_id": trigger.event_id,
        "event_ts": trigger.ts_ms,
        "ingested_at": ingested_ms,
        "generated_at": generated_ms,
    }


def list_records(messages: Sequence[tuple[str, dict[str, Any]]]) -> list[KafkaMessage]:
    """Lists as Kafka ``(key, value)`` pairs, keyed by shopper."""
    return [(uid.encode(), orjson.dumps(m)) for uid, m in messages]


def signal_records(signals: Sequence[dict[str, Any]]) -> list[KafkaMessage]:
    """Trend signals as Kafka ``(key, value)`` pairs, keyed by kind."""
    return [(s["kind"].encode(), orjson.dumps(s)) for s in signals]


async def publish_records(
    publisher: Publisher,
    topic: str,
    records: Sequence[KafkaMessage],
    what: str,
    faults: Faults | None,
    partitions: Sequence[int] | None = None,
) -> None:
    """Send ``records`` (none: nothing), retried on the publisher's transient errors until every
    one is acknowledged; ``what`` names them in the log."""
    if records:
        await until_done(
            lambda: publisher.publish(topic, records, partitions),
            f"publishing {len(records)} {what}",
            transient=publisher.transient,
            faults=faults,
            part="kafka",
        )


async def publish(
    publisher: Publisher, topics: Topics, writes: BatchWrites, faults: Faults | None
) -> None:
    """A batch's lists, trend signals and trend shipments, each retried until acknowledged; all
    topics at once, so the batch waits for one round."""

    def send(
        topic: str, records: list[KafkaMessage], what: str, partitions: list[int] | None = None
    ) -> Awaitable[None]:
        return publish_records(publisher, topic, records, what, faults, partitions)

    await asyncio.gather(
        send(topics.recommendations, list_records(writes.messages), "recommendations"),
        send(topics.trends, signal_records(writes.trends), "trend signals"),
        send(
            topics.trend_observations,
            [(None, m) for m in writes.observations.values()],
            "trend shipments",
            list(writes.observations),
        ),
    )
