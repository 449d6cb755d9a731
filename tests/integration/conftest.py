"""Integration fixtures: a session's own settings, the real services, a real worker, and a real
local Redis Cluster (started on its own ports, ``PULSE_TEST_CLUSTER_PORTS``, default
7300-7302, by ``infra/redis-cluster.sh`` and stopped afterwards, unless it was already running:
then it is left as found).

The helpers behind them (and the small shop the tests send) are in ``tests.integration.stack``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from core.settings import Settings
from feature_store.keys import Keys
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


ROOT = Path(__file__).resolve().parents[2]
PORTS = os.environ.get("PULSE_TEST_CLUSTER_PORTS", "7300 7301 7302")
SCRIPT = [str(ROOT / "infra" / "redis-cluster.sh")]
ENV = {**os.environ, "PULSE_REDIS_CLUSTER_PORTS": PORTS}


@pytest.fixture(scope="session")
def cluster_port() -> Iterator[int]:
    running = subprocess.run([*SCRIPT, "status"], env=ENV, capture_output=True).returncode == 0
    if not running:
        subprocess.run([*SCRIPT, "start"], env=ENV, check=True, capture_output=True, timeout=120)
    try:
        yield int(PORTS.split()[0])
    finally:
        if not running:
            subprocess.run([*SCRIPT, "stop"], env=ENV, check=True, capture_output=True, timeout=120)


@pytest.fixture
async def cluster(cluster_port: int) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=cluster_port)
    try:
        yield client
    finally:
        await client.aclose()
