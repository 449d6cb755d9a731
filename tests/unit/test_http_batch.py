from __future__ import annotations

from typing import Any

import orjson
import pytest

from core.errors import BodyError
from core.events import EventKind
from core.validation import validate_dict
from streams.http_batch import prepare_batch, split_body
from streams.producer import complete, message_key
from tests.unit.examples import VALID


def prepare(kind: EventKind, event: Any) -> tuple[bytes, bytes, Any]:
    filled = complete(kind, event, now_ms=1_700_000_000_000)
    record = validate_dict(kind, filled)
    return message_key(record), orjson.dumps(filled), record


def typed(kind: EventKind, **changes: Any) -> dict[str, Any]:
    return {"type": kind.value, **VALID[kind], **changes}


@pytest.mark.parametrize(
    "body",
    [
        typed(EventKind.CLICK),
        [typed(EventKind.CLICK)],
        {"events": [typed(EventKind.CLICK)]},
    ],
)
def test_three_body_shapes(body: Any) -> None:
    events = split_body(orjson.dumps(body), max_events=10)
    batch = prepare_batch(events, prepare)
    assert batch.by_type == {"click": 1}
    assert not batch.errors


def test_every_kind_in_one_batch_with_keys_by_owner() -> None:
    batch = prepare_batch([typed(kind) for kind in EventKind], prepare)
    assert batch.by_type == {kind.value: 1 for kind in EventKind}
    keys = {kind: key for kind, key, _ in batch.messages}
    assert keys[EventKind.CLICK] == b"17850"
    assert keys[EventKind.CATALOG] == b"85123A"
    sent = {kind: orjson.loads(value) for kind, _, value in batch.messages}
    assert "type" not in sent[EventKind.SEARCH]


def test_missing_event_id_and_ts_are_filled() -> None:
    event = {"type": "search", "user_id": "u1", "query": "candles"}
    batch = prepare_batch([event], prepare)
    value = orjson.loads(batch.messages[0][2])
    assert value["ts"] == 1_700_000_000_000
    assert len(value["event_id"]) == 32


def test_per_event_errors_name_the_index_and_code() -> None:
    events = [
        typed(EventKind.CLICK),
        typed(EventKind.PURCHASE, quantity=0),
        {"user_id": "u"},
        typed(EventKind.CLICK, type="tap"),
        "not an object",
    ]
    batch = prepare_batch(events, prepare)
    assert [(e["index"], e["code"]) for e in batch.errors] == [
        (1, "out_of_range"),
        (2, "missing_field"),
        (3, "bad_choice"),
        (4, "not_object"),
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "not_json"),
        (b"42", "not_object"),
        (b"[]", "missing_field"),
        (b'{"events": []}', "missing_field"),
        (orjson.dumps([{}] * 11), "oversize"),
    ],
)
def test_unusable_bodies(body: bytes, code: str) -> None:
    with pytest.raises(BodyError) as info:
        split_body(body, max_events=10)
    assert info.value.code == code
