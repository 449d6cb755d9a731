"""A request to forget a shopper, as every worker reads it from the forget topic.

Keyed by the shopper's id (the topic is compacted: the latest request per shopper stays, for
``forget_keep_days``). ``at_ms`` is when the shopper was forgotten: their events that happened
at or before it are forgotten with them, wherever they still are (the input topics, a batch in
flight); events that happened after it start a new profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from core.errors import InvalidEventError
from core.validation import MAX_ID

MAX_USER_ID = MAX_ID  # as every id of the event contract


@dataclass(frozen=True, slots=True)
class Forget:
    user_id: str
    at_ms: int


def check_user_id(user_id: str) -> str:
    """The id, if the event contract allows it; else InvalidEventError."""
    if not 1 <= len(user_id) <= MAX_USER_ID:
        raise InvalidEventError(
            "out_of_range", f"'user_id' must be 1 to {MAX_USER_ID} characters, got {len(user_id)}"
        )
    return user_id


def encode_forget(request: Forget) -> tuple[bytes, bytes]:
    """``(key, value)`` of the request's message."""
    value = orjson.dumps({"user_id": request.user_id, "at_ms": request.at_ms})
    return request.user_id.encode(), value


def decode_forget(value: bytes | None) -> Forget:
    """The request in a message's value; InvalidEventError when it is not one.

    >>> decode_forget(encode_forget(Forget("u1", 1_700_000_000_000))[1])
    Forget(user_id='u1', at_ms=1700000000000)
    """
    try:
        obj = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidEventError("not_json", f"forget request is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidEventError("not_object", "forget request must be a JSON object")
    user_id, at_ms = obj.get("user_id"), obj.get("at_ms")
    if not isinstance(user_id, str):
        raise InvalidEventError("wrong_type", "'user_id' must be a string")
    if isinstance(at_ms, bool) or not isinstance(at_ms, int) or at_ms < 0:
        raise InvalidEventError("wrong_type", "'at_ms' must be a non-negative integer")
    return Forget(check_user_id(user_id), at_ms)
