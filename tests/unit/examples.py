"""Valid events of every kind, for tests to start from."""

from __future__ import annotations

from typing import Any

from core.events import EventKind

VALID: dict[EventKind, dict[str, Any]] = {
    EventKind.CLICK: {
        "event_id": "e-click-1",
        "user_id": "17850",
        "ts": "2011-06-01T10:00:00+01:00",
        "item_id": "85123A",
        "action": "add_to_cart",
        "session_id": "s1",
        "rec_id": "r1",
        "position": 3,
    },
    EventKind.SEARCH: {
        "event_id": "e-search-1",
        "user_id": "17850",
        "ts": 1_306_918_800_000,
        "query": "tea towels",
    },
    EventKind.PURCHASE: {
        "event_id": "e-buy-1",
        "user_id": "17850",
        "ts": "2011-06-01T09:00:00Z",
        "item_id": "85123A",
        "quantity": 6,
        "price": 2.55,
        "order_id": "536365",
        "currency": "GBP",
    },
    EventKind.REVIEW: {
        "event_id": "e-review-1",
        "user_id": "A1",
        "ts": "2018-08-23T00:00:00-05:00",
        "item_id": "B0001",
        "rating": 5,
        "text": "Smells lovely and lasts all day.",
        "title": "Great",
    },
    EventKind.CATALOG: {
        "item_id": "85123A",
        "title": "WHITE HANGING HEART T-LIGHT HOLDER",
        "description": "A white metal heart",
        "category": "Home > Candles",
        "price": 2.55,
        "in_stock": True,
    },
}


def valid(kind: EventKind, **changes: Any) -> dict[str, Any]:
    event = dict(VALID[kind])
    for name, value in changes.items():
        if value is ...:
            event.pop(name, None)
        else:
            event[name] = value
    return event
