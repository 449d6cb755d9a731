"""Load generator for the end-to-end benchmark, run as its own process.

    python -m bench.loadgen --prefix P --kind click --rate 2000 --seconds 15 --out sends.json

Produces pre-built contract events open loop at a fixed rate (a schedule, not "as fast as the
last send allows") and writes when each event was handed to the producer: event_id -> epoch ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import zlib
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from bench.datasets import product_names
from core.settings import Settings


def build(
    sequential: bool,
    kind: str,
    n: int,
    users: int,
    items: list[str],
    queries: list[str],
    seed: int,
    run: str,
) -> list[tuple[str, bytes, bytes]]:
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    out = []
    for i in range(n):
        user = f"bench-{i % users}" if sequential else f"bench-{rng.randrange(users)}"
        event_id = f"{run}-{i}"
        if kind == "click":
            body = {
                "event_id": event_id,
                "user_id": user,
                "ts": now + i,
                "item_id": rng.choice(items),
                "action": rng.choice(("view", "view", "click", "add_to_cart")),
            }
        else:
            body = {
                "event_id": event_id,
                "user_id": user,
                "ts": now + i,
                "query": rng.choice(queries),
            }
        out.append((event_id, user.encode(), orjson.dumps(body)))
    return out


async def run(args: argparse.Namespace) -> None:
    items = [line.split("\t")[0] for line in Path(args.items).read_text().splitlines()]
    names = product_names()
    queries = sorted({" ".join(n.lower().split()[:2]) for n in names})
    topic = args.prefix + ("events.clicks" if args.kind == "click" else "events.searches")
    events = build(
        args.sequential_users,
        args.kind,
        int(args.rate * args.seconds),
        args.users,
        items,
        queries,
        args.seed,
        args.run,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True, linger_ms=1
    )
    await producer.start()
    sent: dict[str, float] = {}
    futures = []
    try:
        start = time.perf_counter()
        wall0 = time.time()
        cpu0 = time.process_time()
        for i, (event_id, key, value) in enumerate(events):
            due = start + i / args.rate
            delay = due - time.perf_counter()
            if delay > 0.001:
                await asyncio.sleep(delay)
            sent[event_id] = (wall0 + (time.perf_counter() - start)) * 1000
            futures.append(await producer.send(topic, value=value, key=key))
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - start
    finally:
        await producer.stop()
    Path(args.out).write_bytes(
        orjson.dumps(
            {
                "sent": sent,
                "seconds": elapsed,
                "offered_per_s": args.rate,
                # CPU seconds of this process while sending (building the events excluded)
                "cpu_s": time.process_time() - cpu0,
            }
        )
    )


def command(
    settings: Settings,
    kind: str,
    rate: float,
    seconds: float,
    items_file: Path,
    tag: str,
    out: Path,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The command line of a load generator process against ``settings``' topics."""
    return [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--bootstrap",
        settings.kafka_bootstrap,
        "--prefix",
        settings.topic_prefix,
        "--kind",
        kind,
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--items",
        str(items_file),
        "--run",
        tag,
        "--out",
        str(out),
        "--seed",
        str(zlib.crc32(tag.encode()) % 1000),
        *extra,
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--prefix", required=True)
    p.add_argument("--kind", choices=["click", "search"], default="click")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--items", required=True, help="file of item ids, one per line")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sequential-users", action="store_true", help="user i %% users, in order")
    p.add_argument("--run", default="r")
    p.add_argument("--out", required=True)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
