"""Forgetting a shopper on the real stack with two workers: after DELETE /users/{id} nothing in
Redis names the shopper (every key and value scanned), neither worker serves or rebuilds their
profile, older events replayed afterwards do not bring it back, and a newer one starts afresh.
How fast it is gone is measured by bench/forget_bench.py, not asserted here."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from core.events import EventKind
from core.settings import Settings
from tests.integration.stack import (
    T0,
    admin,
    check_services,
    free_port,
    new_settings,
    running_worker,
    send,
    send_catalogue,
)
from tools.harness import forget_run, input_lag

pytestmark = pytest.mark.integration

# Candles, then kitchen: a change of category, so the shopper has an intent-shift signal too.
CLICKS = ["C1", "C3", "C2", "K1", "K2", "K3", "K4", "K2"]


async def values_naming(settings: Settings, who: str) -> list[str]:
    """Every key of the run, and every value in it, that holds ``who``."""
    client = aioredis.from_url(settings.redis_url)
    needle = who.encode()
    found = []
    try:
        async for key in client.scan_iter(match=f"{settings.redis_prefix}:*", count=1000):
            kind = (await client.type(key)).decode()
            if kind == "string":
                parts = [await client.get(key) or b""]
            elif kind == "hash":
                parts = [b for kv in (await client.hgetall(key)).items() for b in kv]
            elif kind == "list":
                parts = await client.lrange(key, 0, -1)
            elif kind == "zset":
                parts = await client.zrange(key, 0, -1)
            elif kind == "set":
                parts = list(await client.smembers(key))
            else:
                parts = [kind.encode()]  # a type this test does not read: shown, not skipped
            if needle in key or any(needle in p for p in parts):
                found.append(key.decode())
    finally:
        await client.aclose()
    return found


async def get(session: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any]:
    async with session.get(url, **kw) as response:
        return response.status, await response.json()


async def until(check: Any, what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        got = await check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:.0f} s"
        await asyncio.sleep(0.1)


async def test_a_forgotten_shopper_is_gone_from_redis_and_both_workers_and_stays_gone() -> None:
    first = new_settings()
    second = first.model_copy(update={"web_port": free_port()})
    await check_services(first)
    user, other = f"forget-{uuid.uuid4().hex[:8]}", f"keep-{uuid.uuid4().hex[:8]}"
    events = [
        (EventKind.CLICK, {"user_id": who, "item_id": item, "ts": T0 + n * 30_000})
        for who in (user, other)
        for n, item in enumerate(CLICKS)
    ]
    workers = [f"http://127.0.0.1:{s.web_port}" for s in (first, second)]
    try:
        async with (
            running_worker(first),
            running_worker(second),
            aiohttp.ClientSession() as session,
        ):
            await send_catalogue(first)
            await send(first, events)
            assert not await input_lag(first, wait_s=60)

            async def held() -> dict[str, Any] | None:
                url = f"{workers[0]}/users/{user}"
                status, body = await get(session, url, headers=admin(first))
                assert status == 200
                ready = body["state"] and body["recommendations"] and body["signals"]
                return body if ready else None

            before = await until(held, "state, list and intent shift stored")
            assert before["signals"][0]["kind"] == "intent_shift"
            assert await values_naming(first, user)

            async with session.delete(f"{workers[1]}/users/{user}", headers=admin(first)) as r:
                assert r.status == 202
                answer = await r.json()
            assert answer["user_id"] == user and answer["complete_by"] > answer["forgotten_at"]

            async def applied_by_both() -> bool:
                bodies = [
                    (await get(session, f"{w}/users/{user}", headers=admin(first)))[1]
                    for w in workers
                ]
                return all(b["forgotten_at"] == answer["forgotten_at"] for b in bodies)

            await until(applied_by_both, "both workers applied the deletion")
            assert await values_naming(first, user) == []
            assert await values_naming(first, other)  # the other shopper is untouched
            for w in workers:
                status, body = await get(session, f"{w}/users/{user}/recommendations")
                assert status == 200 and body["cold_start"] is True
                status, body = await get(session, f"{w}/users/{user}", headers=admin(first))
                assert (body["state"], body["recommendations"], body["signals"]) == (
                    None,
                    None,
                    [],
                )
                status, body = await get(
                    session, f"{w}/trends?kind=intent_shift", headers=admin(first)
                )
                assert user not in {s["subject"] for s in body["signals"]}

            # The same events again, as a replay would bring them: older than the deletion.
            await send(first, events[: len(CLICKS)])
            assert not await input_lag(first, wait_s=60)
            assert await values_naming(first, user) == []

            # An event after the deletion starts a profile holding only itself.
            later = answer["forgotten_at"] + 1
            await send(first, [(EventKind.CLICK, {"user_id": user, "item_id": "G1", "ts": later})])
            assert not await input_lag(first, wait_s=60)

            async def fresh() -> dict[str, Any] | None:
                body = (await get(session, f"{workers[0]}/users/{user}", headers=admin(first)))[1]
                return body["state"]

            state = await until(fresh, "a new profile from the newer event")
            assert [r["item_id"] for r in state["recent_items"]] == ["G1"]
            assert state["events"] == 1
    finally:
        await forget_run(first)


async def test_a_worker_started_after_the_deletion_still_drops_the_older_events() -> None:
    """The deletion is learned from the forget topic at start, before any event is taken: the
    old events sent while no worker runs do not bring the shopper back."""
    first = new_settings()
    await check_services(first)
    user = f"forget-{uuid.uuid4().hex[:8]}"
    events = [
        (EventKind.CLICK, {"user_id": user, "item_id": item, "ts": T0 + n * 30_000})
        for n, item in enumerate(CLICKS)
    ]
    base = f"http://127.0.0.1:{first.web_port}"
    try:
        async with running_worker(first), aiohttp.ClientSession() as session:
            await send_catalogue(first)
            await send(first, events)
            assert not await input_lag(first, wait_s=60)
            assert await values_naming(first, user)
            async with session.delete(f"{base}/users/{user}", headers=admin(first)) as r:
                assert r.status == 202
        # No worker runs: the same (older) events arrive, then a fresh worker starts.
        await send(first, events)
        async with running_worker(first), aiohttp.ClientSession() as session:
            assert not await input_lag(first, wait_s=60)
            assert await values_naming(first, user) == []
            status, body = await get(session, f"{base}/users/{user}", headers=admin(first))
            assert status == 200 and body["state"] is None and body["forgotten_at"] is not None
    finally:
        await forget_run(first)
