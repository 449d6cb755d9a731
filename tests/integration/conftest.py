"""Integration fixtures: a session's own settings, the real services, a real worker, and a real
local Redis Cluster (started on its own ports, ``PULSE_TEST_CLUSTER_PORTS``, default
7300-7302, by ``infra/redis-cluster.sh`` and stopped afterwards, unless it was already running:
then it is left as found).

The helpers behind them (and the small shop the tests send) are in ``tests.integration.stack``.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from feature_store.keys import Keys
from tests.cluster import cluster, cluster_port  # noqa: F401  (fixtures)
from tests.integration.stack import check_services, new_settings, running_worker
from tools.harness import forget_run


@pytest.fixture(scope="session")
def settings() -> Settings:
    return new_settings()


@pytest.fixture(scope="session")
async def services(settings: Settings) -> AsyncIterator[None]:
    await check_services(settings)
    yield
    await forget_run(settings)


@pytest.fixture(scope="session")
async def worker(settings: Settings, services: None) -> AsyncIterator[subprocess.Popen[bytes]]:
    async with running_worker(settings) as proc:
        yield proc


@pytest.fixture
async def redis_keys() -> AsyncIterator[tuple[aioredis.Redis, Keys]]:
    """A client of the real Redis and a key prefix of its own, deleted afterwards."""
    settings = new_settings()
    await check_services(settings)
    client = aioredis.from_url(settings.redis_url)
    try:
        yield client, Keys(settings.redis_prefix)
    finally:
        await client.aclose()
        await forget_run(settings)
