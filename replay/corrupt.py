"""Deliberately broken messages, to exercise the dead-letter path during a demo or a test."""

from __future__ import annotations

import random
from typing import Any

import orjson


# (name, turn a valid event into bytes that break the contract)
def _truncated(event: dict[str, Any]) -> bytes:
    data = orjson.dumps(event)
    return data[: max(1, len(data) // 2)]


def _missing_user(event: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in event.items() if k != "user_id"})


def _wrong_type(event: dict[str, Any]) -> bytes:
    return orjson.dumps({**event, "ts": [event.get("ts")]})


def _not_utf8(event: dict[str, Any]) -> bytes:
    return b"\xff\xfe" + orjson.dumps(event)


CORRUPTIONS = {
    "not_json": _truncated,
    "missing_field": _missing_user,
    "wrong_type": _wrong_type,
    "not_utf8": _not_utf8,
}


def corrupt(event: dict[str, Any], rng: random.Random) -> tuple[str, bytes]:
    """One broken version of ``event`` and the error code the worker must give it."""
    code = rng.choice(sorted(CORRUPTIONS))
    return code, CORRUPTIONS[code](event)
