"""The harness of tests, benchmarks and the demo: runs of their own, real worker processes.

``isolated`` gives a run its own topics, Redis keys and consumer group, and ``forget_run``
deletes them; ``start_worker`` runs ``pulse worker`` in a child process with given settings,
``wait_healthy`` waits until it is ready, and ``stop_worker`` stops it (SIGTERM, then kill).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from core.errors import ServiceError
from core.settings import Settings
from core.topics import Topics
from feature_store.clients import redis_client


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """Until the worker reaches Redis, has loaded the catalogue and its consumer group has given
    it partitions (events sent before that wait in Kafka, and the first lists would measure the
    worker's start)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServiceError(f"the worker exited with code {proc.returncode}; see its log")
            try:
                async with session.get(url) as response:
                    body = await response.json() if response.status == 200 else {}
                    if body.get("partitions") and body.get("ready"):
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise ServiceError(f"the worker did not report healthy at {url} within {timeout_s:.0f} s")


# The labels of runs of their own: a run id is a label and 8 hex digits (``tools.prune_runs``
# finds what killed runs left by that shape).
RUN_LABELS = ("it", "t", "bench", "soak", "fgt", "qk", "trb")


def isolated(label: str) -> dict[str, str]:
    """Topic prefix, Redis prefix, consumer group and admin token of a run of its own (tests,
    benchmarks); ``forget_run`` deletes its topics and keys."""
    if label not in RUN_LABELS:
        raise ValueError(f"a run's label is one of {', '.join(RUN_LABELS)}, not {label!r}")
    # A token of the run's own: its workers start without the development flag.
    return {**run_names(f"{label}{uuid.uuid4().hex[:8]}"), "admin_token": secrets.token_urlsafe(24)}


def run_names(run: str) -> dict[str, str]:
    """The topic prefix, Redis prefix and consumer group of the run ``run``."""
    return {"topic_prefix": f"{run}.", "redis_prefix": run, "app_id": f"pulse-{run}"}


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the PULSE_* variables a child worker reads (all fields, as set)."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue  # unset: the child's default
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"PULSE_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


async def forget_run(settings: Settings) -> None:
    """Delete a run's topics (its own and Faust's) and Redis keys: tests, benchmarks."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        names = [
            t
            for t in await admin.list_topics()
            if t.startswith(settings.topic_prefix) or t.startswith(settings.app_id)
        ]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        keys = [k async for k in client.scan_iter(match=f"{settings.redis_prefix}:*", count=1000)]
        # One DEL a key, in one pipeline: on a cluster the keys span slots.
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.delete(key)
            await pipe.execute()
    finally:
        await client.aclose()


async def input_lag(settings: Settings, wait_s: float = 0.0) -> dict[TopicPartition, int]:
    """The input partitions the worker group has not committed to their end, each with how
    many messages it lags; polled until none lags or ``wait_s`` has passed."""
    return await group_lag(settings, Topics.from_settings(settings).inputs, wait_s)


async def trends_lag(settings: Settings, wait_s: float = 0.0) -> dict[TopicPartition, int]:
    """:func:`input_lag`, then the same for the trend observations the inputs gave (each
    subject's owner has applied them, its signals are published)."""
    lagging = await input_lag(settings, wait_s)
    if lagging:
        return lagging
    return await group_lag(settings, [Topics.from_settings(settings).trend_observations], wait_s)


async def group_lag(
    settings: Settings, names: list[str], wait_s: float
) -> dict[TopicPartition, int]:
    parts = [TopicPartition(name, p) for name in names for p in range(settings.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    await admin.start()
    try:
        ends = dict(await consumer.end_offsets(parts))
        deadline = time.monotonic() + wait_s
        while True:
            committed = await admin.list_consumer_group_offsets(settings.app_id)
            done = {tp: max(committed[tp].offset, 0) if tp in committed else 0 for tp in ends}
            lagging = {tp: end - done[tp] for tp, end in ends.items() if end > done[tp]}
            if not lagging or time.monotonic() > deadline:
                return lagging
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
        await consumer.stop()


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings_env(settings)}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tools.cli", "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
