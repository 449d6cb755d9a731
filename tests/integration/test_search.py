"""GET /search on the real stack: Kafka, Redis, a worker with the real encoder and catalogue."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from core.events import EventKind
from core.settings import Settings
from streams.producer import EventProducer
from tests.integration.stack import T0, new_settings, running_shop, send

pytestmark = pytest.mark.integration

# Gifts of two categories, for two shoppers of those categories. (A "GIFT CARD" would match
# 'gift' best for everyone: a short text of the word; it stays first at the default strength,
# and the shopper's own gifts follow it.)
GIFTS = [
    ("KG1", "KITCHEN GIFT SET WOODEN SPOONS", "Home > Kitchen", True),
    ("KG2", "TEA TOWEL GIFT BOX", "Home > Kitchen", True),
    ("CG1", "SCENTED CANDLE GIFT SET", "Home > Candles", True),
    ("CG2", "CANDLE HOLDER GIFT", "Home > Candles", True),
    ("GW1", "GIFT WRAP", "Gifts", False),
]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return new_settings()


@pytest.fixture(scope="module")
async def shop(settings: Settings) -> AsyncIterator[Settings]:
    async with running_shop(settings):
        await send_items(settings, GIFTS)
        await until(settings, lambda b: {"KG1", "KG2", "CG1", "CG2"} <= ids(b), q="gift")
        yield settings


async def send_items(settings: Settings, items: list[tuple[str, str, str, bool]]) -> None:
    async with EventProducer(settings, client_id="it-search-catalogue") as producer:
        for item, title, category, in_stock in items:
            event = {"item_id": item, "title": title, "category": category, "in_stock": in_stock}
            await producer.send(EventKind.CATALOG, event)


def ids(body: dict[str, Any]) -> set[str]:
    return {i["item_id"] for i in body.get("items", [])}


async def get(settings: Settings, path: str, **params: str) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{settings.web_port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as response:
        return response.status, await response.json()


async def until(
    settings: Settings, done: Any, timeout_s: float = 60, **params: str
) -> dict[str, Any]:
    """GET /search with ``params`` until ``done(body)`` (the worker applies what was sent)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = await get(settings, "/search", **params)
        if status == 200 and done(body):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def processed(settings: Settings, user: str, event_id: str) -> None:
    """Wait until the shopper's state after ``event_id`` is in Redis (their stored list, written
    with it, names the event)."""
    deadline = time.monotonic() + 60
    while True:
        status, body = await get(settings, f"/users/{user}/recommendations")
        if status == 200 and body.get("trigger_event_id") == event_id:
            return
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


async def history(settings: Settings, user: str, items: list[str]) -> None:
    events = [
        (EventKind.CLICK, {"user_id": user, "item_id": item, "ts": T0 + n * 60_000})
        for n, item in enumerate(items)
    ]
    sent = await send(settings, events)
    await processed(settings, user, sent[-1])


async def test_two_shoppers_get_their_own_first_result_with_reasons(shop: Settings) -> None:
    kitchen, candles = (f"shopper-{uuid.uuid4().hex[:8]}" for _ in range(2))
    await history(shop, kitchen, ["K1", "K2", "K3", "K4"])
    await history(shop, candles, ["C1", "C3", "C2"])
    _, anyone = await get(shop, "/search", q="gift", k="5")
    status, for_kitchen = await get(shop, "/search", q="gift", k="5", user_id=kitchen)
    _, for_candles = await get(shop, "/search", q="gift", k="5", user_id=candles)
    assert status == 200 and for_kitchen["personalised"] and not anyone["personalised"]
    first = {for_kitchen["items"][0]["item_id"], for_candles["items"][0]["item_id"]}
    assert for_kitchen["items"][0]["item_id"] in {"KG1", "KG2"}, for_kitchen
    assert for_candles["items"][0]["item_id"] in {"CG1", "CG2"}, for_candles
    assert len(first) == 2
    for body in (for_kitchen, for_candles, anyone):
        assert all(item["reason"] and item["matched_by"] for item in body["items"])
    # the shopper's evidence speaks for their first result; anyone's says how it matches
    assert for_kitchen["items"][0]["reason"] != "matches 'gift'", for_kitchen
    assert {i["reason"] for i in anyone["items"]} <= {"matches 'gift'", "related to 'gift'"}


async def test_out_of_stock_items_never_appear(shop: Settings) -> None:
    for q in ("gift", "gift wrap", "wrap"):
        _, body = await get(shop, "/search", q=q, k="20")
        assert "GW1" not in ids(body), body
    await send_items(shop, [("KG2", "TEA TOWEL GIFT BOX", "Home > Kitchen", False)])
    await until(shop, lambda b: "KG2" not in ids(b), q="tea towel gift", k="20")
    await send_items(shop, [("KG2", "TEA TOWEL GIFT BOX", "Home > Kitchen", True)])
    await until(shop, lambda b: "KG2" in ids(b), q="tea towel gift", k="20")


async def test_a_recorded_search_becomes_the_shoppers_event(shop: Settings) -> None:
    user = f"shopper-{uuid.uuid4().hex[:8]}"
    event_id = f"search-{uuid.uuid4().hex[:8]}"
    status, body = await get(
        shop, "/search", q="scented candle", user_id=user, record="true", event_id=event_id
    )
    assert status == 200 and body["recorded"] == {"event_id": event_id, "accepted": True}
    await processed(shop, user, event_id)  # the worker made the shopper's list from it
    status, bad = await get(shop, "/search", q=" ", k="0")
    assert status == 400 and bad["error"]["message"]
