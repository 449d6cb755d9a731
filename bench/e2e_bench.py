"""End-to-end benchmark on the real stack: Kafka, Redis, one worker, a load generator process.

    python -m bench.e2e_bench [--rates 500 1000 2000 3000 5000] [--seconds 12]

For each offered click rate (open loop), the load generator (its own process) records when it
sent each event; the benchmark follows ``pulse.recommendations`` and matches every list to its
``trigger_event_id``: latency = list received - event sent. Several events of one shopper in one
micro-batch give one list (for the latest event), so lists are fewer than events. Also: search
-> recommendation at 500 searches/s, Redis bytes per shopper, and ``GET`` latency.
Writes bench/results/e2e.json and e2e.png. Needs the local stack (``infra/stack.sh up``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

from bench import loadgen
from bench.common import RESULTS, Latencies, machine, pyplot, save
from bench.datasets import RETAIL
from core.events import EventKind
from core.settings import Settings
from core.topics import Topics
from feature_store.keys import Keys
from replay import online_retail
from streams.admin import ensure_topics, topic_reader
from streams.producer import EventProducer
from tools.harness import forget_run, isolated, start_worker, stop_worker, wait_healthy
from tools.stats import read_totals

WARMUP_S = 2.0


class ListFollower:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.received: dict[str, float] = {}

    async def run(self) -> None:
        topic = Topics.from_settings(self.settings).recommendations
        self.consumer = await topic_reader(self.settings, topic, from_end=True)
        try:
            while True:
                batch = await self.consumer.getmany(timeout_ms=100, max_records=5_000)
                now = time.time() * 1000
                for records in batch.values():
                    for record in records:
                        trigger = orjson.loads(record.value)["trigger_event_id"]
                        self.received.setdefault(trigger, now)
        finally:
            await self.consumer.stop()


async def load_catalogue(settings: Settings, data: Path) -> list[str]:
    source = online_retail.source(data)
    items = []
    async with EventProducer(settings, client_id="bench-catalogue") as producer:
        for kind, event in source.events:
            if kind is not EventKind.CATALOG:
                break
            await producer.send(kind, event)
            items.append(event["item_id"])
    client = aioredis.from_url(settings.redis_url)
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
) -> dict[str, Any]:
    before = await read_totals(settings)
    out = RESULTS / f".sends-{tag}.json"
    cmd = loadgen.command(settings, kind, rate, seconds, items_file, tag, out, extra)
    proc = await asyncio.create_subprocess_exec(*cmd)
    await proc.wait()
    sends = orjson.loads(out.read_bytes())
    out.unlink()
    sent: dict[str, float] = sends["sent"]
    deadline = time.monotonic() + 60
    while True:
        totals = await read_totals(settings)
        done = sum(totals.processed.values()) - sum(before.processed.values())
        if done >= len(sent) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    finished = time.time()
    await asyncio.sleep(1.0)
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
    }
    print(
        f"{kind} {rate:>6,.0f}/s offered: {result['achieved_per_s']:>7,.0f}/s achieved, "
        f"{matched:,} lists, p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, "
        f"drained {result['drain_after_load_s']:.1f} s after the load",
        flush=True,
    )
    return result


async def redis_bytes(settings: Settings, sample: int) -> dict[str, Any]:
    keys = Keys(settings.redis_prefix)
    client = aioredis.from_url(settings.redis_url)
    users: list[str] = []
    try:
        async for key in client.scan_iter(match=f"{settings.redis_prefix}:u:*", count=5_000):
            text = key.decode()
            if not text.endswith(":recs"):
                users.append(text[text.index("{") + 1 : text.rindex("}")])
        picked = random.Random(0).sample(users, min(sample, len(users)))
        state, recs = [], []
        for uid in picked:
            state.append(await client.memory_usage(keys.user(uid)) or 0)
            recs.append(await client.memory_usage(keys.recommendations(uid)) or 0)
    finally:
        await client.aclose()
    n = max(len(picked), 1)
    return {
        "shoppers": len(users),
        "sampled": len(picked),
        "state_bytes_mean": sum(state) / n,
        "recommendations_bytes_mean": sum(recs) / n,
        "total_bytes_mean": (sum(state) + sum(recs)) / n,
        "picked": picked[:200],
    }


async def get_latency(
    settings: Settings, users: list[str], requests: int, concurrency: int
) -> dict[str, Any]:
    latencies = Latencies()
    url = f"http://127.0.0.1:{settings.web_port}/users/{{}}/recommendations?k=10"
    rng = random.Random(1)
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> None:
            for _ in range(n):
                start = time.perf_counter()
                async with session.get(url.format(rng.choice(users))) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"GET answered {response.status}")
                latencies.record_s(time.perf_counter() - start)

        await asyncio.gather(*(one(50) for _ in range(concurrency)))  # warm-up
        latencies = Latencies()
        started = time.perf_counter()
        await asyncio.gather(*(one(requests // concurrency) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": requests,
        "concurrency": concurrency,
        "per_s": requests / elapsed,
        **latencies.summary_ms(),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    clicks = result["clicks"]
    rates = [r["offered_per_s"] for r in clicks]
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        ax1.plot(rates, [r[key] for r in clicks], "o-", label=key.replace("_ms", ""))
    ax1.axhline(100, color="grey", linestyle=":", label="target p99 at 2,000/s")
    ax1.set_xlabel("offered clicks / s")
    ax1.set_ylabel("event -> recommendation (ms)")
    ax1.set_yscale("log")
    ax1.set_title("click -> recommendation latency")
    ax1.legend()
    ax2.plot(rates, rates, ":", color="grey", label="offered")
    ax2.plot(rates, [r["achieved_per_s"] for r in clicks], "o-", label="achieved")
    ax2.set_xlabel("offered clicks / s")
    ax2.set_ylabel("events / s")
    ax2.set_title("throughput, one worker")
    ax2.legend()
    fig.suptitle(
        f"Pulse end to end: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
        "Kafka + Redis + worker + load generator on one box"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    names = isolated("bench")
    run = names["redis_prefix"]
    settings = Settings(
        **names,
        partitions=args.partitions,
        web_port=args.web_port,
    )
    await ensure_topics(settings)
    RESULTS.mkdir(parents=True, exist_ok=True)
    proc = start_worker(settings, Path("var/log") / f"bench-worker-{run}.log")
    follower = ListFollower(settings)
    follow_task = asyncio.create_task(follower.run())
    result: dict[str, Any] = {
        "machine": machine(),
        "settings": {
            "partitions": settings.partitions,
            "batch_max_size": settings.batch_max_size,
            "batch_max_wait_ms": settings.batch_max_wait_ms,
        },
    }
    items_file = RESULTS / f".items-{run}.txt"
    try:
        await wait_healthy(f"http://127.0.0.1:{settings.web_port}/health", proc, timeout_s=120)
        items = await load_catalogue(settings, Path(args.data))
        items_file.write_text("\n".join(items))
        print(f"catalogue of {len(items):,} items loaded", flush=True)
        await offered_run(settings, follower, "click", 300, 4, items_file, f"{run}-warm")
        result["clicks"] = [
            await offered_run(
                settings, follower, "click", rate, args.seconds, items_file, f"{run}-c{int(rate)}"
            )
            for rate in args.rates
        ]
        result["searches"] = await offered_run(
            settings, follower, "search", args.search_rate, args.seconds, items_file, f"{run}-s"
        )
        ok = [
            r
            for r in result["clicks"]
            if r["achieved_per_s"] >= 0.95 * r["offered_per_s"]
            and r["drain_after_load_s"] < 5
            and r["p99_ms"] < 1000
        ]
        result["highest_sustained_click_rate"] = max((r["offered_per_s"] for r in ok), default=0)
        population = await offered_run(
            settings,
            follower,
            "click",
            args.populate_rate,
            args.shoppers / args.populate_rate,
            items_file,
            f"{run}-pop",
            ("--sequential-users", "--users", str(args.shoppers)),
        )
        result["population"] = population
        memory = await redis_bytes(settings, 2_000)
        users = memory.pop("picked")
        result["redis"] = memory
        print(
            f"Redis: {memory['shoppers']:,} shoppers; per shopper "
            f"{memory['state_bytes_mean']:.0f} B state + "
            f"{memory['recommendations_bytes_mean']:.0f} B list = "
            f"{memory['total_bytes_mean']:.0f} B",
            flush=True,
        )
        result["get"] = await get_latency(settings, users, 3_000, 4)
        g = result["get"]
        print(
            f"GET /users/{{id}}/recommendations: {g['per_s']:,.0f}/s, p50 {g['p50_ms']:.2f} ms, "
            f"p95 {g['p95_ms']:.2f} ms, p99 {g['p99_ms']:.2f} ms",
            flush=True,
        )
    finally:
        follow_task.cancel()
        await asyncio.gather(follow_task, return_exceptions=True)
        stop_worker(proc)
        items_file.unlink(missing_ok=True)
        # The run's topics and keys (100,000 shoppers) would otherwise stay in the local stack.
        await forget_run(settings)
    return result


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rates", type=float, nargs="+", default=[500, 1000, 2000, 3000, 5000])
    p.add_argument("--search-rate", type=float, default=500)
    p.add_argument("--seconds", type=float, default=12)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--shoppers", type=int, default=100_000, help="shoppers for the memory figure")
    p.add_argument("--populate-rate", type=float, default=1_500)
    p.add_argument("--web-port", type=int, default=6077)
    p.add_argument(
        "--data",
        default=str(RETAIL),
    )
    p.add_argument("--name", default="e2e")
    args = p.parse_args()
    result = asyncio.run(main_async(args))
    save(args.name, result, plot)


if __name__ == "__main__":
    main()
