"""Two real worker processes on the real local Redis Cluster: the group splits the partitions,
shoppers owned by each worker get their lists, and trends are computed where each subject's
observations meet: steady traffic flags nothing, and a burst of one item whose clicks arrive on
every input partition (so through both workers) is flagged exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import aiohttp
import pytest
from aiokafka.partitioner import murmur2
from redis.asyncio.cluster import RedisCluster

from core.events import EventKind
from core.settings import Settings
from tests.integration.stack import (
    CATALOGUE,
    T0,
    check_services,
    free_port,
    new_settings,
    read_signals,
    running_worker,
    send,
    send_catalogue,
)
from tools.harness import forget_run, trends_lag

pytestmark = pytest.mark.integration

PARTITIONS = 4
KITCHEN = [item for item, _, category in CATALOGUE if category == "Home > Kitchen"]


async def health(session: aiohttp.ClientSession, settings: Settings) -> dict[str, Any]:
    async with session.get(f"http://127.0.0.1:{settings.web_port}/health") as response:
        body: dict[str, Any] = await response.json()
        return body


async def until_both_consume(workers: list[Settings]) -> None:
    """Until the group has given each worker some of the input partitions."""
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession() as session:
        while True:
            shares = [(await health(session, w))["partitions"] for w in workers]
            if all(shares) and sum(shares) == PARTITIONS * 5:
                return
            assert time.monotonic() < deadline, f"the partitions never split: {shares}"
            await asyncio.sleep(0.5)


def input_partition(user_id: str) -> int:
    """The input partition a shopper's events go to (keyed by shopper; Kafka's partitioner)."""
    return (murmur2(user_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def on_every_partition(prefix: str, per_partition: int) -> list[str]:
    """Shopper ids ``prefix-n``, ``per_partition`` of them on each input partition (taken in
    turn), so a burst of theirs arrives through every partition whatever the prefix: 24 ids
    drawn at random miss one of 4 partitions about once in 250 runs."""
    chosen: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    n = 0
    while any(len(ids) < per_partition for ids in chosen.values()):
        uid = f"{prefix}-{n}"
        ids = chosen[input_partition(uid)]
        if len(ids) < per_partition:
            ids.append(uid)
        n += 1
    return [uid for turn in zip(*chosen.values(), strict=True) for uid in turn]


async def test_two_workers_share_shoppers_and_flag_a_burst_once(
    cluster: RedisCluster, cluster_port: int
) -> None:
    first = new_settings(
        redis_url=f"redis://127.0.0.1:{cluster_port}",
        redis_cluster=True,
        partitions=PARTITIONS,
        trend_window_seconds=1,
        trend_grace_seconds=5,  # windows close within the test's 15 s of event time
    )
    second = first.model_copy(update={"web_port": free_port()})
    tag = uuid.uuid4().hex[:6]
    await check_services(first)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for settings in (first, second):
                await stack.enter_async_context(running_worker(settings))
            await until_both_consume([first, second])
            await send_catalogue(first)
            steady = [
                (
                    EventKind.CLICK,
                    {
                        "user_id": f"s-{tag}-{n % 40}",
                        "item_id": KITCHEN[n % len(KITCHEN)],
                        "ts": T0 + window * 1000 + n * 20,
                    },
                )
                for window in range(15)
                for n in range(30)
            ]
            await send(first, steady)
            assert not await trends_lag(first, wait_s=60)
            quiet = await read_signals(first)
            bursters = on_every_partition(f"b-{tag}", per_partition=6)
            await send(
                first,
                [
                    (EventKind.CLICK, {"user_id": u, "item_id": "G2", "ts": T0 + 15_000 + n})
                    for n, u in enumerate(bursters)
                ],
            )
            signals = await read_signals(first)
            lists = {}
            async with aiohttp.ClientSession() as session:
                for n, uid in enumerate([*bursters, f"s-{tag}-0"]):
                    settings = (first, second)[n % 2]  # any worker answers for any shopper
                    url = f"http://127.0.0.1:{settings.web_port}/users/{uid}/recommendations"
                    async with session.get(url, params={"k": "5"}) as response:
                        lists[uid] = await response.json()
                url = f"http://127.0.0.1:{second.web_port}/trends"
                async with session.get(url, params={"kind": "trending_item"}) as response:
                    trending = await response.json()
    finally:
        await forget_run(first)
    assert {input_partition(u) for u in bursters} == set(range(PARTITIONS))
    assert [s for s in quiet if s["kind"].startswith("trending")] == []
    flagged = [(s["kind"], s["subject"]) for s in signals if s["kind"] == "trending_item"]
    assert flagged == [("trending_item", "G2")]
    burst = next(s for s in signals if s["kind"] == "trending_item")
    assert burst["details"]["count"] >= 10 and burst["window"]["start"] == T0 + 15_000
    assert [s["subject"] for s in trending["signals"]] == ["G2"]
    missing = [uid for uid, body in lists.items() if body.get("cold_start") or not body["items"]]
    assert missing == []
