"""kill -9 of one of two workers on the local Redis Cluster, mid-stream: the other takes its
partitions (shoppers' and trend subjects'), no event is lost, every shopper's state equals a
one-worker run's, and the trend owners' state carries over: every partition's baselines and
closed windows equal the one-worker run's (a restarted detector would learn from nothing), and
a burst after the takeover is flagged exactly once, as in the one-worker run.

Event time runs at the pace of the sending (10 ms apart, 100 per second), as in a live shop, and
the trend grace (15 s) covers the takeover (a 6 s session timeout and a rebalance), so the
events of the dead worker's partitions, read again by the survivor, still count."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp

from core.events import EventKind
from core.settings import Settings
from feature_store.clients import redis_client
from feature_store.keys import Keys
from feature_store.trend_state import TrendStateStore
from personalisation.configs import trend_tracker
from ranking.item_index import ItemIndex
from ranking.state import differences
from tests.chaos.load import Stream, expected_counts, send, states, stream, wait_counted
from tests.integration.stack import (
    T0,
    check_services,
    free_port,
    new_settings,
    read_signals,
    running_worker,
    send_catalogue,
)
from tools.harness import forget_run, trends_lag
from tools.stats import read_totals
from trends.exchange import partition_of
from trends.snapshot import restore

PARTITIONS = 3
RATE = 100.0
BURST_AT = 3_000  # after the kill (at 1,300) and the takeover


def events() -> Stream:
    out = stream(shoppers=300, events=4_000, seed=3, spacing_ms=10)
    burst_ts = T0 + BURST_AT * 10
    burst: Stream = [
        (
            EventKind.CLICK,
            {
                "event_id": f"burst-{n}",
                "user_id": f"burster-{n}",
                "item_id": "G2",
                "ts": burst_ts + n,
            },
        )
        for n in range(40)
    ]
    # Two seconds (event time) after the rest: a worker sends a partition without observations
    # the clock once per second of event time, so this brings every trend partition's clock to
    # the same end in both runs, however their batches were cut.
    last: Stream = [
        (
            EventKind.CLICK,
            {
                "event_id": "last",
                "user_id": "last",
                "item_id": "K1",
                "ts": T0 + len(out) * 10 + 2_000,
            },
        )
    ]
    return out[:BURST_AT] + burst + out[BURST_AT:] + last


EVENTS = events()


def run_settings(cluster_port: int) -> Settings:
    return new_settings(
        partitions=PARTITIONS,
        redis_url=f"redis://127.0.0.1:{cluster_port}",
        redis_cluster=True,
        encoder_precision="fp32",  # vectors that do not depend on how texts are batched
        session_timeout_seconds=6,
        heartbeat_interval_seconds=1,
        trend_window_seconds=1,
        trend_grace_seconds=15,
        trend_warmup_windows=3,
    )


async def trend_parts(settings: Settings) -> list[Any]:
    """Every trend partition as stored in Redis."""
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        store = TrendStateStore(client, Keys(settings.redis_prefix))
        index = ItemIndex(4)
        return [
            restore(trend_tracker(settings, index), await store.load(p)) for p in range(PARTITIONS)
        ]
    finally:
        await client.aclose()


async def owners(session: aiohttp.ClientSession, workers: list[Settings]) -> list[list[int]]:
    out = []
    for w in workers:
        async with session.get(f"http://127.0.0.1:{w.web_port}/health") as response:
            out.append((await response.json())["trend_partitions"])
    return out


async def test_one_of_two_workers_killed_the_other_takes_over_shoppers_and_trends(
    cluster_port: int,
) -> None:
    users = {event["user_id"] for _, event in EVENTS}
    clean = run_settings(cluster_port)
    await check_services(clean)
    first = run_settings(cluster_port)
    second = first.model_copy(update={"web_port": free_port()})
    g2 = partition_of("trending_item", "G2", PARTITIONS)
    try:
        async with running_worker(clean):
            await send_catalogue(clean)
            await send(clean, EVENTS, RATE)
            await wait_counted(clean, len(EVENTS) + 12, timeout_s=60)
            assert not await trends_lag(clean, wait_s=60)
            clean_signals = await read_signals(clean)
        expected, clean_parts = await states(clean, users), await trend_parts(clean)

        await check_services(first)
        async with running_worker(first) as first_proc, running_worker(second) as second_proc:
            async with aiohttp.ClientSession() as session:
                deadline = time.monotonic() + 90
                while not all(held := await owners(session, [first, second])):
                    assert time.monotonic() < deadline, f"the trend partitions never split: {held}"
                    await asyncio.sleep(0.5)
                await send_catalogue(first)
                sent = [0]
                traffic = asyncio.create_task(send(first, EVENTS, RATE, sent))
                while sent[0] < 1_300:
                    await asyncio.sleep(0.05)
                # The worker that owns the burst's item is the one killed.
                victim = 0 if g2 in held[0] else 1
                held_by_victim = held[victim]
                proc = (first_proc, second_proc)[victim]
                proc.kill()  # SIGKILL to a worker this test started, mid-stream
                proc.wait()
                survivor = (first, second)[1 - victim]
                await traffic
                await wait_counted(first, len(EVENTS) + 12, timeout_s=90)
                assert not await trends_lag(first, wait_s=90)
                after = await owners(session, [survivor])
            totals = await read_totals(first)
            got, parts = await states(first, users), await trend_parts(first)
            signals = await read_signals(first)
    finally:
        await forget_run(clean)
        await forget_run(first)
    assert after == [list(range(PARTITIONS))] and held_by_victim
    counted = expected_counts(EVENTS) + Counter({"catalog": 12})
    assert not counted - totals.processed  # nothing lost (a batch in flight may count twice)
    assert sum((totals.processed - counted).values()) <= first.batch_max_size
    assert set(got) == set(expected) == users
    events_of = Counter(event["user_id"] for _, event in EVENTS)
    differing = {
        u: d for u in users if (d := differences(got[u], expected[u], vector_steps=events_of[u]))
    }
    assert differing == {}
    for p, (mine, theirs) in enumerate(zip(parts, clean_parts, strict=True)):
        for kind, detector in mine.tracker.detectors.items():
            reference = theirs.tracker.detectors[kind]
            assert detector.closed == reference.closed > 3, (p, kind)
            assert detector.baselines == reference.baselines, (p, kind)
    bursts = [(s["subject"], s["window"]["start"]) for s in signals if s["kind"] == "trending_item"]
    clean_bursts = [
        (s["subject"], s["window"]["start"]) for s in clean_signals if s["kind"] == "trending_item"
    ]
    assert bursts == clean_bursts == [("G2", T0 + BURST_AT * 10)]
