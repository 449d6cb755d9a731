"""Helpers of the integration tests: the real local Kafka and Redis (``infra/stack.sh up``), real
worker processes, and a small shop to send them.

Each run uses its own topic prefix, Redis key prefix and consumer group (``new_settings``), so
runs never see each other's data. When Kafka or Redis is not reachable the tests fail with a
hint; they are never skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from core.events import EventKind
from core.settings import Settings
from core.topics import Topics
from feature_store.clients import redis_client
from feature_store.counts import BatchCounts
from streams.admin import ensure_topics, topic_reader
from streams.producer import EventProducer
from tools.harness import (
    forget_run,
    isolated,
    start_worker,
    stop_worker,
    trends_lag,
    wait_healthy,
)
from tools.stats import read_totals

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        **isolated("it"),
        "partitions": 3,
        "web_port": free_port(),
        "batch_max_wait_ms": 20,
        "model_path": ROOT / "onnx_models",
        # Workers collect everything each second (core.heap.BatchHeap; 60 s by default), so the
        # suite runs through many full passes between batches.
        "gc_full_pass_seconds": 1.0,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


def admin(settings: Settings) -> dict[str, str]:
    """The headers of an admin request to the run's workers."""
    return {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}


async def check_services(settings: Settings) -> None:
    client = aioredis.from_url(settings.redis_url)
    try:
        await client.ping()
    except OSError as exc:
        pytest.fail(
            f"Redis is not reachable at {settings.redis_url} ({exc}); run `infra/stack.sh up`"
        )
    finally:
        await client.aclose()
    await ensure_topics(settings, timeout_s=20)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[subprocess.Popen[bytes]]:
    """A real worker process with ``settings`` (passed as PULSE_* variables)."""
    log = ROOT / "var" / "log" / f"it-worker-{settings.app_id}.log"
    proc = start_worker(settings, log)
    try:
        await wait_healthy(f"http://127.0.0.1:{settings.web_port}/health", proc, timeout_s=90)
        yield proc
    finally:
        code = stop_worker(proc)
        if code not in (0, -15):
            sys.stderr.write(log.read_text()[-5000:])


@contextlib.asynccontextmanager
async def running_shop(settings: Settings) -> AsyncIterator[Settings]:
    """A worker with ``settings`` over this suite's catalogue; the run's topics and keys are
    forgotten afterwards."""
    await check_services(settings)
    try:
        async with running_worker(settings):
            await send_catalogue(settings)
            yield settings
    finally:
        await forget_run(settings)


async def wait_for_totals(settings: Settings, before: BatchCounts, expected: int) -> BatchCounts:
    """Totals since ``before`` once ``expected`` messages are counted (or after 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        now = await read_totals(settings)
        delta = BatchCounts(
            now.processed - before.processed, now.dead_lettered - before.dead_lettered
        )
        if delta.total >= expected or time.monotonic() > deadline:
            # A little longer, so that extra (duplicate) counts would show up too.
            await asyncio.sleep(1.0)
            now = await read_totals(settings)
            return BatchCounts(
                now.processed - before.processed, now.dead_lettered - before.dead_lettered
            )
        await asyncio.sleep(0.2)


async def read_topic(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every message of ``topic`` from the beginning up to its current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[tuple[bytes | None, bytes | None]] = []
        remaining = {tp for tp in parts if end[tp] > 0}
        deadline = time.monotonic() + 30
        while remaining and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                for m in messages:
                    if m.offset < end[tp]:
                        out.append((m.key, m.value))
                    if m.offset >= end[tp] - 1:
                        remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


CATALOGUE = [
    ("K1", "SET OF 3 TEA TOWELS VINTAGE KITCHEN", "Home > Kitchen"),
    ("K2", "RETROSPOT TEA TOWEL RED", "Home > Kitchen"),
    ("K3", "KITCHEN APRON RED SPOTTY", "Home > Kitchen"),
    ("K4", "ENAMEL TEAPOT BLUE KITCHEN", "Home > Kitchen"),
    ("K5", "WOODEN CHOPPING BOARD KITCHEN", "Home > Kitchen"),
    ("K6", "OVEN GLOVE TEA TOWEL SET", "Home > Kitchen"),
    ("C1", "VANILLA SCENTED CANDLE", "Home > Candles"),
    ("C2", "GLASS TEA LIGHT HOLDER", "Home > Candles"),
    ("C3", "ROSE SCENTED CANDLE IN TIN", "Home > Candles"),
    ("G1", "GARDEN TROWEL GREEN", "Garden > Tools"),
    ("G2", "WATERING CAN ZINC", "Garden > Tools"),
    ("G3", "BIRD FEEDER HANGING", "Garden > Outdoor"),
]
T0 = 1_717_232_400_000  # 2024-06-01T09:00:00Z


async def send_catalogue(
    settings: Settings, changes: dict[str, dict[str, Any]] | None = None
) -> None:
    async with EventProducer(settings, client_id="it-catalogue") as producer:
        for item, title, category in CATALOGUE:
            if changes is None or item in changes:
                event = {
                    "item_id": item,
                    "title": title,
                    "category": category,
                    **(changes or {}).get(item, {}),
                }
                await producer.send(EventKind.CATALOG, event)
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        deadline = time.monotonic() + 60
        for item, *_ in CATALOGUE:
            while True:
                stored = await client.hgetall(f"{settings.redis_prefix}:i:{{{item}}}")
                expected = (changes or {}).get(item, {}).get("in_stock")
                if stored and (expected is None or int(stored[b"in_stock"]) == int(expected)):
                    break
                assert time.monotonic() < deadline, f"catalogue item {item} never reached Redis"
                await asyncio.sleep(0.1)
    finally:
        await client.aclose()


async def send(settings: Settings, events: list[tuple[EventKind, dict[str, Any]]]) -> list[str]:
    ids = []
    async with EventProducer(settings, client_id="it-shopper") as producer:
        for kind, event in events:
            record = await producer.send(kind, event)
            ids.append(record.event_id)  # type: ignore[union-attr]
    return ids


async def read_signals(settings: Settings, timeout_s: float = 20) -> list[dict[str, Any]]:
    """Every message on the trends topic so far (waits until the worker has caught up)."""
    assert not await trends_lag(settings, wait_s=30)
    reader = await topic_reader(settings, Topics.from_settings(settings).trends, from_end=False)
    out: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while time.monotonic() < deadline and quiet < 3:
            batch = await reader.getmany(timeout_ms=300)
            records = [r for rs in batch.values() for r in rs]
            quiet = 0 if records else quiet + 1
            out += [orjson.loads(r.value) for r in records]
    finally:
        await reader.stop()
    return out
