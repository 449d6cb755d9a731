"""From a burst to its trending signal, on the real stack: Kafka, Redis, workers.

    python -m bench.trends_bench [--bursts 20] [--window 2] [--rate 200] [--setups ...]

Side by side in one run (``--setups``): one worker, two workers (the bursts' clicks arrive on
every partition, so through both workers; each item's trend statistics have one owner, reached
through the observations topic), and two workers on the local Redis Cluster.

Steady clicks (``--rate`` per second, event time = now, spread over 100 Online Retail items)
run throughout. After the detector's warm-up, every ``--gap`` seconds one fresh item gets a
burst of ``--burst-size`` clicks within half a second. Latency: from sending the burst's first
click to the ``trending_item`` message for that item arriving on the trends topic. Also counted:
bursts never flagged, and steady items flagged (false alarms). Writes bench/results/trends.json
and trends.png. Needs the local stack (``infra/stack.sh up``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from bench.common import Latencies, machine, pyplot, save
from bench.datasets import RETAIL
from bench.e2e_load import catalogue_events, load_catalogue
from bench.local_cluster import cluster_settings
from core.events import EventKind
from core.settings import Settings
from core.topics import Topics
from streams.admin import ensure_topics, topic_reader
from streams.producer import EventProducer
from tools.harness import forget_run, isolated, start_worker, stop_worker, wait_healthy


class SignalFollower:
    """Follows the trends topic: when each trending item was first announced."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.first_seen: dict[str, float] = {}
        # trending_item signals per (item, window start)
        self.signals: Counter[tuple[str, int]] = Counter()

    async def run(self) -> None:
        reader = await topic_reader(
            self.settings, Topics.from_settings(self.settings).trends, from_end=False
        )
        try:
            while True:
                batch = await reader.getmany(timeout_ms=100)
                now = time.monotonic()
                for records in batch.values():
                    for record in records:
                        signal = orjson.loads(record.value)
                        if signal["kind"] == "trending_item":
                            self.first_seen.setdefault(signal["subject"], now)
                            self.signals[signal["subject"], signal["window"]["start"]] += 1
        finally:
            await reader.stop()


async def steady_clicks(producer: EventProducer, items: list[str], rate: float) -> None:
    rng = random.Random(1)
    tick = 0.05
    while True:
        started = time.monotonic()
        now_ms = int(time.time() * 1000)
        for _ in range(max(1, round(rate * tick))):
            event = {"user_id": f"steady-{rng.randrange(500)}", "item_id": rng.choice(items)}
            await producer.send(EventKind.CLICK, {**event, "ts": now_ms})
        await asyncio.sleep(max(0.0, tick - (time.monotonic() - started)))


async def burst(producer: EventProducer, item: str, size: int) -> float:
    """Send ``size`` clicks on ``item`` within half a second; when the first was sent."""
    first = time.monotonic()
    for n in range(size):
        ts = int(time.time() * 1000)
        await producer.send(EventKind.CLICK, {"user_id": f"burst-{n}", "item_id": item, "ts": ts})
        await producer.flush()
        await asyncio.sleep(0.5 / size)
    return first


SETUPS = {"one_worker": (1, False), "two_workers": (2, False), "two_workers_cluster": (2, True)}


async def run_setup(args: argparse.Namespace, name: str) -> dict[str, Any]:
    workers, cluster = SETUPS[name]
    names = isolated("trb")
    run = names["redis_prefix"]
    settings = Settings(
        **names,
        **(cluster_settings() if cluster else {}),
        web_port=args.web_port,
        trend_window_seconds=args.window,
    )
    await ensure_topics(settings)
    copies = [settings.model_copy(update={"web_port": args.web_port + n}) for n in range(workers)]
    procs = [
        start_worker(s, Path("var/log") / f"trends-bench-{run}-{n}.log")
        for n, s in enumerate(copies)
    ]
    follower = SignalFollower(settings)
    tasks = [asyncio.create_task(follower.run())]
    latencies = Latencies()
    missed: list[str] = []
    print(f"--- {name}: {workers} worker(s), {'Redis Cluster' if cluster else 'one Redis'}")
    try:
        for proc, s in zip(procs, copies, strict=True):
            await wait_healthy(f"http://127.0.0.1:{s.web_port}/health", proc, timeout_s=120)
        items = await load_catalogue(settings, catalogue_events(Path(args.data)))
        steady, fresh = items[:100], items[100:]
        async with EventProducer(settings, client_id="trends-bench") as producer:
            tasks.append(asyncio.create_task(steady_clicks(producer, steady, args.rate)))
            # windows close a grace after their end: the warm-up ends that much later
            warmup = (
                args.window * (settings.trend_warmup_windows + 2) + settings.trend_grace_seconds
            )
            print(f"steady {args.rate:.0f} clicks/s; learning baselines for {warmup:.0f} s")
            await asyncio.sleep(warmup)
            sent: dict[str, float] = {}
            for n in range(args.bursts):
                item = fresh[n]
                sent[item] = await burst(producer, item, args.burst_size)
                await asyncio.sleep(args.gap)
            await asyncio.sleep(5)
        for item, first in sent.items():
            if item in follower.first_seen:
                latencies.record_s(follower.first_seen[item] - first)
            else:
                missed.append(item)
        false_alarms = sorted(set(follower.first_seen) & set(steady))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for proc in procs:
            stop_worker(proc)
        await forget_run(settings)
    summary = latencies.summary_ms()
    print(
        f"{args.bursts} bursts of {args.burst_size} clicks in 0.5 s over {args.rate:.0f} steady "
        f"clicks/s, {args.window:g} s windows: flagged {summary['count']}, missed {len(missed)}, "
        f"false alarms {len(false_alarms)}; burst start -> trending_item p50 "
        f"{summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} "
        f"ms, max {summary['max_ms']:.1f} ms",
        flush=True,
    )
    return {
        "workers": workers,
        "redis": "cluster of 3 masters" if cluster else "one Redis",
        "settings": {
            "window_s": args.window,
            "min_support": settings.trend_min_support,
            "min_ratio": settings.trend_min_ratio,
            "min_z": settings.trend_min_z,
            "warmup_windows": settings.trend_warmup_windows,
            "grace_s": settings.trend_grace_seconds,
            "steady_clicks_per_s": args.rate,
            "burst_size": args.burst_size,
            "bursts": args.bursts,
        },
        "latency": summary,
        "latencies_ms": [
            round((follower.first_seen[i] - sent[i]) * 1000, 1)
            for i in sent
            if i in follower.first_seen
        ],
        "missed": missed,
        # bursts flagged in two windows (half a second of clicks may straddle a window's end)
        "flagged_in_two_windows": sorted(
            i for i in sent if sum(item == i for item, _ in follower.signals) > 1
        ),
        # bursts flagged more than once in one window: what the owners promise never happens
        "flagged_twice_in_a_window": sorted(
            {i for (i, _), n in follower.signals.items() if i in sent and n > 1}
        ),
        "false_alarms": false_alarms,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"machine": machine()}
    for name in args.setups:
        result[name] = await run_setup(args, name)
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    runs = [(name, result[name]) for name in SETUPS if name in result]
    width = 0.8 / len(runs)
    for n, (name, run) in enumerate(runs):
        values = run["latencies_ms"]
        label = f"{name.replace('_', ' ')}: p50 {run['latency']['p50_ms']:.0f} ms"
        ax.bar([i + n * width for i in range(1, len(values) + 1)], values, width, label=label)
    ax.set_xlabel("burst")
    ax.set_ylabel("burst start -> trending_item (ms)")
    window = runs[0][1]["settings"]["window_s"]
    ax.set_title(f"Trending detection, {window:g} s windows")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default=str(RETAIL))
    p.add_argument("--bursts", type=int, default=20)
    p.add_argument("--burst-size", type=int, default=30)
    p.add_argument("--gap", type=float, default=3.0, help="seconds between bursts")
    p.add_argument("--window", type=float, default=2.0, help="trend window in seconds")
    p.add_argument("--rate", type=float, default=200.0, help="steady clicks per second")
    p.add_argument("--web-port", type=int, default=6081)
    p.add_argument("--setups", nargs="+", choices=tuple(SETUPS), default=list(SETUPS))
    args = p.parse_args()
    result = asyncio.run(main_async(args))
    save("trends", result, plot)


if __name__ == "__main__":
    main()
