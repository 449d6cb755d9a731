"""Split a micro-batch of raw messages into valid events and dead letters. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.deadletter import RawMessage, dead_letter_record
from core.errors import InvalidEventError
from core.events import Event, EventKind
from core.topics import Topics
from core.validation import check_not_ahead, parse
from feature_store.counts import BatchCounts


@dataclass(slots=True)
class Triage:
    valid: list[tuple[EventKind, Event]] = field(default_factory=list)
    dead_letters: list[tuple[RawMessage, dict[str, Any]]] = field(default_factory=list)
    counts: BatchCounts = field(default_factory=BatchCounts)
    # event_id -> when Kafka took the message (epoch ms), for end-to-end latency
    ingested_ms: dict[str, int] = field(default_factory=dict)
    # id() of each valid event -> the message it came from (to dead-letter it later)
    sources: dict[int, RawMessage] = field(default_factory=dict)
    # event_id -> ("topic:partition", offset) of its message, for the trend owners
    positions: dict[str, tuple[str, int]] = field(default_factory=dict)


def triage(messages: Sequence[RawMessage], topics: Topics, latest_ms: int | None = None) -> Triage:
    """Validate every message; each one ends up either valid or as a dead-letter record.

    Events dated after ``latest_ms`` (when given) are refused as ``bad_timestamp``.
    """
    result = Triage()
    for message in messages:
        try:
            kind = topics.kind_of(message.topic)
        except KeyError:
            error = InvalidEventError("unknown_topic", f"{message.topic!r} is not a Pulse input")
            result.dead_letters.append((message, dead_letter_record(message, error)))
            result.counts.dead_lettered[error.code] += 1
            continue
        try:
            event = parse(kind, message.value, message.key)
            if latest_ms is not None:
                check_not_ahead(event, latest_ms)
        except InvalidEventError as error:
            result.dead_letters.append((message, dead_letter_record(message, error)))
            result.counts.dead_lettered[error.code] += 1
            continue
        result.valid.append((kind, event))
        result.sources[id(event)] = message
        event_id = getattr(event, "event_id", None)
        if event_id is not None:
            result.positions[event_id] = (f"{message.topic}:{message.partition}", message.offset)
            if message.timestamp_ms:
                result.ingested_ms[event_id] = message.timestamp_ms
        result.counts.processed[kind.value] += 1
    return result
