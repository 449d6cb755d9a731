"""kill -9 of a worker mid-stream: nothing lost, nothing counted twice, every shopper's state
as a clean run leaves it, and the replacement catches up quickly (static membership). On one
Redis and on the local Redis Cluster (where a batch is written by slot: shoppers' states stay
exact, and the event counts of a batch replayed after the kill may be added twice)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import numpy as np
import pytest

from core.settings import Settings
from ranking.state import differences
from streams.admin import ensure_topics
from tests.chaos.load import expected_counts, send, states, stream, wait_counted
from tests.integration.stack import (
    ROOT,
    check_services,
    new_settings,
    running_worker,
    send_catalogue,
)
from tools.harness import forget_run, start_worker, stop_worker, wait_healthy
from tools.stats import read_totals

EVENTS = stream(shoppers=300, events=3_000, seed=1)
RATE = 500.0


def run_settings(cluster_port: int | None) -> Settings:
    # Static membership: a worker restarted under the same id takes its partitions back at
    # once instead of waiting for the dead one's session to time out.
    # fp32: its vectors do not depend on what a text is batched with (int8's do).
    on_cluster = {"redis_url": f"redis://127.0.0.1:{cluster_port}", "redis_cluster": True}
    return new_settings(
        partitions=3,
        group_instance_id="chaos-worker-1",
        encoder_precision="fp32",
        **(on_cluster if cluster_port is not None else {}),
    )


@pytest.mark.parametrize("store", ["redis", "cluster"])
async def test_a_killed_worker_loses_nothing_counts_nothing_twice_and_catches_up(
    store: str, request: pytest.FixtureRequest
) -> None:
    users = {event["user_id"] for _, event in EVENTS}
    port = request.getfixturevalue("cluster_port") if store == "cluster" else None
    clean, killed = run_settings(port), run_settings(port)
    await check_services(clean)
    try:
        async with running_worker(clean):
            await send_catalogue(clean)
            await send(clean, EVENTS, RATE)
            await wait_counted(clean, len(EVENTS) + 12, timeout_s=60)
        expected = await states(clean, users)

        await ensure_topics(killed)
        log = ROOT / "var" / "log" / f"chaos-{killed.app_id}.log"
        proc = start_worker(killed, log)
        health = f"http://127.0.0.1:{killed.web_port}/health"
        await wait_healthy(health, proc, timeout_s=90)
        await send_catalogue(killed)
        sent = [0]
        traffic = asyncio.create_task(send(killed, EVENTS, RATE, sent))
        while sent[0] < len(EVENTS) // 3:
            await asyncio.sleep(0.05)
        proc.kill()  # SIGKILL to the worker this test started, mid-stream
        proc.wait()
        restarted = time.monotonic()
        proc = start_worker(killed, log)
        try:
            await wait_healthy(health, proc, timeout_s=60)
            healthy_after = time.monotonic() - restarted
            await traffic
            await wait_counted(killed, len(EVENTS) + 12, timeout_s=60)
            caught_up_after = time.monotonic() - restarted - 1.0
        finally:
            stop_worker(proc)
        totals = await read_totals(killed)
        got = await states(killed, users)
    finally:
        await forget_run(clean)
        await forget_run(killed)
    print(
        f"\nkill -9 at {len(EVENTS) // 3} of {len(EVENTS)} events sent: replacement healthy "
        f"{healthy_after:.1f} s and caught up {caught_up_after:.1f} s after its start"
    )
    counted = expected_counts(EVENTS) + Counter({"catalog": 12})
    if store == "redis":  # a batch and its offsets are one transaction
        assert totals.processed == counted
    else:  # counts of the batch in flight at the kill may be added twice, never lost
        extra = totals.processed - counted
        assert not counted - totals.processed
        assert sum(extra.values()) <= killed.batch_max_size
        print(f"event counts added twice on the cluster: {sum(extra.values())}")
    assert not totals.dead_lettered
    assert set(got) == set(expected) == users
    worst = max(
        float(np.max(np.abs(getattr(got[u], n).total - getattr(expected[u], n).total)))
        / max(float(np.max(np.abs(getattr(expected[u], n).total))) / 127, 1e-12)
        for u in users
        for n in ("short", "long")
    )
    print(f"largest vector difference from the clean run: {worst:.2f} int8 steps")
    # Interest vectors are stored as int8 and rounded at every write, so batches cut elsewhere
    # leave them apart by up to half a step per write of either run: at most the shopper's
    # number of events (usually a few steps; a lost or doubled event shows in the event count
    # and ids, which must be equal, as everything else must).
    events_of = Counter(event["user_id"] for _, event in EVENTS)
    differing = {
        u: d for u in users if (d := differences(got[u], expected[u], vector_steps=events_of[u]))
    }
    assert differing == {}
