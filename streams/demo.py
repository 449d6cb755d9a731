"""The README's demo: a worker in a child process, a replay into it, live per-second counts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient

from feature_store.counts import BatchCounts
from replay.run import ReplayReport, replay
from replay.source import Source
from streams.demo_recs import RecommendationWatcher, describe
from streams.demo_trends import TrendWatcher, describe_signal
from streams.errors import ServiceError
from streams.settings import Settings
from streams.stats import read_totals
from streams.topics import ensure_topics

LOG_DIR = Path("var/log")


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


def isolated(label: str) -> dict[str, str]:
    """Topic prefix, Redis prefix and consumer group of a run of its own (tests, benchmarks);
    ``forget_run`` deletes all three."""
    run = f"{label}{uuid.uuid4().hex[:8]}"
    return {"topic_prefix": f"{run}.", "redis_prefix": run, "app_id": f"pulse-{run}"}


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the PULSE_* variables a child worker reads (all fields, as set)."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
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
    client = aioredis.from_url(settings.redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{settings.redis_prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings_env(settings)}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
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


async def run_demo(
    settings: Settings, source: Source, *, seconds: float, rate: float, invalid_share: float
) -> None:
    await ensure_topics(settings)
    log_path = LOG_DIR / "demo-worker.log"
    print(f"starting a worker (log: {log_path}) ...", flush=True)
    proc = start_worker(settings, log_path)
    try:
        await wait_healthy(f"http://{settings.web_host}:{settings.web_port}/health", proc)
        before = await read_totals(settings)
        print(
            f"worker ready; replaying {source.name} at {rate:,.0f} events/s for {seconds:.0f} s "
            f"({invalid_share:.0%} deliberately invalid)",
            flush=True,
        )
        watcher = RecommendationWatcher(settings)
        await watcher.start()
        trends = TrendWatcher(settings)
        await trends.start()
        task = asyncio.create_task(
            replay(
                settings,
                source,
                rate=rate,
                duration_s=seconds,
                invalid_share=invalid_share,
                progress=False,
            )
        )
        try:
            report = await _print_live(settings, before, task, watcher, trends)
            print(report.summary(), flush=True)
            await _drain(settings, before, report)
            print(
                f"recommendation lists published: {watcher.count:,}; {watcher.percentiles()}",
                flush=True,
            )
            kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(trends.by_kind.items()))
            print(f"trend signals published: {trends.count:,} ({kinds or 'none'})", flush=True)
        finally:
            await watcher.stop()
            await trends.stop()
    finally:
        code = stop_worker(proc)
        print(f"worker stopped (exit code {code})", flush=True)


async def _print_live(
    settings: Settings,
    before: BatchCounts,
    task: asyncio.Task[ReplayReport],
    watcher: RecommendationWatcher,
    trends: TrendWatcher,
) -> ReplayReport:
    started = time.monotonic()
    last_done = 0
    header = f"{'time':>6} {'processed':>10} {'dead-lettered':>14} {'per second':>11} {'lists':>8}"
    print(header, flush=True)
    tick = 0
    while not task.done():
        await asyncio.wait({task}, timeout=1.0)
        tick += 1
        done, processed, dead = await _progress(settings, before)
        print(
            f"{time.monotonic() - started:5.0f}s {processed:>10,} {dead:>14,} "
            f"{done - last_done:>11,} {watcher.count:>8,}",
            flush=True,
        )
        for fired in trends.take(3):
            print(describe_signal(fired), flush=True)
        last_done = done
        if tick % 5 == 0 and watcher.latest:
            print(await describe(settings, watcher.latest[-1]), flush=True)
            print(f"  ({watcher.percentiles()})", flush=True)
            print(header, flush=True)
    return task.result()


async def _progress(settings: Settings, before: BatchCounts) -> tuple[int, int, int]:
    totals = await read_totals(settings)
    processed = sum(totals.processed.values()) - sum(before.processed.values())
    dead = sum(totals.dead_lettered.values()) - sum(before.dead_lettered.values())
    return processed + dead, processed, dead


async def _drain(settings: Settings, before: BatchCounts, report: ReplayReport) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, processed, dead = await _progress(settings, before)
        if done >= report.total_sent:
            break
        await asyncio.sleep(0.5)
    print(
        f"worker totals: {processed:,} processed + {dead:,} dead-lettered = {done:,} "
        f"of {report.total_sent:,} sent",
        flush=True,
    )
