"""Every field rule of the event contract (design §3), one row each."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from core.errors import InvalidEventError
from core.events import CatalogItem, CatalogRemoval, Click, EventKind, Purchase, Review, Search
from core.validation import MAX_MESSAGE_BYTES, parse, parse_ts, validate_dict
from tests.unit.examples import VALID, valid

C, S, P, R, K = (
    EventKind.CLICK,
    EventKind.SEARCH,
    EventKind.PURCHASE,
    EventKind.REVIEW,
    EventKind.CATALOG,
)
USER_KINDS = [C, S, P, R]


def code_of(kind: EventKind, event: Any, key: str | None = None) -> str:
    with pytest.raises(InvalidEventError) as info:
        validate_dict(kind, event, key)
    return info.value.code


def test_valid_examples_parse_to_their_records() -> None:
    types = {C: Click, S: Search, P: Purchase, R: Review, K: CatalogItem}
    for kind, event in VALID.items():
        record = parse(kind, orjson.dumps(event))
        assert type(record) is types[kind]


def test_click_fields_are_read_and_ts_normalised() -> None:
    record = validate_dict(C, VALID[C])
    assert record == Click(
        event_id="e-click-1",
        user_id="17850",
        ts_ms=1_306_918_800_000,
        item_id="85123A",
        action="add_to_cart",
        session_id="s1",
        rec_id="r1",
        position=3,
    )


@pytest.mark.parametrize("kind", USER_KINDS)
@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("event_id", ..., "missing_field"),
        ("event_id", None, "missing_field"),
        ("event_id", "", "out_of_range"),
        ("event_id", "x" * 65, "out_of_range"),
        ("event_id", 12, "wrong_type"),
        ("user_id", ..., "missing_field"),
        ("user_id", "", "out_of_range"),
        ("user_id", "u" * 129, "out_of_range"),
        ("user_id", 17850, "wrong_type"),
        ("ts", ..., "missing_field"),
        ("ts", True, "wrong_type"),
        ("ts", 1.5e12, "wrong_type"),
        ("ts", ["2011-06-01T10:00:00Z"], "wrong_type"),
        ("ts", "2011-06-01T10:00:00", "bad_timestamp"),
        ("ts", "2011-06-01", "bad_timestamp"),
        ("ts", "2011-02-30T10:00:00Z", "bad_timestamp"),
        ("ts", "yesterday", "bad_timestamp"),
        ("ts", -1, "bad_timestamp"),
        ("ts", 1_306_918_800, "bad_timestamp"),
        ("ts", 1_306_918_800_000_000, "bad_timestamp"),
        ("ts", 100_000_000_000, "ok"),
        ("ts", 4_102_444_800_000, "bad_timestamp"),
    ],
)
def test_common_fields(kind: EventKind, field: str, value: Any, code: str) -> None:
    event = valid(kind, **{field: value})
    if code == "ok":
        validate_dict(kind, event)
    else:
        assert code_of(kind, event) == code


def test_epoch_seconds_are_refused_with_a_hint() -> None:
    with pytest.raises(InvalidEventError, match="milliseconds"):
        parse_ts(1_306_918_800)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2011-06-01T10:00:00+01:00", 1_306_918_800_000),
        ("2011-06-01T09:00:00Z", 1_306_918_800_000),
        ("2011-06-01t09:00:00z", 1_306_918_800_000),
        ("2011-06-01 09:00:00.250+00:00", 1_306_918_800_250),
        ("2011-06-01T09:00:00.123456789Z", 1_306_918_800_123),
    ],
)
def test_rfc3339_forms(text: str, ms: int) -> None:
    assert parse_ts(text) == ms


@pytest.mark.parametrize(
    ("kind", "field", "value", "code"),
    [
        (C, "item_id", ..., "missing_field"),
        (C, "item_id", "", "out_of_range"),
        (C, "item_id", 85123, "wrong_type"),
        (C, "action", "purchase", "bad_choice"),
        (C, "action", 1, "wrong_type"),
        (C, "position", -1, "out_of_range"),
        (C, "position", "3", "wrong_type"),
        (C, "position", True, "wrong_type"),
        (C, "session_id", "", "out_of_range"),
        (C, "rec_id", 7, "wrong_type"),
        (S, "query", ..., "missing_field"),
        (S, "query", "", "out_of_range"),
        (S, "query", "q" * 513, "out_of_range"),
        (S, "query", {"text": "tea"}, "wrong_type"),
        (P, "quantity", ..., "missing_field"),
        (P, "quantity", 0, "out_of_range"),
        (P, "quantity", 2.0, "wrong_type"),
        (P, "quantity", True, "wrong_type"),
        (P, "price", ..., "missing_field"),
        (P, "price", -0.01, "out_of_range"),
        (P, "price", "2.55", "wrong_type"),
        (P, "currency", "gbp", "bad_choice"),
        (P, "currency", "POUND", "out_of_range"),
        (P, "order_id", 536365, "wrong_type"),
        (R, "rating", ..., "missing_field"),
        (R, "rating", 0, "out_of_range"),
        (R, "rating", 6, "out_of_range"),
        (R, "rating", 4.5, "wrong_type"),
        (R, "text", ..., "missing_field"),
        (R, "text", "t" * 5_001, "out_of_range"),
        (R, "title", "", "out_of_range"),
        (K, "item_id", ..., "missing_field"),
        (K, "title", ..., "missing_field"),
        (K, "title", "", "out_of_range"),
        (K, "price", -1, "out_of_range"),
        (K, "in_stock", "yes", "wrong_type"),
        (K, "category", 3, "wrong_type"),
        (K, "description", "d" * 20_001, "out_of_range"),
    ],
)
def test_type_specific_fields(kind: EventKind, field: str, value: Any, code: str) -> None:
    assert code_of(kind, valid(kind, **{field: value})) == code


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        (C, "action", ...),
        (C, "position", 0),
        (S, "session_id", None),
        (P, "price", 0),
        (P, "currency", ...),
        (R, "text", ""),
        (R, "rating", 1),
        (K, "in_stock", ...),
        (K, "category", ""),
    ],
)
def test_edges_that_are_valid(kind: EventKind, field: str, value: Any) -> None:
    event = validate_dict(kind, valid(kind, **{field: value}))  # raises if refused
    assert type(event) is type(validate_dict(kind, valid(kind)))
    if value is not ... and field != "category":  # a catalogue item keeps a category path
        assert getattr(event, field) == value


def test_defaults() -> None:
    click = validate_dict(C, valid(C, action=...))
    item = validate_dict(K, valid(K, in_stock=...))
    assert isinstance(click, Click) and click.action == "click"
    assert isinstance(item, CatalogItem) and item.in_stock is True
    assert item.category_path == ("Home", "Candles")


def test_unknown_fields_are_kept_and_ignored() -> None:
    record = validate_dict(S, valid(S, device="mobile", nested={"a": [1]}))
    assert isinstance(record, Search)
    assert record.extra == {"device": "mobile", "nested": {"a": [1]}}


@pytest.mark.parametrize("kind", list(EventKind))
def test_key_must_match_owner(kind: EventKind) -> None:
    owner = VALID[kind]["item_id"] if kind is K else VALID[kind]["user_id"]
    validate_dict(kind, VALID[kind], owner)
    assert code_of(kind, VALID[kind], "someone-else") == "key_mismatch"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"", "not_json"),
        (b"{", "not_json"),
        (b"NaN", "not_json"),
        (b'{"a": 1,}', "not_json"),
        (b"\xff\xfe{}", "not_utf8"),
        (b"[]", "not_object"),
        (b'"click"', "not_object"),
        (b"null", "not_object"),
        (b"x" * (MAX_MESSAGE_BYTES + 1), "oversize"),
    ],
)
@pytest.mark.parametrize("kind", list(EventKind))
def test_bad_bytes(kind: EventKind, value: bytes, code: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        parse(kind, value)
    assert info.value.code == code


def test_message_of_exactly_the_limit_is_read() -> None:
    event = valid(S, padding="")
    size = len(orjson.dumps(event))
    event["padding"] = "p" * (MAX_MESSAGE_BYTES - size)
    data = orjson.dumps(event)
    assert len(data) == MAX_MESSAGE_BYTES
    assert isinstance(parse(S, data), Search)


def test_tombstones() -> None:
    assert parse(K, None, b"85123A") == CatalogRemoval("85123A")
    for kind, key, code in [
        (K, None, "missing_field"),
        (K, b"", "missing_field"),
        (K, b"i" * 129, "out_of_range"),
        (C, b"17850", "null_value"),
        (K, b"\xff", "not_utf8"),
    ]:
        with pytest.raises(InvalidEventError) as info:
            parse(kind, None, key)
        assert info.value.code == code


def test_messages_say_what_is_wrong() -> None:
    with pytest.raises(InvalidEventError) as info:
        validate_dict(P, valid(P, quantity=0))
    assert "'quantity'" in info.value.message and "at least 1" in info.value.message
