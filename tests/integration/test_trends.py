"""Trend signals on the real stack: a burst reaches the trends topic and GET /trends; a shopper's
change of mind is an intent shift."""

from __future__ import annotations

import uuid

import aiohttp
import pytest
import redis.asyncio as aioredis

from core.events import EventKind
from feature_store.keys import Keys
from feature_store.trend_state import TrendStateStore
from tests.integration.stack import (
    T0,
    admin,
    check_services,
    new_settings,
    read_signals,
    running_worker,
    send,
    send_catalogue,
)
from tools.harness import forget_run, input_lag

pytestmark = pytest.mark.integration

KITCHEN = ["K1", "K2", "K3", "K4", "K5", "K6"]


async def test_a_burst_trends_and_steady_traffic_does_not() -> None:
    # One-second windows in event time, so the test can play many windows at once; one
    # partition, so the worker reads the clicks in event time (several partitions may be read
    # a backlog at a time, and events of a window already closed count as late).
    settings = new_settings(
        trend_window_seconds=1, trend_grace_seconds=5, batch_max_wait_ms=50, partitions=1
    )
    await check_services(settings)
    try:
        async with running_worker(settings):
            await send_catalogue(settings)
            steady = [
                (
                    EventKind.CLICK,
                    {
                        "user_id": f"s{n % 40}",
                        "item_id": KITCHEN[n % 6],
                        "ts": T0 + window * 1000 + n * 20,
                    },
                )
                for window in range(15)
                for n in range(30)
            ]
            burst = [
                (EventKind.CLICK, {"user_id": f"b{n}", "item_id": "G2", "ts": T0 + 15_000 + n})
                for n in range(25)
            ] + [
                (
                    EventKind.SEARCH,
                    {"user_id": f"q{n}", "query": "Watering  CAN", "ts": T0 + 15_000 + n},
                )
                for n in range(12)
            ]
            await send(settings, steady)
            # The burst's searches are on another topic: let the steady clicks go first.
            assert not await input_lag(settings, wait_s=30)
            await send(settings, burst)
            signals = await read_signals(settings)
            async with aiohttp.ClientSession() as session:
                base = f"http://127.0.0.1:{settings.web_port}/trends"
                async with session.get(f"{base}?kind=trending_item&limit=5") as response:
                    items = await response.json()
                async with session.get(f"{base}?kind=nonsense") as response:
                    refused = (response.status, await response.json())
            # Kept in Redis, so any worker answers GET /trends with every owner's signals.
            client = aioredis.from_url(settings.redis_url)
            try:
                store = TrendStateStore(client, Keys(settings.redis_prefix))
                stored = await store.latest("trending_item", 10, range(settings.partitions))
            finally:
                await client.aclose()
    finally:
        await forget_run(settings)
    trending = {(s["kind"], s["subject"]) for s in signals if s["kind"].startswith("trending")}
    assert trending == {
        ("trending_item", "G2"),
        ("trending_category", "Garden > Tools"),
        ("trending_query", "watering can"),
    }
    item = next(s for s in signals if s["subject"] == "G2")
    assert item["details"]["title"] == "WATERING CAN ZINC" and item["details"]["count"] >= 10
    assert item["window"] == {"start": T0 + 15_000, "ms": 1000}
    assert [s["subject"] for s in items["signals"]] == ["G2"]
    assert stored == items["signals"]
    assert refused[0] == 400 and refused[1]["error"]["code"] == "bad_choice"


async def test_a_change_of_category_is_one_intent_shift() -> None:
    settings = new_settings()
    await check_services(settings)
    user = f"shopper-{uuid.uuid4().hex[:6]}"
    clicks = ["C1", "C3", "C2", "K1", "K2", "K3", "K4", "K2"]
    try:
        async with running_worker(settings):
            await send_catalogue(settings)
            await send(
                settings,
                [
                    (EventKind.CLICK, {"user_id": user, "item_id": item, "ts": T0 + n * 30_000})
                    for n, item in enumerate(clicks)
                ],
            )
            signals = await read_signals(settings)
            async with aiohttp.ClientSession() as session:
                url = f"http://127.0.0.1:{settings.web_port}/trends?kind=intent_shift"
                async with session.get(url, headers=admin(settings)) as response:
                    summary = await response.json()
    finally:
        await forget_run(settings)
    shifts = [s for s in signals if s["kind"] == "intent_shift"]
    assert [(s["subject"], s["details"]) for s in shifts] == [
        (user, {"from": "Home > Candles", "to": "Home > Kitchen", "trigger": "category"})
    ]
    assert summary["towards"][0]["category"] == "Home > Kitchen"
