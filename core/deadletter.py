"""Dead-letter records: why a message was refused, with its original bytes.

Shape (design §3): ``{source_topic, partition, offset, key, error: {code, message}, payload}``.
``key`` and ``payload`` are text when they are valid UTF-8 and base64 otherwise;
``key_encoding`` and ``payload_encoding`` say which (``utf-8``, ``base64`` or ``null``).

A record always fits in one Kafka message: a payload over ``KEEP_PAYLOAD_BYTES`` keeps only its
first bytes, and the record says so (``payload_truncated: true``) with the original's size and
SHA-256 (``payload_size``, ``payload_sha256``); keys and error messages are bounded the same way.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from core.errors import InvalidEventError

# What a record keeps of a message. Even with every byte escaped in JSON (6 bytes for one NUL)
# a record stays under 1 MiB, the Kafka producer's default largest request.
KEEP_PAYLOAD_BYTES = 128 * 1024
KEEP_KEY_BYTES = 16 * 1024
KEEP_MESSAGE_CHARS = 1_000


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
    key, key_encoding = _encode(_bounded(message.key, KEEP_KEY_BYTES))
    payload, payload_encoding = _encode(_bounded(message.value, KEEP_PAYLOAD_BYTES))
    record: dict[str, Any] = {
        "source_topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": key,
        "key_encoding": key_encoding,
        "error": {"code": error.code, "message": error.message[:KEEP_MESSAGE_CHARS]},
        "payload": payload,
        "payload_encoding": payload_encoding,
    }
    if message.key is not None and len(message.key) > KEEP_KEY_BYTES:
        record["key_truncated"] = True
    if message.value is not None and len(message.value) > KEEP_PAYLOAD_BYTES:
        record["payload_truncated"] = True
        record["payload_size"] = len(message.value)
        record["payload_sha256"] = hashlib.sha256(message.value).hexdigest()
    return record


def dead_letter_key(message: RawMessage) -> bytes | None:
    """The key a dead letter is sent with: the message's own, bounded."""
    return _bounded(message.key, KEEP_KEY_BYTES)


def dead_letter_message(
    message: RawMessage, error: InvalidEventError
) -> tuple[bytes | None, bytes]:
    """The ``(key, value)`` a refused message is dead-lettered as."""
    return dead_letter_key(message), encode_dead_letter(dead_letter_record(message, error))


def _bounded(data: bytes | None, limit: int) -> bytes | None:
    if data is None or len(data) <= limit:
        return data
    # Cut on a UTF-8 character boundary when the bytes are text, so the kept part stays text.
    cut = data[:limit]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return cut
    return cut.decode("utf-8", errors="ignore").encode("utf-8")


def encode_dead_letter(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def original_payload(record: dict[str, Any]) -> bytes | None:
    """The refused message's bytes, exactly as they were sent (for replays after a fix); for a
    record with ``payload_truncated``, only the bytes it kept."""
    payload = record["payload"]
    if payload is None:
        return None
    if record["payload_encoding"] == "base64":
        return base64.b64decode(payload)
    return str(payload).encode("utf-8")
