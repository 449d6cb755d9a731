"""``tools.prune_runs`` on the real Kafka and Redis: a killed run's topics and keys go, a shop's
stay."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.settings import Settings
from feature_store.clients import redis_client
from tools.harness import isolated
from tools.prune_runs import delete, find

pytestmark = pytest.mark.integration


async def topics_now(settings: Settings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def until(settings: Settings, done: Callable[[set[str]], bool]) -> set[str]:
    """The broker's topics once ``done`` says so (topic changes reach its metadata a little
    later), or after 30 s."""
    deadline = time.monotonic() + 30
    while not done(now := await topics_now(settings)) and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    return now


async def test_a_killed_runs_topics_and_keys_go_and_a_shops_stay(
    settings: Settings, services: None
) -> None:
    run = isolated("it")["redis_prefix"]
    shop = f"shop{uuid.uuid4().hex[:8]}"  # shaped like a run, but not a run's label
    run_topics = [f"{run}.events.clicks", f"pulse-{run}-__assignor-__leader"]
    shop_topic = f"{shop}.events.clicks"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in [*run_topics, shop_topic]])
        await client.set(f"{run}:u:{{a}}", b"x")
        await client.set(f"{shop}:u:{{a}}", b"x")
        await until(settings, lambda now: {*run_topics, shop_topic} <= now)

        found = await find(settings, runs={run})
        assert found.runs == {run}
        assert sorted(found.topics[run]) == sorted(run_topics)
        assert found.keys[run] == [f"{run}:u:{{a}}"]
        await delete(settings, found)

        left = await until(settings, lambda now: not set(run_topics) & now)
        assert not set(run_topics) & left and shop_topic in left
        assert await client.exists(f"{run}:u:{{a}}") == 0
        assert await client.get(f"{shop}:u:{{a}}") == b"x"
        assert (await find(settings, runs={run})).runs == set()
    finally:
        await delete(settings, await find(settings, runs={run}))  # what a failure left
        await admin.delete_topics([shop_topic])
        await client.delete(f"{shop}:u:{{a}}")
        await admin.close()
        await client.aclose()
