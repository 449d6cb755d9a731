"""The messages the pipeline publishes: recommendation lists and trend signals (design §3)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from core.events import UserEvent
from ranking.blend import Recommendation

KafkaMessage = tuple[bytes | None, bytes]


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


def list_message(
    user_id: str,
    recs: Sequence[Recommendation],
    trigger: UserEvent,
    ingested_ms: int | None,
    generated_ms: int,
) -> dict[str, Any]:
    """A shopper's fresh list, as ``pulse.recommendations`` carries it (key = user_id)."""
    return {
        "user_id": user_id,
        "rec_id": uuid.uuid4().hex,
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
