"""The write port's Redis adapter on the real Redis: exactly which keys and bytes a batch writes."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from core.retry import until_done
from feature_store.counts import BatchCounts, RedisCountStore
from feature_store.keys import Keys
from feature_store.offsets import RedisOffsets
from feature_store.state_codec import encode
from feature_store.stores import redis_stores
from feature_store.users import UserStore, pack_list
from feature_store.writes import BatchWrites, RedisBatchWriter, redis_transient
from ranking.interest import DecayedVector
from ranking.state import UserState

pytestmark = pytest.mark.integration

TTL_S = 3_600
T0 = 1_700_000_000_000


def a_state() -> UserState:
    vector = np.array([0.5, -0.25, 0.0, 1.0], np.float32)
    return UserState(
        short=DecayedVector(vector, 1.0, T0),
        long=DecayedVector(vector * 2, 2.0, T0),
        recent=(("a", T0),),
        categories={"Home > Kitchen": 1.0},
        categories_ref_ms=T0,
    )


def a_batch() -> BatchWrites:
    message = {
        "user_id": "u{1}",
        "rec_id": "r1",
        "items": [{"item_id": "b", "score": 1.0, "source": "covisit", "reason": "with a"}],
        "trigger_event_id": "e1",
        "event_ts": T0,
        "ingested_at": T0 + 1,
        "generated_at": T0 + 2,
    }
    signal = {"kind": "trending_item", "subject": "b", "score": 4.5, "window": 60, "ts": T0}
    return BatchWrites(
        states={"u{1}": a_state()},
        pairs={("a", "b"): 1.5},
        repeats={"a": (2, 1)},
        impressions=Counter({"covisit": 1}),
        clicks=Counter({"similar": 1}),
        trends=[signal],
        messages=[("u{1}", message)],
        counts=BatchCounts(Counter({"click": 2}), Counter({"not_json": 1})),
        offsets={("pulse.events.clicks", 3): 42},
    )


async def test_a_batch_writes_exactly_these_keys_and_bytes(
    redis_keys: tuple[aioredis.Redis, Keys],
) -> None:
    client, keys = redis_keys
    stores = redis_stores(client, keys, dim=4, ttl_s=TTL_S)
    batch = a_batch()
    await stores.writer.write(batch)
    p = keys.prefix
    # The user id keeps its braces inside the hash tag: one Cluster slot per shopper.
    assert keys.user("u{1}") == f"{p}:u:{{u{{1}}}}"
    written = {k.decode() async for k in client.scan_iter(match=f"{p}:*")}
    assert written == {
        f"{p}:u:{{u{{1}}}}",
        f"{p}:u:{{u{{1}}}}:recs",
        f"{p}:cv:{{a}}",
        f"{p}:cv:{{b}}",
        f"{p}:rep:occasions",
        f"{p}:rep:repeats",
        f"{p}:bandit",
        f"{p}:trends:trending_item",
        f"{p}:stats:processed",
        f"{p}:stats:dead_lettered",
        f"{p}:applied",
    }
    assert await client.get(keys.user("u{1}")) == encode(batch.states["u{1}"])
    assert await client.get(keys.recommendations("u{1}")) == pack_list(batch.messages[0][1])
    for key in (keys.user("u{1}"), keys.recommendations("u{1}")):
        assert 0 < await client.ttl(key) <= TTL_S
    assert await client.zrange(keys.covisit("a"), 0, -1, withscores=True) == [(b"b", 1.5)]
    assert await client.zrange(keys.covisit("b"), 0, -1, withscores=True) == [(b"a", 1.5)]
    assert await client.hgetall(keys.purchase_occasions) == {b"a": b"2"}
    assert await client.hgetall(keys.repeat_occasions) == {b"a": b"1"}
    assert await client.hgetall(keys.bandit) == {
        b"impressions:covisit": b"1",
        b"clicks:similar": b"1",
    }
    assert await client.lrange(keys.trend_signals("trending_item"), 0, -1) == [
        orjson.dumps(batch.trends[0])
    ]
    assert await client.hgetall(keys.processed) == {b"click": b"2"}
    assert await client.hgetall(keys.dead_lettered) == {b"not_json": b"1"}
    assert await client.hgetall(keys.applied) == {b"pulse.events.clicks:3": b"42"}
    # Another worker (no cache) reads where the partition is applied up to.
    fresh = RedisOffsets(client, keys)
    assert await fresh.next_offsets([("pulse.events.clicks", 3), ("pulse.events.clicks", 4)]) == {
        ("pulse.events.clicks", 3): 42
    }
    # Written twice (a redelivered batch): counts add up, states and lists are replaced.
    await stores.writer.write(a_batch())
    assert await client.hgetall(keys.processed) == {b"click": b"4"}
    assert await client.get(keys.user("u{1}")) == encode(batch.states["u{1}"])


async def test_an_empty_batch_writes_nothing_and_counts_alone_write_counts(
    redis_keys: tuple[aioredis.Redis, Keys],
) -> None:
    client, keys = redis_keys
    writer = RedisBatchWriter(client, RedisCountStore(client, keys))
    await writer.write(BatchWrites())
    assert [k async for k in client.scan_iter(match=f"{keys.prefix}:*")] == []
    await writer.write(BatchWrites(counts=BatchCounts(Counter({"search": 3}))))
    assert [k.decode() async for k in client.scan_iter(match=f"{keys.prefix}:*")] == [
        keys.processed
    ]
    assert await client.hgetall(keys.processed) == {b"search": b"3"}


async def test_remember_keeps_the_written_states_in_the_cache(
    redis_keys: tuple[aioredis.Redis, Keys],
) -> None:
    client, keys = redis_keys
    stores = redis_stores(client, keys, dim=4, ttl_s=TTL_S)
    batch = a_batch()
    await stores.writer.write(batch)
    stores.writer.remember(batch)
    await client.delete(keys.user("u{1}"))
    assert isinstance(stores.users, UserStore)
    # The owner of the shopper reads its own write back from the cache, not from Redis: the
    # state exactly as Redis had it.
    cached = (await stores.users.load(["u{1}"]))["u{1}"]
    assert encode(cached) == encode(batch.states["u{1}"]) and cached.recent == (("a", T0),)
    stores.users.clear_cache()
    assert (await stores.users.load(["u{1}"]))["u{1}"].events == 0


async def test_a_transaction_that_ran_with_its_reply_lost_is_not_written_again(
    redis_keys: tuple[aioredis.Redis, Keys], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis runs the batch's transaction, the reply never arrives (a transient error), the
    batch is retried: its counts, co-visits and offsets are in Redis once. A transaction that
    did not run is written by the retry."""
    client, keys = redis_keys
    stores = redis_stores(client, keys, dim=4, ttl_s=TTL_S)
    real_execute = Pipeline.execute
    lose = {"replies": 1, "before": 0}

    async def execute(self: Pipeline, raise_on_error: bool = True) -> list[Any]:
        if lose["before"]:  # the connection drops before the transaction reaches Redis
            lose["before"] -= 1
            raise RedisConnectionError("connection reset before the transaction")
        replies = await real_execute(self, raise_on_error)
        if lose["replies"]:  # it ran; its reply is lost
            lose["replies"] -= 1
            raise RedisConnectionError("connection reset after the transaction")
        return replies

    monkeypatch.setattr(Pipeline, "execute", execute)
    batch = a_batch()
    await until_done(lambda: stores.writer.write(batch), "a batch", transient=redis_transient)
    assert await client.hgetall(keys.processed) == {b"click": b"2"}
    assert await client.zrange(keys.covisit("a"), 0, -1, withscores=True) == [(b"b", 1.5)]

    lose["before"] = 1
    later = replace(a_batch(), offsets={("pulse.events.clicks", 3): 50})
    await until_done(lambda: stores.writer.write(later), "a batch", transient=redis_transient)
    assert await client.hgetall(keys.processed) == {b"click": b"4"}
    assert await client.hgetall(keys.applied) == {b"pulse.events.clicks:3": b"50"}
