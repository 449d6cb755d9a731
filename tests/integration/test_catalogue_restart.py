"""A restarted worker takes the catalogue's vectors from Redis instead of encoding them again."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest
import redis.asyncio as aioredis

from core.events import EventKind
from core.settings import Settings
from streams.producer import EventProducer
from tests.integration.stack import (
    CATALOGUE,
    check_services,
    new_settings,
    running_worker,
    send_catalogue,
)
from tools.harness import forget_run

pytestmark = pytest.mark.integration


async def vector_counts(settings: Settings, least: int = 0) -> dict[str, int]:
    """The worker's catalogue vector counts, once they add up to at least ``least``."""
    url = f"http://127.0.0.1:{settings.web_port}/metrics"
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(url) as response:
                text = await response.text()
            found = re.findall(r'pulse_catalog_vectors_total\{how="(\w+)"\} (\d+)', text)
            counts = {how: int(n) for how, n in found}
            if sum(counts.values()) >= least or time.monotonic() > deadline:
                return counts
            await asyncio.sleep(0.2)


async def test_a_restarted_worker_reuses_stored_vectors() -> None:
    settings = new_settings()
    await check_services(settings)
    try:
        async with running_worker(settings):
            await send_catalogue(settings)
            first = await vector_counts(settings)
        async with running_worker(settings):  # reads the whole catalogue topic again
            second = await vector_counts(settings)
            await send_catalogue(settings, {"K1": {"title": "SET OF 4 TEA TOWELS"}})
            third = await vector_counts(settings, least=len(CATALOGUE) + 1)
    finally:
        await forget_run(settings)
    assert first.get("encoded") == len(CATALOGUE) and not first.get("reused")
    assert second.get("reused") == len(CATALOGUE) and not second.get("encoded")
    assert third.get("encoded") == 1  # a new title is a new text: encoded again


async def test_an_item_with_a_blank_title_is_indexed_and_a_restart_gets_ready() -> None:
    """A title of spaces is valid by the contract: the item is indexed (by its id), items after
    it too, and a worker that reads it again on start becomes ready with no task restarted."""
    settings = new_settings()
    await check_services(settings)
    client = aioredis.from_url(settings.redis_url)
    try:
        async with running_worker(settings):
            async with EventProducer(settings, client_id="it-blank") as producer:
                await producer.send(EventKind.CATALOG, {"item_id": "BLANK", "title": "   "})
                await producer.send(EventKind.CATALOG, {"item_id": "AFTER", "title": "TROWEL"})
            deadline = time.monotonic() + 30
            keys = [f"{settings.redis_prefix}:i:{{{i}}}" for i in ("BLANK", "AFTER")]
            while not all([await client.exists(k) for k in keys]):
                assert time.monotonic() < deadline, "the catalogue items never reached Redis"
                await asyncio.sleep(0.2)
        async with running_worker(settings):
            url = f"http://127.0.0.1:{settings.web_port}/health"
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                health = await response.json()
    finally:
        await client.aclose()
        await forget_run(settings)
    assert health["ready"] is True and health["status"] == "ok"
    assert health["tasks"]["catalogue"]["restarts"] == 0
