"""The traffic of the chaos tests: a fixed, seeded stream of shop events, sent open loop at a
steady rate, and the ways to check what the worker made of it."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

from core.events import EventKind
from core.settings import Settings
from feature_store.clients import redis_client
from feature_store.keys import Keys
from feature_store.state_codec import decode
from ranking.state import UserState
from streams.producer import EventProducer
from tests.integration.stack import CATALOGUE, T0
from tools.stats import read_totals

Stream = list[tuple[EventKind, dict[str, Any]]]
ITEMS = [item for item, _, _ in CATALOGUE]


def stream(shoppers: int, events: int, seed: int = 0, spacing_ms: int = 500) -> Stream:
    """``events`` clicks, purchases and searches of ``shoppers`` shoppers, in time order,
    ``spacing_ms`` apart."""
    rng = random.Random(seed)
    out: Stream = []
    for n in range(events):
        user = f"shopper-{rng.randrange(shoppers)}"
        ts = T0 + n * spacing_ms
        roll = rng.random()
        if roll < 0.7:
            event = {"user_id": user, "item_id": rng.choice(ITEMS), "action": "click"}
            kind = EventKind.CLICK
        elif roll < 0.85:
            event = {"user_id": user, "item_id": rng.choice(ITEMS), "quantity": 1, "price": 2.5}
            kind = EventKind.PURCHASE
        else:
            event = {"user_id": user, "query": rng.choice(["tea towel", "candle", "garden"])}
            kind = EventKind.SEARCH
        out.append((kind, {"event_id": f"ev-{seed}-{n}", "ts": ts, **event}))
    return out


def expected_counts(events: Stream) -> Counter[str]:
    return Counter(kind.value for kind, _ in events)


async def send(
    settings: Settings, events: Stream, rate: float, sent: list[int] | None = None
) -> None:
    """Send ``events`` at ``rate`` per second (open loop, in 20 ms ticks); the producer retries
    while Kafka is away. ``sent`` (a one-element list) follows how many were handed over."""
    async with EventProducer(settings, client_id="chaos-load") as producer:
        started = time.monotonic()
        for n, (kind, event) in enumerate(events):
            due = started + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await producer.send(kind, event)
            if sent is not None:
                sent[0] = n + 1


async def wait_counted(settings: Settings, expected: int, timeout_s: float) -> float:
    """Seconds until the worker's totals reach ``expected`` messages (then a second more, so
    extra counts would show); fails after ``timeout_s``."""
    started = time.monotonic()
    while True:
        totals = await read_totals(settings)
        if totals.total >= expected:
            took = time.monotonic() - started
            await asyncio.sleep(1.0)
            return took
        assert time.monotonic() - started < timeout_s, (
            f"only {totals.total} of {expected} messages counted after {timeout_s:.0f} s"
        )
        await asyncio.sleep(0.1)


async def states(settings: Settings, users: set[str]) -> dict[str, UserState]:
    keys = Keys(settings.redis_prefix)
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        ordered = sorted(users)
        # GETs in one pipeline, not MGET: on a cluster the shoppers' keys span slots
        async with client.pipeline(transaction=False) as pipe:
            for u in ordered:
                pipe.get(keys.user(u))
            blobs = await pipe.execute()
    finally:
        await client.aclose()
    return {u: decode(b) for u, b in zip(ordered, blobs, strict=True) if b}
