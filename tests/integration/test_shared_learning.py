"""State the workers share in Redis: the exploration bandit's counts and repeat-purchase rates."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from feature_store.bandit import BanditStore
from feature_store.keys import Keys
from feature_store.repeats import RepeatStore, repeat_rate
from ranking.explore import ThompsonSampler

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_bandit_counts_are_shared_and_survive_a_restart(
    redis_keys: tuple[aioredis.Redis, Keys],
) -> None:
    client, keys = redis_keys
    clock = Clock()
    first, second = BanditStore(client, keys, clock=clock), BanditStore(client, keys)
    assert await first.due_totals() == ({}, {})
    async with client.pipeline(transaction=True) as pipe:
        first.add(pipe, {"similar": 8, "trending": 2}, {"similar": 3})
        second.add(pipe, {"similar": 2}, {"trending": 0})
        await pipe.execute()
    assert await first.due_totals() is None  # read again only after refresh_s
    clock.now += first.refresh_s
    totals = await first.due_totals()
    assert totals == ({"similar": 10.0, "trending": 2.0}, {"similar": 3.0})
    # A worker started later begins from the totals, not from nothing.
    sampler = ThompsonSampler(["similar", "trending", "history"], prior=(1.0, 10.0))
    restarted = await BanditStore(client, keys).due_totals()
    assert restarted is not None
    sampler.set_counts(*restarted)
    assert sampler.posterior("similar") == (4.0, 17.0)
    assert sampler.posterior("history") == (1.0, 10.0)


async def test_repeat_counts_reach_every_worker(
    redis_keys: tuple[aioredis.Redis, Keys],
) -> None:
    client, keys = redis_keys
    clock = Clock()
    one, other = RepeatStore(client, keys, clock=clock), RepeatStore(client, keys, clock=clock)
    assert await one.rates(["x"]) == await other.rates(["x"]) == {"x": repeat_rate(0, 0)}
    increments = {"x": (5, 2), "y": (1, 0)}
    async with client.pipeline(transaction=True) as pipe:
        one.add(pipe, increments)
        await pipe.execute()
    one.remember(increments)  # once written, the writer counts its own at once
    assert await one.rates(["x"]) == {"x": repeat_rate(5, 2)}
    assert await other.rates(["x"]) == {"x": repeat_rate(0, 0)}  # not yet refreshed
    clock.now += other.refresh_s
    assert await other.rates(["x", "y"]) == {"x": repeat_rate(5, 2), "y": repeat_rate(1, 0)}
