"""Forgetting under load: how long from ``DELETE /users/{id}`` until the shopper is gone.

    python -m bench.forget_bench [--deletions 1000] [--rate 10] [--load 1000]

Two workers on the local stack, the Online Retail catalogue, and shoppers to forget with a few
clicks each; then, while a load generator (its own process) sends clicks of other shoppers at
``--load`` per second, ``--deletions`` deletions, ``--rate`` per second (open loop), half to each
worker. For each deletion it measures the answer (202) and the time until the shopper is gone:
both workers report the deletion applied (``GET /users/{id}``: their events up to it are
dropped, their cache, session and signals evicted) and Redis holds none of their keys and no
signal naming them. Prints p50/p95/p99 and the rates achieved; writes
``bench/results/forget.json`` and ``forget.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

from bench import loadgen
from bench.common import RESULTS, Latencies, machine, pyplot, save
from bench.datasets import RETAIL
from bench.e2e_load import catalogue_events, load_catalogue
from core.events import EventKind
from core.settings import Settings
from feature_store.keys import Keys
from feature_store.trend_signals import SHOPPER_KIND
from streams.admin import ensure_topics
from streams.producer import EventProducer
from tools.harness import forget_run, input_lag, isolated, start_worker, stop_worker, wait_healthy
from tools.stats import read_totals


async def populate(settings: Settings, users: list[str], items: list[str]) -> None:
    """Three clicks for each shopper to forget, then wait until each has a state."""
    now = int(time.time() * 1000) - 60_000
    async with EventProducer(settings, client_id="bench-forget") as producer:
        for n, user in enumerate(users):
            for step in range(3):
                item = items[(7 * n + 13 * step) % len(items)]
                await producer.send(
                    EventKind.CLICK, {"user_id": user, "item_id": item, "ts": now + step}
                )
    lagging = await input_lag(settings, wait_s=120)
    assert not lagging, f"the workers did not take the shoppers' events: {lagging}"


class Deleter:
    def __init__(self, settings: Settings, workers: list[str], redis: aioredis.Redis) -> None:
        self.settings = settings
        self.workers = workers
        self.redis = redis
        self.keys = Keys(settings.redis_prefix)
        self.headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
        self.answered = Latencies()
        self.gone = Latencies()
        self.failed: list[str] = []

    async def redis_names(self, user: str) -> bool:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in self.keys.shopper(user):
                pipe.exists(key)
            pipe.lrange(self.keys.trend_signals(SHOPPER_KIND), 0, -1)
            *exists, signals = await pipe.execute()
        return any(exists) or any(orjson.loads(s)["subject"] == user for s in signals)

    async def applied_everywhere(self, session: aiohttp.ClientSession, user: str) -> bool:
        for worker in self.workers:
            async with session.get(f"{worker}/users/{user}", headers=self.headers) as r:
                if (await r.json()).get("forgotten_at") is None:
                    return False
        return True

    async def delete(self, session: aiohttp.ClientSession, n: int, user: str) -> None:
        start = time.perf_counter()
        async with session.delete(f"{self.workers[n % 2]}/users/{user}", headers=self.headers) as r:
            if r.status != 202:
                self.failed.append(f"{user}: {r.status} {await r.text()}")
                return
        self.answered.record_s(time.perf_counter() - start)
        deadline = start + 30
        while time.perf_counter() < deadline:
            if await self.applied_everywhere(session, user) and not await self.redis_names(user):
                self.gone.record_s(time.perf_counter() - start)
                return
            await asyncio.sleep(0.01)
        self.failed.append(f"{user}: not gone within 30 s")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(**isolated("fgt"), partitions=4, web_port=args.web_port)  # type: ignore[arg-type]
    second = settings.model_copy(update={"web_port": args.web_port + 1})
    run = settings.redis_prefix
    await ensure_topics(settings)
    procs = [
        start_worker(s, Path("var/log") / f"bench-forget-{run}-{n}.log")
        for n, s in enumerate((settings, second))
    ]
    workers = [f"http://127.0.0.1:{s.web_port}" for s in (settings, second)]
    items_file = RESULTS / f".items-{run}.txt"
    redis = aioredis.from_url(settings.redis_url)
    result: dict[str, Any] = {"machine": machine(), "workers": 2, "partitions": 4}
    try:
        for proc, url in zip(procs, workers, strict=True):
            await wait_healthy(f"{url}/health", proc, timeout_s=180)
        items = await load_catalogue(settings, catalogue_events(Path(args.data)))
        items_file.write_text("\n".join(items))
        users = [f"gone-{n}" for n in range(args.deletions)]
        await populate(settings, users, items)
        print(f"{len(items):,} items; {len(users):,} shoppers to forget, each with a state")
        seconds = args.deletions / args.rate + 15
        out = RESULTS / f".sends-{run}.json"
        start_totals = sum((await read_totals(settings)).processed.values())
        load = await asyncio.create_subprocess_exec(
            *loadgen.command(settings, "click", args.load, seconds, items_file, f"{run}-l", out)
        )
        while sum((await read_totals(settings)).processed.values()) < start_totals + args.load:
            await asyncio.sleep(0.1)  # until the load is under way: a second of it processed
        before = await read_totals(settings)
        deleter = Deleter(settings, workers, redis)
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            tasks = []
            for n, user in enumerate(users):
                delay = started + n / args.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(deleter.delete(session, n, user)))
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        processed = sum((await read_totals(settings)).processed.values()) - sum(
            before.processed.values()
        )
        await load.wait()
        sends = orjson.loads(out.read_bytes())
        out.unlink()
        result.update(
            deletions=len(users),
            offered_deletions_per_s=args.rate,
            achieved_deletions_per_s=len(users) / elapsed,
            offered_events_per_s=args.load,
            events_sent=len(sends["sent"]),
            events_processed_during_deletions=processed,
            events_per_s_during_deletions=processed / elapsed,
            answered=deleter.answered.summary_ms(),
            gone=deleter.gone.summary_ms(),
            failed=deleter.failed,
        )
        for name in ("answered", "gone"):
            s = result[name]
            print(
                f"{name:8} {s['count']:,} deletions: p50 {s['p50_ms']:.1f} ms, "
                f"p95 {s['p95_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, max {s['max_ms']:.1f} ms"
            )
        print(
            f"{result['achieved_deletions_per_s']:.1f} deletions/s achieved of {args.rate:g}; "
            f"{result['events_per_s_during_deletions']:,.0f} events/s processed meanwhile "
            f"(offered {args.load:g}); {len(deleter.failed)} failed"
        )
        for line in deleter.failed[:10]:
            print("  failed:", line)
        result["gone_ms"] = [v / 1000 for v in _values(deleter.gone)]
        result["answered_ms"] = [v / 1000 for v in _values(deleter.answered)]
    finally:
        for proc in procs:
            stop_worker(proc)
        items_file.unlink(missing_ok=True)
        await redis.aclose()
        await forget_run(settings)
    return result


def _values(latencies: Latencies) -> list[int]:
    """Every recorded value (us), from the histogram's buckets, for the plot."""
    out: list[int] = []
    for item in latencies.hist.get_recorded_iterator():
        out += [item.value_iterated_to] * item.count_added_in_this_iter_step
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, label in (("answered_ms", "202 answered"), ("gone_ms", "gone everywhere")):
        values = sorted(result.get(name, []))
        if values:
            ax.plot(values, [(n + 1) / len(values) for n in range(len(values))], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("ms after DELETE /users/{id} was sent")
    ax.set_ylabel("share of deletions")
    ax.set_title(
        f"{result.get('deletions', 0):,} deletions at {result.get('offered_deletions_per_s', 0):g}"
        f"/s, 2 workers; clicks offered {result.get('offered_events_per_s', 0):,.0f}/s, "
        f"processed {result.get('events_per_s_during_deletions', 0):,.0f}/s"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--deletions", type=int, default=1_000)
    p.add_argument("--rate", type=float, default=10.0, help="deletions per second")
    p.add_argument("--load", type=float, default=1_000.0, help="clicks per second meanwhile")
    p.add_argument("--web-port", type=int, default=6081)
    p.add_argument("--data", default=str(RETAIL))
    args = p.parse_args()
    save("forget", asyncio.run(main_async(args)), plot)


if __name__ == "__main__":
    main()
