"""GET /search on the real stack: latency at fixed offered rates, cold and warm query cache.

    python -m bench.search_latency [--rates 50 200 500] [--seconds 10]

A worker (its own topics and keys) with the Online Retail catalogue; 500 shoppers each send
a few clicks first, so searches are personalised. Then, for each offered rate, searches are
sent open-loop (each at its scheduled time, whether or not earlier ones have answered):
**cold**, every query new to the worker (two words of an item name, never asked before in
the run, so the encoder's cache never has it), then **warm**, queries drawn from 50 already
asked. Latency: answer received - scheduled send. Each answer's ``timings_ms`` tell where the
worker's time went (encode, of it the wait for the query's batch and the batch's run, retrieve,
shopper reads, rank), and the cores each part kept busy
are read from /proc (the load generator runs in this process). With ``--catalogue-per-s N``
each run also sends N new items a second (the worker encodes their texts meanwhile). Writes
bench/results/search-latency.json and .png. Needs the local stack (``infra/stack.sh up``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.common import Latencies, machine, pyplot, save
from bench.cpu import CpuMeter, stack_pids
from bench.datasets import RETAIL
from bench.e2e_load import catalogue_events, load_catalogue
from core.events import EventKind
from core.settings import Settings
from streams.admin import ensure_topics
from streams.producer import EventProducer
from tools.harness import forget_run, input_lag, isolated, start_worker, stop_worker, wait_healthy

WORD = re.compile(r"[A-Za-z]{3,}")
PARTS = ("encode", "encode_queue", "encode_run", "retrieve", "shopper", "rank")


def phrases(titles: list[str], rng: random.Random) -> list[str]:
    """Every distinct two-word query a shopper might type from the item names (two of a name's
    words of three letters or more, lower case, in their order), shuffled: 15,708 from the
    Online Retail names, so no query is asked twice in a run and each cold one is new to the
    worker's cache."""
    found: dict[str, None] = {}
    for title in titles:
        words = [w.lower() for w in WORD.findall(title)]
        for i, j in itertools.combinations(range(len(words)), 2):
            found.setdefault(f"{words[i]} {words[j]}")
    out = list(found)
    rng.shuffle(out)
    return out


async def offered(
    url: str, rate: float, seconds: float, asks: list[str], users: list[str], meter: CpuMeter
) -> dict[str, Any]:
    """Searches at ``rate`` per second for ``seconds``, open-loop."""
    latencies = Latencies()
    parts: dict[str, list[float]] = {p: [] for p in PARTS}
    errors: dict[str, int] = {}
    messages: dict[str, int] = {}  # each error message the worker gave, with its first request
    total = int(rate * seconds)
    rng = random.Random(int(rate))
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(n: int, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            params = {"q": asks[n % len(asks)], "user_id": rng.choice(users), "k": "10"}
            try:
                async with session.get(url, params=params) as response:
                    body = await response.json()
                    status = response.status
            except Exception as exc:  # counted, the run goes on
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.record_s(time.perf_counter() - at)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
                messages.setdefault(str(body.get("error", {}).get("message"))[:300], n)
                return
            for part in PARTS:
                parts[part].append(body["timings_ms"][part])

        meter.start()
        started = time.perf_counter() + 0.05
        await asyncio.gather(*(one(n, started + n / rate) for n in range(total)))
        elapsed = time.perf_counter() - started
        cores = meter.stop()
    summary = latencies.summary_ms()
    return {
        "offered_per_s": rate,
        "achieved_per_s": summary["count"] / elapsed,
        **summary,
        "errors": errors,
        "error_messages": list(messages),
        "worker_ms_mean": {p: float(np.mean(v)) if v else 0.0 for p, v in parts.items()},
        "worker_ms_p99": {p: float(np.percentile(v, 99)) if v else 0.0 for p, v in parts.items()},
        "cores": cores,
    }


async def churn(
    settings: Settings, titles: list[str], rate: float, seconds: float, tag: str
) -> int:
    """New items at ``rate`` per second for ``seconds``, each with a description of about 300
    characters, so the worker encodes product texts while it answers searches."""
    rng = random.Random(tag)
    sent = 0
    async with EventProducer(settings, client_id=f"bench-churn-{tag}") as producer:
        started = time.perf_counter()
        while sent < int(rate * seconds):
            await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))
            item = {
                "item_id": f"churn-{tag}-{sent}",
                "title": rng.choice(titles),
                "description": " ".join(rng.sample(titles, 12))[:300],
                "in_stock": True,
            }
            await producer.send(EventKind.CATALOG, item)
            sent += 1
    return sent


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(**isolated("bench"), web_port=args.web_port)  # type: ignore[arg-type]
    catalogue = catalogue_events(Path(args.data))
    titles = [e["title"] for e in catalogue if e.get("title")]
    items = [e["item_id"] for e in catalogue]
    await ensure_topics(settings)
    proc = start_worker(settings, Path("var/log") / f"bench-search-{settings.redis_prefix}.log")
    meter = CpuMeter({"worker": [proc.pid], **stack_pids(), "load generator": [os.getpid()]})
    url = f"http://127.0.0.1:{settings.web_port}/search"
    rng = random.Random(0)
    users = [f"shopper-{n}" for n in range(500)]
    out: dict[str, Any] = {"machine": machine(), "catalogue_items": len(items), "runs": []}
    try:
        await wait_healthy(f"http://127.0.0.1:{settings.web_port}/health", proc, timeout_s=180)
        await load_catalogue(settings, catalogue)
        async with EventProducer(settings, client_id="bench-search") as producer:
            now = int(time.time() * 1000)
            for user in users:
                for step in range(4):
                    click = {"user_id": user, "item_id": rng.choice(items), "ts": now + step}
                    await producer.send(EventKind.CLICK, click)
        assert not await input_lag(settings, wait_s=120), "the worker did not catch up"
        fresh = iter(phrases(titles, rng))
        warm_set = list(itertools.islice(fresh, 50))
        await offered(url, 20, 5, warm_set, users, meter)  # the warm set asked once
        for rate in args.rates:
            for cache in ("cold", "warm"):
                asks = warm_set
                if cache == "cold":
                    asks = list(itertools.islice(fresh, int(rate * args.seconds)))
                    assert len(asks) == int(rate * args.seconds), "out of new queries: fewer rates"
                changes = (
                    churn(settings, titles, args.catalogue_per_s, args.seconds, f"{rate}{cache}")
                    if args.catalogue_per_s
                    else asyncio.sleep(0, 0)
                )
                run, _ = await asyncio.gather(
                    offered(url, rate, args.seconds, asks, users, meter), changes
                )
                run["cache"] = cache
                run["catalogue_changes_per_s"] = args.catalogue_per_s
                out["runs"].append(run)
                print(
                    f"{cache:4} {rate:5,.0f}/s offered: {run['achieved_per_s']:6,.0f}/s, "
                    f"p50 {run['p50_ms']:7.1f} ms, p95 {run['p95_ms']:7.1f} ms, "
                    f"p99 {run['p99_ms']:7.1f} ms; worker ms mean/p99 "
                    + ", ".join(
                        f"{p} {v:.2f}/{run['worker_ms_p99'][p]:.2f}"
                        for p, v in run["worker_ms_mean"].items()
                    )
                    + f"; errors {run['errors'] or 0} {run['error_messages'][:2]}; cores "
                    + ", ".join(f"{k} {v:.2f}" for k, v in run["cores"].items()),
                    flush=True,
                )
                await asyncio.sleep(1.0)
    finally:
        stop_worker(proc)
        await forget_run(settings)
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for cache in ("cold", "warm"):
        runs = [r for r in result["runs"] if r["cache"] == cache]
        rates = [r["offered_per_s"] for r in runs]
        for pct, style in (("p50_ms", "--"), ("p99_ms", "-")):
            ax.plot(rates, [r[pct] for r in runs], style, marker="o", label=f"{cache} {pct[:3]}")
    ax.set_xlabel("searches offered per s")
    ax.set_ylabel("ms")
    ax.set_yscale("log")
    ax.set_title("GET /search on the real stack")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rates", type=float, nargs="+", default=[50, 200, 500])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument(
        "--catalogue-per-s",
        type=float,
        default=0,
        help="new items (with ~300-character descriptions) sent per s during each run",
    )
    p.add_argument("--data", default=str(RETAIL))
    p.add_argument("--web-port", type=int, default=6199)
    p.add_argument("--name", default="search-latency")
    args = p.parse_args()
    save(args.name, asyncio.run(main_async(args)), plot)


if __name__ == "__main__":
    main()
