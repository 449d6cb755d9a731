"""The load side of the end-to-end benchmarks: the catalogue sent, open-loop load from a load
generator process, and lists followed on ``pulse.recommendations`` and matched to the events
that made them (latency = list received - event sent), with the cores each part kept busy."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson

from bench import loadgen, steps
from bench.common import RESULTS, Latencies
from bench.cpu import CpuMeter
from core.events import EventKind
from core.settings import Settings
from core.topics import Topics
from feature_store.clients import redis_client
from feature_store.keys import Keys
from replay import online_retail
from streams.admin import topic_reader
from streams.producer import EventProducer
from tools.stats import read_totals

WARMUP_S = 2.0
DRAIN_LIMIT_S = 300.0


class ListFollower:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.received: dict[str, float] = {}
        self.error: BaseException | None = None

    def check(self) -> None:
        """Raises if following stopped: a run measured without it would see no list."""
        if self.error is not None:
            raise RuntimeError(f"following the lists failed: {self.error!r}") from self.error

    async def run(self) -> None:
        topic = Topics.from_settings(self.settings).recommendations
        try:
            consumer = await topic_reader(self.settings, topic, from_end=True)
            try:
                while True:
                    batch = await consumer.getmany(timeout_ms=100, max_records=5_000)
                    now = time.time() * 1000
                    for records in batch.values():
                        for record in records:
                            trigger = orjson.loads(record.value)["trigger_event_id"]
                            self.received.setdefault(trigger, now)
            finally:
                await consumer.stop()
        except Exception as exc:  # cancelling it (the run's end) is not an error
            self.error = exc
            raise


def catalogue_events(data: Path) -> list[dict[str, Any]]:
    """The catalogue events of the Online Retail replay (it sends them first)."""
    out = []
    for kind, event in online_retail.source(data).events:
        if kind is not EventKind.CATALOG:
            break
        out.append(event)
    return out


async def load_catalogue(settings: Settings, catalogue: list[dict[str, Any]]) -> list[str]:
    """Send the catalogue; return its item ids once the worker has it all in Redis."""
    items = []
    async with EventProducer(settings, client_id="bench-catalogue") as producer:
        for event in catalogue:
            await producer.send(EventKind.CATALOG, event)
            items.append(event["item_id"])
    client = redis_client(settings.redis_url, settings.redis_cluster)
    keys = Keys(settings.redis_prefix)
    deadline = time.monotonic() + 180
    try:
        while not await client.exists(keys.item(items[-1])):
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not load the catalogue within 180 s")
            await asyncio.sleep(0.5)
    finally:
        await client.aclose()
    return items


async def offered_run(
    settings: Settings,
    follower: ListFollower,
    kind: str,
    rate: float,
    seconds: float,
    items_file: Path,
    tag: str,
    extra: tuple[str, ...] = (),
    meter: CpuMeter | None = None,
    steps_port: int | None = None,
) -> dict[str, Any]:
    """One open-loop run; with ``steps_port`` also the worker's batch steps over the run."""
    before = await read_totals(settings)
    steps_before = await steps.snapshot(steps_port) if steps_port else None
    if meter is not None:
        meter.start()
    out = RESULTS / f".sends-{tag}.json"
    cmd = loadgen.command(settings, kind, rate, seconds, items_file, tag, out, extra)
    proc = await asyncio.create_subprocess_exec(*cmd)
    await proc.wait()
    sends = orjson.loads(out.read_bytes())
    out.unlink()
    sent: dict[str, float] = sends["sent"]
    # Every event processed before the next rate starts (a saturated rate drains here).
    deadline = time.monotonic() + DRAIN_LIMIT_S
    while True:
        totals = await read_totals(settings)
        done = sum(totals.processed.values()) - sum(before.processed.values())
        if done >= len(sent) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    finished = time.time()
    cpu = meter.stop() if meter is not None else {}
    took, collected = {}, {}
    if steps_port and steps_before is not None:
        steps_after = await steps.snapshot(steps_port)
        took = steps.difference(steps_before[steps.NAME], steps_after[steps.NAME])
        collected = steps.pauses(steps.difference(steps_before[steps.GC], steps_after[steps.GC]))
    if cpu:
        cpu["loadgen"] = round(sends.get("cpu_s", 0.0) / cpu["window_s"], 3)
    await asyncio.sleep(1.0)
    follower.check()
    first = min(sent.values())
    latencies = Latencies()
    matched = 0
    for event_id, at in sent.items():
        got = follower.received.get(event_id)
        if got is not None:
            matched += 1
            if at - first >= WARMUP_S * 1000:
                latencies.record_s((got - at) / 1000)
    window = finished - min(sent.values()) / 1000  # from the first send, not process start
    result = {
        "kind": kind,
        "offered_per_s": rate,
        "sent": len(sent),
        "send_seconds": sends["seconds"],
        "processed": done,
        "achieved_per_s": done / max(window, 1e-9),
        "drain_after_load_s": finished - (min(sent.values()) / 1000 + sends["seconds"]),
        "lists": matched,
        **latencies.summary_ms(),
        "cpu_cores": cpu,
        "batch_steps": took,
        "gc_pauses": collected,
    }
    timing = (
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms"
        if latencies.count
        else "no latency measured (no list matched after the warm-up)"
    )
    print(
        f"{kind} {rate:>6,.0f}/s offered: {result['achieved_per_s']:>7,.0f}/s achieved, "
        f"{matched:,} lists, {timing}, "
        f"drained {result['drain_after_load_s']:.1f} s after the load"
        + (
            "; cores busy: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if k != "window_s")
            if cpu
            else ""
        ),
        flush=True,
    )
    if took:
        print(f"  batch steps (mean/p99 ms): {steps.line(took)}", flush=True)
    if collected:
        print(f"  garbage collector's pauses: {steps.pauses_line(collected)}", flush=True)
    return result
