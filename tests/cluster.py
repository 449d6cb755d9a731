"""A real local Redis Cluster for the tests (three masters, ``infra/redis-cluster.sh``), on its
own ports (``PULSE_TEST_CLUSTER_PORTS``, default 7300-7302): started for the session and
stopped afterwards, unless it was already running (then it is left as found)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

ROOT = Path(__file__).resolve().parents[1]
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
