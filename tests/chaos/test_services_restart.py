"""Redis and the Kafka broker restarted mid-stream: nothing lost or counted twice, every part
of the worker recovers, and catalogue changes made during the outage are applied after it."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from core.events import EventKind
from core.settings import Settings
from streams.admin import ensure_topics
from streams.producer import EventProducer
from tests.chaos.load import expected_counts, send, stream, wait_counted
from tests.chaos.services import OwnService, own_kafka, own_redis
from tests.integration.stack import check_services, new_settings, running_worker, send_catalogue
from tools.harness import forget_run
from tools.stats import read_totals

EVENTS = stream(shoppers=200, events=1_500, seed=2)
RATE = 300.0
NEW_ITEM = {"item_id": "DURING", "title": "ZINC PLANT POT", "category": "Garden > Pots"}


async def health(settings: Settings) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{settings.web_port}/health"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def until_healthy(settings: Settings, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = await health(settings)
        if status == 200 and body["ready"] and not body["failing"]:
            return body
        assert time.monotonic() < deadline, f"the worker did not recover: {body}"
        await asyncio.sleep(0.2)


async def item_in_redis(settings: Settings, item: str, timeout_s: float = 30) -> bool:
    client = aioredis.from_url(settings.redis_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await client.exists(f"{settings.redis_prefix}:i:{{{item}}}"):
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await client.aclose()


async def outage(
    settings: Settings, service: OwnService, down_s: float, *, change_during: bool
) -> dict[str, Any]:
    """Stop ``service`` mid-stream, start it again after ``down_s``, and change the catalogue
    while it is down (Redis) or once it is back (Kafka: the producer needs it to take the
    change); return what ``/health`` said during the outage."""
    async with EventProducer(settings, client_id="chaos-catalogue") as producer:
        sent = [0]
        traffic = asyncio.create_task(send(settings, EVENTS, RATE, sent))
        while sent[0] < len(EVENTS) // 3:
            await asyncio.sleep(0.05)
        service.stop(signal.SIGTERM)
        if change_during:
            await producer.send(EventKind.CATALOG, NEW_ITEM)
        await asyncio.sleep(down_s)
        status, during = await health(settings)
        service.start()
        if not change_during:
            await producer.send(EventKind.CATALOG, NEW_ITEM)
        await traffic
    return {**during, "http": status}


async def test_a_redis_restart_mid_stream(tmp_path: Path) -> None:
    redis, url = own_redis(tmp_path / "redis")
    redis.start()
    settings = new_settings(partitions=3, redis_url=url)
    await check_services(settings)
    try:
        async with running_worker(settings):
            await send_catalogue(settings)
            during = await outage(settings, redis, down_s=4, change_during=True)
            await wait_counted(settings, len(EVENTS) + 13, timeout_s=90)
            after = await until_healthy(settings)
            indexed = await item_in_redis(settings, NEW_ITEM["item_id"])
        totals = await read_totals(settings)
    finally:
        await forget_run(settings)
        redis.stop()
    assert during["http"] == 503 and during["redis"] is False
    assert after["redis"] and after["tasks"]["catalogue"]["running"]
    assert indexed, "the catalogue change made during the outage was never applied"
    assert totals.processed == expected_counts(EVENTS) + Counter({"catalog": 13})
    assert not totals.dead_lettered


async def test_a_kafka_broker_restart_mid_stream(tmp_path: Path) -> None:
    kafka, bootstrap = own_kafka(tmp_path / "kafka")
    kafka.start()
    settings = new_settings(partitions=3, kafka_bootstrap=bootstrap)
    await check_services(settings)
    await ensure_topics(settings)
    try:
        async with running_worker(settings):
            await send_catalogue(settings)
            during = await outage(settings, kafka, down_s=3, change_during=False)
            await wait_counted(settings, len(EVENTS) + 13, timeout_s=120)
            after = await until_healthy(settings, timeout_s=90)
            indexed = await item_in_redis(settings, NEW_ITEM["item_id"])
        totals = await read_totals(settings)
    finally:
        await forget_run(settings)
        kafka.stop()
    assert during["http"] == 503 and during["kafka"] is False
    assert after["kafka"] and after["tasks"]["catalogue"]["running"]
    assert indexed, "the catalogue change made during the outage was never applied"
    assert totals.processed == expected_counts(EVENTS) + Counter({"catalog": 13})
    assert not totals.dead_lettered
