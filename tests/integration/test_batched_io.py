"""On one Redis a batch's states are read with one MGET, written with its lists by one script,
and its items' co-visits read by one script: the same as the key-by-key commands a Redis
Cluster needs (which also work on one Redis), on the real Redis."""

from __future__ import annotations

import random

import numpy as np
import pytest
import redis.asyncio as aioredis

from feature_store.covisit import CovisitStore
from feature_store.keys import Keys
from feature_store.state_codec import encode
from feature_store.users import UserStore, unpack_list
from ranking.interest import DecayedVector
from ranking.state import UserState

pytestmark = pytest.mark.integration

TTL_S = 3_600
T0 = 1_700_000_000_000


def a_state(n: int) -> UserState:
    vector = np.array([0.5, -0.25, 0.125 * n, 1.0], np.float32)
    return UserState(
        short=DecayedVector(vector, 1.0, T0),
        long=DecayedVector(vector * 2, 2.0 + n, T0 + n),
        recent=tuple((f"i{k}", T0 + k) for k in range(n)),
        events=n,
    )


def a_list(uid: str, n: int) -> dict[str, object]:
    return {
        "user_id": uid,
        "rec_id": f"r{n}",
        "items": [
            {"item_id": f"i{k}", "score": 1.0 / (k + 1), "source": "covisit", "reason": "with a"}
            for k in range(n)
        ],
        "trigger_event_id": f"e{n}",
        "event_ts": T0 + n,
        "ingested_at": T0 + n + 1,
        "generated_at": T0 + n + 2,
    }


async def test_states_and_lists_written_by_one_script_read_back_alike_by_mget_and_by_key(
    redis_keys: tuple[aioredis.Redis, Keys],
) -> None:
    client, keys = redis_keys
    batched = UserStore(client, keys, dim=4, ttl_s=TTL_S)
    by_key = UserStore(client, keys, dim=4, ttl_s=TTL_S, cluster=True)
    states = {f"u{{{n}}}": a_state(n) for n in range(5)}
    lists = [(uid, a_list(uid, n)) for n, uid in enumerate(states) if n % 2 == 0]
    async with client.pipeline(transaction=True) as pipe:
        batched.write(pipe, states, lists)
        await pipe.execute()
    wanted = [*states, "nobody"]
    read = await batched.load(wanted)
    assert {uid: encode(s) for uid, s in read.items()} == {
        uid: encode(s) for uid, s in (await by_key.load(wanted)).items()
    }
    assert {uid: encode(read[uid]) for uid in states} == {
        uid: encode(s) for uid, s in states.items()
    }
    assert read["nobody"].events == 0  # none stored: a new state
    for uid, message in lists:
        assert await batched.recommendations(uid) == message
        assert 0 < await client.ttl(keys.recommendations(uid)) <= TTL_S
    for uid in states:
        assert 0 < await client.ttl(keys.user(uid)) <= TTL_S
    assert await client.get(keys.recommendations("u{1}")) is None  # no list, none written
    # written shopper by shopper, as on a Cluster: the same bytes
    await client.delete(*(keys.user(uid) for uid in states))
    messages = dict(lists)
    async with client.pipeline(transaction=False) as pipe:
        for uid, state in states.items():
            by_key.queue_shopper(pipe, uid, encode(state), messages.get(uid))
        await pipe.execute()
    for uid, state in states.items():
        assert await client.get(keys.user(uid)) == encode(state)
    for uid, message in lists:
        assert unpack_list(await client.get(keys.recommendations(uid))) == message


async def test_co_visits_read_by_one_script_equal_those_read_key_by_key(
    redis_keys: tuple[aioredis.Redis, Keys],
) -> None:
    client, keys = redis_keys
    batched = CovisitStore(client, keys)
    by_key = CovisitStore(client, keys, cluster=True)
    rng = random.Random(7)
    items = [f"item-{n}" for n in range(12)] + ["ünïcode {x}"]
    for _ in range(4):
        pairs = {
            (a, b): rng.choice([1.0, 0.1, 0.2, 0.3, 1.5, rng.random()])
            for a, b in (rng.sample(items, 2) for _ in range(40))
        }
        async with client.pipeline(transaction=True) as pipe:
            batched.add(pipe, pairs)
            await pipe.execute()
    wanted = [*items, "never-seen"]
    for n in (1, 3, 30):
        got = await batched.neighbours(wanted, n)
        assert got == await by_key.neighbours(wanted, n)
        assert "never-seen" not in got and all(0 < len(row) <= n for row in got.values())
    assert await batched.neighbours([]) == {}
