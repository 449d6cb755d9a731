"""End-to-end benchmark on the real stack: Kafka, Redis, workers, a load generator process.

    python -m bench.e2e_bench [--rates 500 1000 2000 3000 5000 8000] [--seconds 12]

Three setups in one run, each with its own topics and keys, under the same open-loop load:
the **ceiling** (one worker with personalisation off: validation, dead letters, counts: what
the plumbing alone carries), the **engine** (one worker), and **two workers** on the same box;
with ``--setups`` also the engine and two workers on the local Redis Cluster (three masters on
the same box, ``infra/redis-cluster.sh``, started if need be) instead of one Redis. With
``--variant NAME:FIELD=VALUE[,FIELD=VALUE]`` also an engine of other settings (``Settings``
fields), in the same runs, interleaved with the rest: an A/B of a setting in one command.
For each offered click rate the load generator (its own process) records when it sent each
event; the benchmark follows ``pulse.recommendations`` and matches every list to its
``trigger_event_id``: latency = list received - event sent (several events of one shopper in
one micro-batch give one list, so lists are fewer than events). Every rate drains before the
next starts; the cores each part kept busy (worker, Kafka, Redis, load generator) are read
from /proc. The engine row is also given as a share of the ceiling's achieved rate. For the
one-worker engine also: searches at 500/s, ``GET`` latency while the worker is saturated and at
rest, Redis bytes per shopper. Writes bench/results/e2e.json and e2e.png. Needs the local stack
(``infra/stack.sh up``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import RESULTS, Latencies, machine, save
from bench.cpu import CpuMeter, stack_pids
from bench.datasets import RETAIL
from bench.e2e_load import ListFollower, catalogue_events, load_catalogue, offered_run
from bench.e2e_report import plot, print_spread, spread
from bench.e2e_setups import SETUPS, Setup, setup_settings, variant
from bench.local_cluster import cluster_pids
from core.settings import Settings
from encoders.service import batch_config, encoder_threads
from feature_store.clients import redis_client
from feature_store.keys import Keys
from streams.admin import ensure_topics
from tools.harness import forget_run, isolated, start_worker, stop_worker, wait_healthy


def encoder_settings() -> dict[str, Any]:
    """The encoder's micro-batching as the worker runs it on this machine's CPU (its defaults
    unless PULSE_ENCODER_* say otherwise)."""
    settings = Settings()
    config = batch_config(settings, on_cuda=False)
    return {
        "encoder_batch_max_size": config.max_batch_size,
        "encoder_batch_max_wait_ms": config.max_wait_ms,
        "encoder_threads": encoder_threads(settings),
        "encoder_in_flight": config.max_in_flight,
    }


async def redis_bytes(settings: Settings, sample: int) -> dict[str, Any]:
    keys = Keys(settings.redis_prefix)
    client = redis_client(settings.redis_url, settings.redis_cluster)
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


def sustained(clicks: list[dict[str, Any]], lists: bool) -> float:
    """The highest offered rate carried: 95 % achieved, drained within 5 s of the load's end,
    and (where lists are made) a list seen for 95 % of the events sent, with p99 under a
    second (a rate whose lists never arrived has no latency to judge: it is not carried)."""
    ok = [
        r["offered_per_s"]
        for r in clicks
        if r["achieved_per_s"] >= 0.95 * r["offered_per_s"]
        and r["drain_after_load_s"] < 5
        and (not lists or (r["lists"] >= 0.95 * r["sent"] and r["p99_ms"] < 1000))
    ]
    return max(ok, default=0)


async def run_setup(
    args: argparse.Namespace, setup: Setup, catalogue: list[dict[str, Any]], extras: bool
) -> dict[str, Any]:
    names = isolated("bench")
    run = names["redis_prefix"]
    settings = setup_settings(setup, names, args.partitions, args.web_port)
    await ensure_topics(settings)
    RESULTS.mkdir(parents=True, exist_ok=True)
    ports = [args.web_port + n for n in range(setup.workers)]
    copies = [settings.model_copy(update={"web_port": port}) for port in ports]
    procs = [
        start_worker(s, Path("var/log") / f"bench-worker-{run}-{n}.log")
        for n, s in enumerate(copies)
    ]
    pids = stack_pids()
    if setup.cluster:
        pids["redis"] = cluster_pids()
    meter = CpuMeter({"worker": [p.pid for p in procs], **pids})
    follower = ListFollower(settings)
    follow_task = asyncio.create_task(follower.run())
    out: dict[str, Any] = {
        "workers": setup.workers,
        "personalise": setup.personalise,
        "redis": "cluster of 3 masters" if setup.cluster else "one Redis",
    }
    items_file = RESULTS / f".items-{run}.txt"
    items = [e["item_id"] for e in catalogue]
    items_file.write_text("\n".join(items))
    print(
        f"--- {setup.name}: {setup.workers} worker(s), personalise={setup.personalise}, "
        f"{out['redis']}"
    )
    try:
        for proc, s in zip(procs, copies, strict=True):
            await wait_healthy(f"http://127.0.0.1:{s.web_port}/health", proc, timeout_s=180)
        if setup.personalise:
            await load_catalogue(settings, catalogue)
            print(f"catalogue of {len(items):,} items loaded", flush=True)
        await offered_run(settings, follower, "click", 300, 4, items_file, f"{run}-warm")
        out["clicks"] = []
        for rate in args.rates:
            tag = f"{run}-c{int(rate)}"
            out["clicks"].append(
                await offered_run(
                    settings,
                    follower,
                    "click",
                    rate,
                    args.seconds,
                    items_file,
                    tag,
                    meter=meter,
                    steps_port=ports[0] if setup.personalise else None,
                )
            )
        out["highest_sustained_click_rate"] = sustained(out["clicks"], setup.personalise)
        print(f"highest sustained: {out['highest_sustained_click_rate']:,.0f} clicks/s")
        if setup.name == "engine" and extras:
            out.update(await engine_extras(args, settings, follower, items_file, meter))
    finally:
        follow_task.cancel()
        await asyncio.gather(follow_task, return_exceptions=True)
        for proc in procs:
            stop_worker(proc)
        items_file.unlink(missing_ok=True)
        # The run's topics and keys (100,000 shoppers) would otherwise stay in the local stack.
        await forget_run(settings)
    return out


async def engine_extras(
    args: argparse.Namespace,
    settings: Settings,
    follower: ListFollower,
    items_file: Path,
    meter: CpuMeter,
) -> dict[str, Any]:
    """Searches, GET while the worker is saturated, Redis bytes per shopper, GET at rest."""
    run = settings.redis_prefix
    out: dict[str, Any] = {}
    out["searches"] = await offered_run(
        settings,
        follower,
        "search",
        args.search_rate,
        args.seconds,
        items_file,
        f"{run}-s",
        steps_port=settings.web_port,
    )
    if args.searches_only:
        return out
    users = (await redis_bytes(settings, 2_000))["picked"]
    top = max(args.rates)
    saturated, out["get_saturated"] = await asyncio.gather(
        offered_run(settings, follower, "click", top, args.seconds, items_file, f"{run}-g"),
        get_latency(settings, users, 2_000, 4),
    )
    g = out["get_saturated"]
    g["during_offered_per_s"] = top
    g["achieved_clicks_per_s"] = saturated["achieved_per_s"]
    print(
        f"GET while {top:,.0f} clicks/s offered ({saturated['achieved_per_s']:,.0f}/s achieved): "
        f"p50 {g['p50_ms']:.2f} ms, p95 {g['p95_ms']:.2f} ms, p99 {g['p99_ms']:.2f} ms",
        flush=True,
    )
    out["population"] = await offered_run(
        settings,
        follower,
        "click",
        args.populate_rate,
        args.shoppers / args.populate_rate,
        items_file,
        f"{run}-pop",
        ("--sequential-users", "--users", str(args.shoppers)),
    )
    memory = await redis_bytes(settings, 2_000)
    users = memory.pop("picked")
    out["redis"] = memory
    print(
        f"Redis: {memory['shoppers']:,} shoppers; per shopper "
        f"{memory['state_bytes_mean']:.0f} B state + "
        f"{memory['recommendations_bytes_mean']:.0f} B list = "
        f"{memory['total_bytes_mean']:.0f} B",
        flush=True,
    )
    out["get"] = await get_latency(settings, users, 3_000, 4)
    g = out["get"]
    print(
        f"GET /users/{{id}}/recommendations at rest: {g['per_s']:,.0f}/s, p50 {g['p50_ms']:.2f} "
        f"ms, p95 {g['p95_ms']:.2f} ms, p99 {g['p99_ms']:.2f} ms",
        flush=True,
    )
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    catalogue = catalogue_events(Path(args.data))
    setups = [SETUPS[name] for name in args.setups] + args.variant
    result: dict[str, Any] = {
        "machine": machine(),
        "settings": {
            "partitions": args.partitions,
            "batch_max_size": Settings().batch_max_size,
            "batch_max_wait_ms": Settings().batch_max_wait_ms,
            "gc_threshold": Settings().gc_threshold,
            **encoder_settings(),
        },
    }
    if args.variant:
        result["variants"] = {v.name: dict(v.settings) for v in args.variant}
    runs: list[dict[str, Any]] = []
    for number in range(args.runs):
        if args.runs > 1:
            print(f"=== run {number + 1} of {args.runs}", flush=True)
        this: dict[str, Any] = {}
        for setup in setups:
            # the extras (searches, GET, memory) once, in the first run
            extras = args.engine_extras and number == 0
            this[setup.name] = await run_setup(args, setup, catalogue, extras)
        runs.append(this)
    for name, out in runs[0].items():
        if name == "engine":
            result.update(out)  # the main rows, where earlier results kept them
        else:
            result[name] = out
    if args.runs > 1:
        result["runs"] = [
            {
                name: {k: out[k] for k in ("clicks", "highest_sustained_click_rate")}
                for name, out in this.items()
            }
            for this in runs
        ]
        result["spread"] = spread(runs)
        print_spread(result["spread"])
    if "ceiling" in result and "clicks" in result:
        ceiling = {r["offered_per_s"]: r["achieved_per_s"] for r in result["ceiling"]["clicks"]}
        run_names = {setup.name for setup in setups}
        others = [out.get("clicks", []) for name, out in result.items() if name in run_names]
        for rows in (result["clicks"], *others):
            for r in rows:
                r["share_of_ceiling"] = round(r["achieved_per_s"] / ceiling[r["offered_per_s"]], 3)
        print("achieved / ceiling at each rate (one worker):")
        for r in result["clicks"]:
            print(f"  {r['offered_per_s']:>6,.0f}/s offered: {r['share_of_ceiling']:.0%}")
    return result


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rates", type=float, nargs="+", default=[500, 1000, 2000, 3000, 5000, 8000])
    p.add_argument(
        "--setups",
        nargs="+",
        choices=tuple(SETUPS),
        default=["ceiling", "engine", "two_workers"],
        help="which setups to run (the first three by default; the plot needs the engine)",
    )
    p.add_argument(
        "--engine-extras",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="searches, GET while saturated, 100,000 shoppers' Redis bytes, GET at rest",
    )
    p.add_argument(
        "--searches-only",
        action="store_true",
        help="of the extras, only the searches (to compare encoder settings quickly)",
    )
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
    p.add_argument(
        "--runs",
        type=int,
        default=1,
        help="repeat the click sweeps of every setup (in turn) and report their spread",
    )
    p.add_argument(
        "--variant",
        type=variant,
        action="append",
        default=[],
        metavar="NAME:FIELD=VALUE[,FIELD=VALUE]",
        help="also an engine (one worker) with these settings, e.g. "
        "one-batch:batch_max_size=100 (repeatable)",
    )
    p.add_argument("--name", default="e2e")
    args = p.parse_args()
    if len({v.name for v in args.variant}) < len(args.variant):
        p.error("each --variant needs a name of its own")
    result = asyncio.run(main_async(args))
    save(args.name, result, plot)


if __name__ == "__main__":
    main()
