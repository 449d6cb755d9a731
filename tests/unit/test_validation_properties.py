"""Property tests: whatever arrives, the parser validates it or names an error code.

Never another exception: a poison message becomes a dead letter, it never stops a worker.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.deadletter import (
    KEEP_KEY_BYTES,
    KEEP_PAYLOAD_BYTES,
    RawMessage,
    dead_letter_key,
    dead_letter_record,
    encode_dead_letter,
    original_payload,
)
from core.errors import InvalidEventError
from core.events import Event, EventKind, partition_key
from core.topics import Topics
from core.validation import (
    MAX_MESSAGE_BYTES,
    MAX_TS_MS,
    MIN_TS_MS,
    ErrorCode,
    parse,
    validate_dict,
)
from streams.triage import triage
from tests.unit.examples import VALID

CODES = {code.value for code in ErrorCode}
kinds = st.sampled_from(list(EventKind))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(sorted({name for event in VALID.values() for name in event}))


def outcome(kind: EventKind, value: bytes | None, key: bytes | None) -> Event | str:
    try:
        return parse(kind, value, key)
    except InvalidEventError as exc:
        assert exc.code in CODES, exc.code
        assert exc.message
        return exc.code


@settings(max_examples=500)
@given(kinds, st.binary(max_size=300), st.none() | st.binary(max_size=20))
def test_arbitrary_bytes(kind: EventKind, value: bytes, key: bytes | None) -> None:
    outcome(kind, value, key)


@settings(max_examples=500)
@given(kinds, json_values)
def test_arbitrary_json(kind: EventKind, obj: Any) -> None:
    outcome(kind, orjson.dumps(obj), None)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(kinds, st.dictionaries(field_names, json_values | st.just(...), max_size=4))
def test_valid_events_with_arbitrary_fields_replaced(
    kind: EventKind, changes: dict[str, Any]
) -> None:
    """Near-valid events probe each rule: every mix of fields validates or is refused."""
    event = {k: v for k, v in {**VALID[kind], **changes}.items() if v is not ...}
    result = outcome(kind, orjson.dumps(event), None)
    if not isinstance(result, str):
        assert result == validate_dict(kind, event)


@given(kinds, st.binary(max_size=200) | st.none(), st.none() | st.binary(max_size=20))
def test_every_message_of_a_batch_is_accounted_for(
    kind: EventKind, value: bytes | None, key: bytes | None
) -> None:
    topics = Topics("p.")
    good = RawMessage(topics.for_kind(kind), 0, 1, None, orjson.dumps(VALID[kind]))
    odd = RawMessage(topics.for_kind(kind), 1, 7, key, value)
    result = triage([good, odd], topics)
    assert len(result.valid) + len(result.dead_letters) == 2
    assert result.counts.total == 2
    for message, record in result.dead_letters:
        assert record["error"]["code"] in CODES
        assert original_payload(record) == message.value
        assert orjson.loads(orjson.dumps(record)) == record


@given(st.binary(max_size=200) | st.none(), st.none() | st.binary(max_size=20))
def test_dead_letter_keeps_the_original_bytes(value: bytes | None, key: bytes | None) -> None:
    message = RawMessage("pulse.events.clicks", 3, 42, key, value)
    record = dead_letter_record(message, InvalidEventError("not_json", "broken"))
    assert original_payload(record) == value
    assert record["source_topic"] == "pulse.events.clicks"
    assert (record["partition"], record["offset"]) == (3, 42)


@given(kinds)
def test_valid_events_keyed_by_their_owner_validate(kind: EventKind) -> None:
    record = validate_dict(kind, VALID[kind])
    key = partition_key(record).encode()
    assert parse(kind, orjson.dumps(VALID[kind]), key) == record


# Around and far past what a record keeps: NUL bytes (6 bytes each in JSON), invalid UTF-8
# (base64) and text; up to the broker's default largest message (1 MiB).
sizes = st.sampled_from([0, 1, KEEP_PAYLOAD_BYTES - 1, KEEP_PAYLOAD_BYTES, KEEP_PAYLOAD_BYTES + 1])
fills = st.sampled_from([b"\x00", b"\xff", b"a", "é".encode()])


@settings(max_examples=60, deadline=None)
@given(sizes | st.integers(0, 1_048_576), fills, st.integers(0, 40_000), fills)
def test_a_dead_letter_always_fits_in_one_kafka_message(
    size: int, fill: bytes, key_size: int, key_fill: bytes
) -> None:
    value = (fill * size)[:size]
    key = (key_fill * key_size)[:key_size]
    message = RawMessage("pulse.events.clicks", 0, 1, key, value)
    record = dead_letter_record(message, InvalidEventError("oversize", "x" * 5_000))
    encoded = encode_dead_letter(record)
    assert len(encoded) + len(dead_letter_key(message) or b"") < 1_000_000
    kept = original_payload(record)
    assert kept is not None and value.startswith(kept)
    if size > KEEP_PAYLOAD_BYTES:
        assert record["payload_truncated"] is True and record["payload_size"] == size
        assert record["payload_sha256"] == hashlib.sha256(value).hexdigest()
        assert len(kept) >= KEEP_PAYLOAD_BYTES - 3
    else:
        assert kept == value and "payload_truncated" not in record
    assert ("key_truncated" in record) == (key_size > KEEP_KEY_BYTES)


NOW_MS = 1_764_000_000_000  # 2025-11-24
LEAD_MS = 3_600_000


@settings(max_examples=300)
@given(kinds, st.integers(MIN_TS_MS, MAX_TS_MS - 1))
def test_event_times_across_the_accepted_range_are_bounded_by_the_clock(
    kind: EventKind, ts_ms: int
) -> None:
    """Any time 1973..2100 is well-formed; only what is no later than the clock plus the lead
    is processed, the rest is dead-lettered as bad_timestamp."""
    topics = Topics("p.")
    event = {**VALID[kind], "ts": ts_ms} if kind is not EventKind.CATALOG else VALID[kind]
    message = RawMessage(topics.for_kind(kind), 0, 0, None, orjson.dumps(event))
    result = triage([message], topics, NOW_MS + LEAD_MS)
    if kind is EventKind.CATALOG or ts_ms <= NOW_MS + LEAD_MS:
        assert [e for _, e in result.valid] == [parse(kind, message.value)]
    else:
        [(_, record)] = result.dead_letters
        assert record["error"]["code"] == "bad_timestamp"
        assert "PULSE_MAX_EVENT_AHEAD_SECONDS" in record["error"]["message"]


@settings(max_examples=200, deadline=None)
@given(kinds, st.integers(-64, 64) | st.integers(0, 2 * MAX_MESSAGE_BYTES))
def test_messages_around_and_past_the_size_limit(kind: EventKind, size: int) -> None:
    """A valid event padded (with a field the contract ignores) to any size around the limit:
    valid up to MAX_MESSAGE_BYTES, oversize past it, and its dead letter still fits."""
    target = MAX_MESSAGE_BYTES + size if size < 64 else size
    base = orjson.dumps({**VALID[kind], "pad": ""})
    value = orjson.dumps({**VALID[kind], "pad": "x" * max(0, target - len(base))})
    topics = Topics("p.")
    result = triage([RawMessage(topics.for_kind(kind), 0, 0, None, value)], topics)
    if len(value) <= MAX_MESSAGE_BYTES:
        assert len(result.valid) == 1
    else:
        [(_, record)] = result.dead_letters
        assert record["error"]["code"] == "oversize"
        assert len(encode_dead_letter(record)) < 1_000_000
