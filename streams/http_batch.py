"""Turn the body of ``POST /events`` into prepared messages or a per-event error list. Pure.

A body is one event, a JSON array of events, or ``{"events": [...]}``. Each event names its
kind in ``"type"`` (``click``, ``search``, ``purchase``, ``review``, ``catalog``); the rest is
the event of design §3. A batch is all or nothing: one bad event refuses the whole request, so
a client can fix and resend it without creating duplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.errors import BodyError, InvalidEventError
from core.events import Event, EventKind
from core.validation import ErrorCode

Prepare = Callable[[EventKind, Mapping[str, Any]], tuple[bytes, bytes, Event]]
KINDS = tuple(kind.value for kind in EventKind)


@dataclass(slots=True)
class PreparedBatch:
    messages: list[tuple[EventKind, bytes, bytes]] = field(default_factory=list)
    records: list[Event] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def by_type(self) -> dict[str, int]:
        return dict(Counter(kind.value for kind, _, _ in self.messages))


def split_body(body: bytes, max_events: int) -> list[Any]:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(ErrorCode.NOT_JSON.value, f"request body is not JSON: {exc}") from exc
    if isinstance(obj, dict) and isinstance(obj.get("events"), list):
        events: list[Any] = obj["events"]
    elif isinstance(obj, list):
        events = obj
    elif isinstance(obj, dict):
        events = [obj]
    else:
        raise BodyError(
            ErrorCode.NOT_OBJECT.value,
            'body must be an event, an array of events or {"events": [...]}',
        )
    if not events:
        raise BodyError(ErrorCode.MISSING_FIELD.value, "the batch holds no events")
    if len(events) > max_events:
        raise BodyError(
            ErrorCode.OVERSIZE.value,
            f"the batch holds {len(events)} events; the limit is {max_events} per request",
        )
    return events


def prepare_batch(events: list[Any], prepare: Prepare) -> PreparedBatch:
    batch = PreparedBatch()
    for index, event in enumerate(events):
        try:
            kind = _kind_of(event)
            body = {k: v for k, v in event.items() if k != "type"}
            key, value, record = prepare(kind, body)
        except InvalidEventError as exc:
            batch.errors.append({"index": index, "code": exc.code, "message": exc.message})
            continue
        batch.messages.append((kind, key, value))
        batch.records.append(record)
    return batch


def _kind_of(event: Any) -> EventKind:
    if not isinstance(event, dict):
        raise InvalidEventError(ErrorCode.NOT_OBJECT.value, "each event must be a JSON object")
    kind = event.get("type")
    if kind is None:
        raise InvalidEventError(
            ErrorCode.MISSING_FIELD.value, f"'type' is required, one of {KINDS}"
        )
    if kind not in KINDS:
        raise InvalidEventError(
            ErrorCode.BAD_CHOICE.value, f"'type' must be one of {KINDS}, got {str(kind)[:64]!r}"
        )
    return EventKind(kind)
