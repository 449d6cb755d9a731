"""Parse and validate raw messages against the event contract (design §3).

Pure functions, no I/O. :func:`parse` turns the bytes of one message into a typed record or
raises :class:`~core.errors.InvalidEventError` with a code from :class:`ErrorCode`;
:func:`validate_dict` does the same for an already decoded object (the producer's side).
Nothing else escapes: any input either validates or yields an error with a code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from core.errors import InvalidEventError
from core.events import (
    CatalogItem,
    CatalogRemoval,
    Click,
    Event,
    EventKind,
    Purchase,
    Review,
    Search,
    partition_key,
)

MAX_MESSAGE_BYTES = 64 * 1024
# Event times outside [1973-03-03, 2100) are taken for unit mistakes: epoch seconds below,
# microseconds above.
MIN_TS_MS = 100_000_000_000
MAX_TS_MS = 4_102_444_800_000

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# "dismiss": the shopper waved the item away (negative feedback; ranking.profile).
CLICK_ACTIONS = ("view", "click", "add_to_cart", "dismiss")
MAX_ID = 128  # characters of a user, item, session or list id


class ErrorCode(StrEnum):
    """Why a message was refused; stable, for dashboards and dead-letter consumers."""

    OVERSIZE = "oversize"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    NULL_VALUE = "null_value"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_CHOICE = "bad_choice"
    KEY_MISMATCH = "key_mismatch"


def _fail(code: ErrorCode, message: str) -> InvalidEventError:
    return InvalidEventError(code.value, message)


class _Reader:
    """Typed access to the fields of one decoded event, raising contract errors."""

    def __init__(self, obj: Mapping[str, Any], known: set[str]) -> None:
        self.obj = obj
        self.known = known

    def _get(self, name: str, required: bool) -> Any:
        self.known.add(name)
        value = self.obj.get(name)
        if value is None and required:
            raise _fail(ErrorCode.MISSING_FIELD, f"field {name!r} is required")
        return value

    def text(self, name: str, *, min_len: int = 1, max_len: int, required: bool = True) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _fail(ErrorCode.WRONG_TYPE, f"{name!r} must be a string, got {_type(value)}")
        if not min_len <= len(value) <= max_len:
            raise _fail(
                ErrorCode.OUT_OF_RANGE,
                f"{name!r} must be {min_len} to {max_len} characters, got {len(value)}",
            )
        return value

    def integer(
        self, name: str, *, low: int, high: int | None = None, required: bool = True
    ) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(ErrorCode.WRONG_TYPE, f"{name!r} must be an integer, got {_type(value)}")
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _fail(ErrorCode.OUT_OF_RANGE, f"{name!r} must be {bounds}, got {value}")
        return value

    def number(self, name: str, *, low: float, required: bool = True) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(ErrorCode.WRONG_TYPE, f"{name!r} must be a number, got {_type(value)}")
        if not math.isfinite(value) or value < low:
            raise _fail(ErrorCode.OUT_OF_RANGE, f"{name!r} must be a number >= {low}, got {value}")
        return float(value)

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self._get(name, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _fail(ErrorCode.WRONG_TYPE, f"{name!r} must be true or false, got {_type(value)}")
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, default: str) -> Any:
        value = self.text(name, max_len=64, required=False)
        if value is None:
            return default
        if value not in choices:
            raise _fail(ErrorCode.BAD_CHOICE, f"{name!r} must be one of {choices}, got {value!r}")
        return value

    def timestamp(self, name: str = "ts") -> int:
        value = self._get(name, required=True)
        return parse_ts(value, name)

    def extra(self) -> dict[str, Any]:
        return {k: v for k, v in self.obj.items() if k not in self.known}


def parse_ts(value: Any, name: str = "ts") -> int:
    """RFC 3339 with an offset, or integer epoch milliseconds, as epoch milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(
            ErrorCode.WRONG_TYPE,
            f"{name!r} must be an RFC 3339 string or epoch milliseconds, got {_type(value)}",
        )
    if isinstance(value, str):
        if not _RFC3339.match(value):
            raise _fail(
                ErrorCode.BAD_TIMESTAMP,
                f"{name!r} must be RFC 3339 with an offset (2024-05-01T12:00:00+02:00), "
                f"got {value[:64]!r}",
            )
        try:
            parsed = datetime.fromisoformat(_trim_fraction(value).replace("z", "Z"))
        except ValueError as exc:
            raise _fail(ErrorCode.BAD_TIMESTAMP, f"{name!r} is not a real date: {exc}") from exc
        ms: int = round(parsed.timestamp() * 1000)
    else:
        ms = value
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise _fail(
            ErrorCode.BAD_TIMESTAMP,
            f"{name!r} = {ms} is outside 1973..2100 in epoch milliseconds; "
            "seconds or microseconds must be converted to milliseconds",
        )
    return ms


def _trim_fraction(value: str) -> str:
    """Python reads at most 6 fractional digits; RFC 3339 allows more."""
    match = re.search(r"\.(\d{7,9})", value)
    if match:
        value = value[: match.start(1)] + match.group(1)[:6] + value[match.end(1) :]
    return value


def _type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _click(r: _Reader) -> Click:
    return Click(
        event_id=r.text("event_id", max_len=64),
        user_id=r.text("user_id", max_len=MAX_ID),
        ts_ms=r.timestamp(),
        item_id=r.text("item_id", max_len=MAX_ID),
        action=r.choice("action", CLICK_ACTIONS, default="click"),
        session_id=r.text("session_id", max_len=MAX_ID, required=False),
        rec_id=r.text("rec_id", max_len=MAX_ID, required=False),
        position=r.integer("position", low=0, required=False),
        extra=r.extra(),
    )


def _search(r: _Reader) -> Search:
    return Search(
        event_id=r.text("event_id", max_len=64),
        user_id=r.text("user_id", max_len=MAX_ID),
        ts_ms=r.timestamp(),
        query=r.text("query", max_len=512),
        session_id=r.text("session_id", max_len=MAX_ID, required=False),
        extra=r.extra(),
    )


def _purchase(r: _Reader) -> Purchase:
    currency = r.text("currency", max_len=3, required=False)
    if currency is not None and not _CURRENCY.match(currency):
        raise _fail(ErrorCode.BAD_CHOICE, f"'currency' must be an ISO 4217 code, got {currency!r}")
    return Purchase(
        event_id=r.text("event_id", max_len=64),
        user_id=r.text("user_id", max_len=MAX_ID),
        ts_ms=r.timestamp(),
        item_id=r.text("item_id", max_len=MAX_ID),
        quantity=r.integer("quantity", low=1),
        price=r.number("price", low=0.0),
        order_id=r.text("order_id", max_len=MAX_ID, required=False),
        currency=currency,
        extra=r.extra(),
    )


def _review(r: _Reader) -> Review:
    return Review(
        event_id=r.text("event_id", max_len=64),
        user_id=r.text("user_id", max_len=MAX_ID),
        ts_ms=r.timestamp(),
        item_id=r.text("item_id", max_len=MAX_ID),
        rating=r.integer("rating", low=1, high=5),
        text=r.text("text", min_len=0, max_len=5_000),
        title=r.text("title", max_len=512, required=False),
        extra=r.extra(),
    )


def _catalog(r: _Reader) -> CatalogItem:
    return CatalogItem(
        item_id=r.text("item_id", max_len=MAX_ID),
        title=r.text("title", max_len=1_000),
        description=r.text("description", min_len=0, max_len=20_000, required=False),
        category=r.text("category", min_len=0, max_len=512, required=False),
        price=r.number("price", low=0.0, required=False),
        in_stock=r.boolean("in_stock", default=True),
        extra=r.extra(),
    )


_BUILDERS: dict[EventKind, Callable[[_Reader], Event]] = {
    EventKind.CLICK: _click,
    EventKind.SEARCH: _search,
    EventKind.PURCHASE: _purchase,
    EventKind.REVIEW: _review,
    EventKind.CATALOG: _catalog,
}


def validate_dict(kind: EventKind, obj: Any, key: str | None = None) -> Event:
    """Validate a decoded event; ``key``, when given, must match its user_id (item_id)."""
    if not isinstance(obj, dict):
        raise _fail(ErrorCode.NOT_OBJECT, f"an event must be a JSON object, got {_type(obj)}")
    event = _BUILDERS[kind](_Reader(obj, set()))
    owner = partition_key(event)
    if key is not None and key != owner:
        field_name = "item_id" if kind is EventKind.CATALOG else "user_id"
        raise _fail(
            ErrorCode.KEY_MISMATCH,
            f"message key {key[:64]!r} differs from {field_name} {owner[:64]!r}; "
            f"key by {field_name} so one shopper's events stay on one partition",
        )
    return event


def check_not_ahead(event: Event, latest_ms: int) -> None:
    """Refuse an event dated after ``latest_ms`` (the clock plus the allowed lead): one event
    from the far future would otherwise make every later one look decades late."""
    ts_ms = getattr(event, "ts_ms", None)
    if ts_ms is not None and ts_ms > latest_ms:
        raise _fail(
            ErrorCode.BAD_TIMESTAMP,
            f"'ts' = {ts_ms} is {(ts_ms - latest_ms) / 1000:.0f} s past the latest time accepted "
            f"now ({latest_ms}); send event times from a clock in step with the shop's "
            "(PULSE_MAX_EVENT_AHEAD_SECONDS sets the lead allowed)",
        )


def parse(kind: EventKind, value: bytes | None, key: bytes | None = None) -> Event:
    """Turn one raw message into a typed record, or raise ``InvalidEventError``."""
    key_text: str | None = None
    if key is not None:
        try:
            key_text = key.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(ErrorCode.NOT_UTF8, "the message key is not valid UTF-8") from exc
    if value is None:
        if kind is EventKind.CATALOG:
            if not key_text:
                raise _fail(
                    ErrorCode.MISSING_FIELD, "a catalogue tombstone needs the item_id as key"
                )
            if len(key_text) > 128:
                raise _fail(
                    ErrorCode.OUT_OF_RANGE, "a tombstone key (item_id) is at most 128 chars"
                )
            return CatalogRemoval(key_text)
        raise _fail(
            ErrorCode.NULL_VALUE,
            f"a {kind.value} message needs a value; only the catalogue accepts tombstones",
        )
    if len(value) > MAX_MESSAGE_BYTES:
        raise _fail(
            ErrorCode.OVERSIZE, f"message is {len(value)} bytes; the limit is {MAX_MESSAGE_BYTES}"
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(ErrorCode.NOT_UTF8, f"message is not valid UTF-8 ({exc.reason})") from exc
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _fail(ErrorCode.NOT_JSON, f"message is not JSON: {exc}") from exc
    return validate_dict(kind, obj, key_text)
