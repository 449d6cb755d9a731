"""Each poison message alone in a steady stream: the poison is dead-lettered with its reason
(or, when it is valid, processed), and the valid events after it are processed within 10 s."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from core.events import EventKind
from core.settings import Settings
from core.topics import Topics
from streams.producer import EventProducer
from tests.integration.stack import T0, new_settings, read_topic, running_shop

Poison = Callable[[Settings, EventProducer], Awaitable[None]]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return new_settings(partitions=3)


@pytest.fixture(scope="module")
async def shop(settings: Settings) -> AsyncIterator[Settings]:
    async with running_shop(settings) as shop:
        yield shop


async def get(settings: Settings, path: str) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{settings.web_port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def list_of(settings: Settings, user: str, timeout_s: float = 10) -> dict[str, Any]:
    """The shopper's stored list, once there is one (fails after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = await get(settings, f"/users/{user}/recommendations?k=20")
        if status == 200 and not body["cold_start"]:
            return body
        assert time.monotonic() < deadline, f"no list for {user!r} within {timeout_s} s: {body}"
        await asyncio.sleep(0.1)


async def after_the_poison_valid_events_go_on(settings: Settings, poison: Poison) -> None:
    """Send clicks, the poison, then more clicks: the last click's list within 10 s."""
    async with EventProducer(settings, client_id="chaos-poison") as producer:
        stamp = int(time.time() * 1000)
        for n in range(20):
            await producer.send(
                EventKind.CLICK,
                {"user_id": f"steady-{n % 5}", "item_id": "K2", "ts": stamp + n},
            )
        await producer.flush()
        await poison(settings, producer)
        await producer.send(
            EventKind.CLICK, {"user_id": "after-poison", "item_id": "K1", "ts": stamp + 100}
        )
    await list_of(settings, "after-poison")


async def dead_letter(
    settings: Settings, which: Callable[[dict[str, Any]], bool], timeout_s: float = 10
) -> dict[str, Any]:
    """The one dead-letter record ``which`` accepts, once it is there (within ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        topic = Topics.from_settings(settings).dead_letter
        found = [
            r for _, v in await read_topic(settings, topic) if v and which(r := orjson.loads(v))
        ]
        if found:
            assert len(found) == 1, found
            return found[0]
        assert time.monotonic() < deadline, "no such dead letter"
        await asyncio.sleep(0.2)


async def test_a_megabyte_of_nul_bytes_is_dead_lettered_and_fits(shop: Settings) -> None:
    async def poison(settings: Settings, producer: EventProducer) -> None:
        topic = Topics.from_settings(settings).for_kind(EventKind.CLICK)
        await producer.send_raw(topic, b"nul-user", b"\x00" * 921_600)
        await producer.flush()

    await after_the_poison_valid_events_go_on(shop, poison)
    record = await dead_letter(shop, lambda r: r.get("payload_size") == 921_600)
    assert record["error"]["code"] == "oversize" and record["payload_truncated"] is True


async def test_a_click_from_2099_is_refused_and_freezes_nothing(shop: Settings) -> None:
    async def poison(settings: Settings, producer: EventProducer) -> None:
        topic = Topics.from_settings(settings).for_kind(EventKind.CLICK)
        event = {
            "event_id": "from-2099",
            "user_id": "timetraveller",
            "item_id": "K1",
            "ts": 4_070_908_800_000,
        }  # 2099-01-01
        await producer.send_raw(topic, b"timetraveller", orjson.dumps(event))
        await producer.flush()

    await after_the_poison_valid_events_go_on(shop, poison)
    record = await dead_letter(shop, lambda r: "from-2099" in (r["payload"] or ""))
    assert record["error"]["code"] == "bad_timestamp"


async def test_a_blank_search_gives_the_shopper_a_list(shop: Settings) -> None:
    async def poison(settings: Settings, producer: EventProducer) -> None:
        await producer.send(EventKind.SEARCH, {"user_id": "blank-searcher", "query": " "})

    await after_the_poison_valid_events_go_on(shop, poison)
    assert (await list_of(shop, "blank-searcher"))["user_id"] == "blank-searcher"


async def test_a_user_id_with_braces_is_served(shop: Settings) -> None:
    async def poison(settings: Settings, producer: EventProducer) -> None:
        await producer.send(EventKind.CLICK, {"user_id": "a{b}c", "item_id": "K3", "ts": T0})

    await after_the_poison_valid_events_go_on(shop, poison)
    assert (await list_of(shop, "a{b}c"))["user_id"] == "a{b}c"


async def test_a_blank_title_is_indexed_and_a_removed_item_leaves_every_list(
    shop: Settings,
) -> None:
    async def poison(settings: Settings, producer: EventProducer) -> None:
        await producer.send(EventKind.CATALOG, {"item_id": "SPACES", "title": "   "})
        await producer.send(EventKind.CLICK, {"user_id": "remover", "item_id": "K1", "ts": T0})

    await after_the_poison_valid_events_go_on(shop, poison)
    before = await list_of(shop, "remover")
    gone = before["items"][0]["item_id"]
    async with EventProducer(shop, client_id="chaos-tombstone") as producer:
        topic = Topics.from_settings(shop).for_kind(EventKind.CATALOG)
        await producer.send_raw(topic, gone.encode(), None)
    deadline = time.monotonic() + 10
    while gone in {i["item_id"] for i in (await list_of(shop, "remover"))["items"]}:
        assert time.monotonic() < deadline, f"{gone} still served 10 s after its removal"
        await asyncio.sleep(0.1)
    status, health = await get(shop, "/health")
    assert status == 200 and health["ready"] and health["tasks"]["catalogue"]["restarts"] == 0


async def test_a_gzip_header_on_a_plain_body_is_a_400(shop: Settings) -> None:
    url = f"http://127.0.0.1:{shop.web_port}/events"
    body = orjson.dumps({"type": "click", "user_id": "z", "item_id": "K1"})
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        for encoding, data in (("gzip", body), ("deflate", body), ("gzip", gzip.compress(body))):
            async with session.post(
                url, data=data, headers={"Content-Encoding": encoding}
            ) as response:
                if data is body:
                    assert response.status == 400, (encoding, await response.text())
                else:
                    assert response.status == 202  # a real gzip body is taken
