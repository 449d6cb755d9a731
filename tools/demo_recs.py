"""The demo's view of ``pulse.recommendations``: lists as they are published, with latency."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer

from core.settings import Settings
from core.topics import Topics
from feature_store.clients import redis_client
from feature_store.keys import Keys
from streams.admin import topic_reader


class TopicWatcher:
    """Follows one of Pulse's output topics from its end, handing each message to ``handle``."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.count = 0
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = await topic_reader(self.settings, self.topic, from_end=True)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            now = time.time() * 1000
            for records in batch.values():
                for record in records:
                    self.count += 1
                    self.handle(orjson.loads(record.value), now)

    def handle(self, message: dict[str, Any], now_ms: float) -> None:
        raise NotImplementedError


class RecommendationWatcher(TopicWatcher):
    """Lists as they are published: latencies and the latest lists."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, Topics.from_settings(settings).recommendations)
        self.latencies_ms: list[float] = []
        self.latest: list[dict[str, Any]] = []

    def handle(self, message: dict[str, Any], now_ms: float) -> None:
        if message.get("ingested_at"):
            message["latency_ms"] = now_ms - message["ingested_at"]
            self.latencies_ms.append(message["latency_ms"])
        if len(message["items"]) >= 3:
            self.latest.append(message)
            del self.latest[:-20]

    def percentiles(self) -> str:
        if not self.latencies_ms:
            return "no lists yet"
        p50, p95, p99 = np.percentile(self.latencies_ms, [50, 95, 99])
        return (
            f"event -> list over {len(self.latencies_ms):,} lists: p50 {p50:.0f} ms, "
            f"p95 {p95:.0f} ms, p99 {p99:.0f} ms"
        )


async def describe(settings: Settings, message: dict[str, Any], n: int = 5) -> str:
    """A list as a person reads it: titles, reasons, sources, latency."""
    keys = Keys(settings.redis_prefix)
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for item in message["items"][:n]:
                pipe.hget(keys.item(item["item_id"]), "title")
            titles = await pipe.execute()
    finally:
        await client.aclose()
    latency = message.get("latency_ms")
    head = f"  shopper {message['user_id']}: {len(message['items'])} items" + (
        f", {latency:.0f} ms from event to list" if latency is not None else ""
    )
    lines = [head]
    for rank, (item, title) in enumerate(zip(message["items"][:n], titles, strict=True), 1):
        name = title.decode() if title else item["item_id"]
        lines.append(f"    {rank}. {name} ({item['reason']}; {item['source']})")
    return "\n".join(lines)
