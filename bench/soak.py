"""Soak: one worker under a steady mixed load for minutes; does anything grow without bound?

    python -m bench.soak [--minutes 10] [--rate 500] [--users 2000] [--name soak]
    (make bench-soak)

Kafka and Redis from ``infra/stack.sh``; the worker in a child process, the Online Retail
catalogue loaded first. Open-loop load of clicks (70 %), searches (20 %) and purchases (10 %) by
``--users`` shoppers (2,000 by default: a population whose states reach their caps within the
run, so what grows after warm-up is not the shoppers' own growth). Every 15 s: the worker's
resident memory (RSS), Redis's used memory, the consumer lag (messages sent but not yet
committed by the worker's group) and the totals. Writes bench/results/NAME.json and NAME.png;
prints the samples and the trend of each measure over the second half of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis.asyncio as aioredis

from bench.common import machine, pyplot, save
from bench.datasets import RETAIL, product_names
from bench.e2e_load import catalogue_events, load_catalogue
from core.events import EventKind
from core.settings import Settings
from core.topics import Topics
from streams.admin import ensure_topics
from streams.producer import EventProducer
from tools.harness import forget_run, input_lag, isolated, start_worker, stop_worker, wait_healthy
from tools.stats import read_totals

SAMPLE_S = 15.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def redis_mb(settings: Settings) -> float:
    client = aioredis.from_url(settings.redis_url)
    try:
        info = await client.info("memory")
    finally:
        await client.aclose()
    return float(info["used_memory"]) / 2**20


def events(n: int, users: int, items: list[str], queries: list[str], seed: int) -> Any:
    """Pre-built contract events (kind, key, value), times close to now."""
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    for i in range(n):
        user = f"soak-{rng.randrange(users)}"
        roll = rng.random()
        body: dict[str, Any] = {"event_id": f"soak-{seed}-{i}", "user_id": user, "ts": now + i}
        if roll < 0.7:
            kind = EventKind.CLICK
            body |= {"item_id": rng.choice(items), "action": rng.choice(("view", "click"))}
        elif roll < 0.9:
            kind = EventKind.SEARCH
            body["query"] = rng.choice(queries)
        else:
            kind = EventKind.PURCHASE
            body |= {"item_id": rng.choice(items), "quantity": 1, "price": 2.5}
        yield kind, user.encode(), orjson.dumps(body)


async def offer(
    settings: Settings, rate: float, seconds: float, users: int, items: list[str]
) -> int:
    names = product_names()
    queries = sorted({" ".join(n.lower().split()[:2]) for n in names})
    topics = Topics.from_settings(settings)
    n = int(rate * seconds)
    async with EventProducer(settings, client_id="soak-load") as producer:
        start = time.perf_counter()
        for i, (kind, key, value) in enumerate(events(n, users, items, queries, seed=1)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0.001:
                await asyncio.sleep(delay)
            await producer.send_raw(topics.for_kind(kind), key, value)
    return n


def trend(times: list[float], values: list[float]) -> float:
    """Slope of a least-squares line, per minute."""
    if len(times) < 2:
        return float("nan")
    slope = np.polyfit(np.array(times) / 60.0, np.array(values), 1)[0]
    return float(slope)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(**isolated("soak"), partitions=8)  # type: ignore[arg-type]
    await ensure_topics(settings)
    log = Path("var/log/soak-worker.log")
    proc = start_worker(settings, log)
    samples: list[dict[str, Any]] = []
    try:
        await wait_healthy(f"http://{settings.web_host}:{settings.web_port}/health", proc, 120)
        items = await load_catalogue(settings, catalogue_events(RETAIL))
        print(
            f"catalogue of {len(items):,} items loaded; offering {args.rate:,.0f} events/s "
            f"for {args.minutes:g} min",
            flush=True,
        )
        seconds = args.minutes * 60
        load = asyncio.create_task(offer(settings, args.rate, seconds, args.users, items))
        started = time.monotonic()
        print(f"{'min':>5} {'RSS MB':>8} {'Redis MB':>9} {'lag':>8} {'processed':>10}", flush=True)
        while True:
            await asyncio.sleep(SAMPLE_S)
            totals = await read_totals(settings)
            sample = {
                "t_s": round(time.monotonic() - started, 1),
                "worker_rss_mb": round(rss_mb(proc.pid), 1),
                "redis_mb": round(await redis_mb(settings), 1),
                "lag": sum((await input_lag(settings)).values()),
                "processed": sum(totals.processed.values()),
                "dead_lettered": sum(totals.dead_lettered.values()),
            }
            samples.append(sample)
            print(
                f"{sample['t_s'] / 60:5.1f} {sample['worker_rss_mb']:8.1f} "
                f"{sample['redis_mb']:9.1f} {sample['lag']:8,} {sample['processed']:10,}",
                flush=True,
            )
            if load.done() and sample["t_s"] >= seconds:
                break
        offered = load.result()
    finally:
        stop_worker(proc)
        await forget_run(settings)
    second = [s for s in samples if s["t_s"] >= seconds / 2]
    t = [s["t_s"] for s in second]
    summary = {
        "rss_mb_per_min_second_half": trend(t, [s["worker_rss_mb"] for s in second]),
        "redis_mb_per_min_second_half": trend(t, [s["redis_mb"] for s in second]),
        "lag_max_second_half": max(s["lag"] for s in second),
        "lag_last": samples[-1]["lag"],
        "rss_mb_first_last": (samples[0]["worker_rss_mb"], samples[-1]["worker_rss_mb"]),
    }
    print(
        f"second half: worker RSS {summary['rss_mb_per_min_second_half']:+.2f} MB/min, Redis "
        f"{summary['redis_mb_per_min_second_half']:+.2f} MB/min, lag at most "
        f"{summary['lag_max_second_half']:,} (last {summary['lag_last']:,}); offered "
        f"{offered:,} events, processed {samples[-1]['processed']:,}",
        flush=True,
    )
    return {
        "machine": machine(),
        "offered_per_s": args.rate,
        "minutes": args.minutes,
        "users": args.users,
        "offered": offered,
        "samples": samples,
        "summary": summary,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    samples = result["samples"]
    minutes = [s["t_s"] / 60 for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for ax, key, label in zip(
        axes,
        ("worker_rss_mb", "redis_mb", "lag"),
        ("worker RSS (MB)", "Redis used memory (MB)", "consumer lag (messages)"),
        strict=True,
    ):
        ax.plot(minutes, [s[key] for s in samples], marker="o", markersize=3)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("minutes")
    axes[0].set_title(
        f"Soak: {result['offered_per_s']:,.0f} mixed events/s, {result['users']:,} shoppers"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--users", type=int, default=2_000)
    p.add_argument("--name", default="soak", help="results file name (bench/results/NAME.json)")
    args = p.parse_args()
    save(args.name, asyncio.run(run(args)), plot)


if __name__ == "__main__":
    main()
