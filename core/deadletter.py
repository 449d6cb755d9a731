"""Dead-letter records: why a message was refused, with its original bytes.

Shape (design §3): ``{source_topic, partition, offset, key, error: {code, message}, payload}``.
``key`` and ``payload`` are text when they are valid UTF-8 and base64 otherwise;
``key_encoding`` and ``payload_encoding`` say which (``utf-8``, ``base64`` or ``null``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from core.errors import InvalidEventError


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message as it came off Kafka, before validation."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # When Kafka took the message (producer CreateTime), epoch ms; 0 when unknown.
    timestamp_ms: int = 0


def _encode(data: bytes | None) -> tuple[str | None, str]:
    if data is None:
        return None, "null"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def dead_letter_record(message: RawMessage, error: InvalidEventError) -> dict[str, Any]:
    key, key_encoding = _encode(message.key)
    payload, payload_encoding = _encode(message.value)
    return {
        "source_topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": key,
        "key_encoding": key_encoding,
        "error": {"code": error.code, "message": error.message},
        "payload": payload,
        "payload_encoding": payload_encoding,
    }


def encode_dead_letter(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def original_payload(record: dict[str, Any]) -> bytes | None:
    """The refused message's bytes, exactly as they were sent (for replays after a fix)."""
    payload = record["payload"]
    if payload is None:
        return None
    if record["payload_encoding"] == "base64":
        return base64.b64decode(payload)
    return str(payload).encode("utf-8")
