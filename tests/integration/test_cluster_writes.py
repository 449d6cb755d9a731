"""A batch's writes on a real local Redis Cluster (the ``cluster`` fixture): grouped by slot
(``RedisBatchWriter(cluster=True)``), they leave the same keys with the same values as the one
transaction on a single Redis, and the stores read them back across slots."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from feature_store.clients import RedisClient
from feature_store.counts import BatchCounts
from feature_store.keys import Keys
from feature_store.offsets import RedisOffsets
from feature_store.stores import redis_stores
from feature_store.writes import BatchWrites
from tests.integration.test_batch_writer import TTL_S, a_batch, a_state

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster_keys(cluster: RedisCluster) -> AsyncIterator[Keys]:
    """A key prefix of its own on the cluster, its keys deleted afterwards (one by one: a
    multi-key DEL would span slots)."""
    keys = Keys(f"pulse-test-{uuid.uuid4().hex[:8]}")
    yield keys
    async for key in cluster.scan_iter(match=f"{keys.prefix}:*"):
        await cluster.delete(key)


async def contents(client: RedisClient, prefix: str) -> dict[str, Any]:
    """Every key under ``prefix`` (the prefix cut off) with its value, by type."""
    out: dict[str, Any] = {}
    async for raw in client.scan_iter(match=f"{prefix}:*"):
        key = raw.decode()
        kind = (await client.type(key)).decode()
        if kind == "string":
            value: Any = await client.get(key)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = await client.lrange(key, 0, -1)
        else:
            raise AssertionError(f"unexpected {kind} at {key}")
        out[key[len(prefix) :]] = (kind, value)
    return out


async def test_a_batch_leaves_the_same_keys_and_values_as_on_one_redis(
    cluster: RedisCluster,
    cluster_keys: Keys,
    redis_keys: tuple[aioredis.Redis, Keys],
) -> None:
    single, single_keys = redis_keys
    await redis_stores(single, single_keys, dim=4, ttl_s=TTL_S).writer.write(a_batch())
    stores = redis_stores(cluster, cluster_keys, dim=4, ttl_s=TTL_S, cluster=True)
    await stores.writer.write(a_batch())
    on_cluster = await contents(cluster, cluster_keys.prefix)
    assert on_cluster == await contents(single, single_keys.prefix)
    assert ":applied" in on_cluster and ":u:{u{1}}" in on_cluster  # offsets and a shopper
    for key in cluster_keys.shopper("u{1}"):
        assert 0 < await cluster.ttl(key) <= TTL_S


async def test_many_shoppers_in_many_slots_are_written_and_read_back(
    cluster: RedisCluster, cluster_keys: Keys
) -> None:
    stores = redis_stores(cluster, cluster_keys, dim=4, ttl_s=TTL_S, cluster=True)
    users = [f"shopper-{n}" for n in range(300)] + ["}x", "a}b", "{"]
    message = a_batch().messages[0][1]
    batch = BatchWrites(
        states={uid: a_state() for uid in users},
        messages=[(uid, message | {"user_id": uid}) for uid in users],
        counts=BatchCounts(Counter({"click": len(users)}), Counter()),
        offsets={("pulse.events.clicks", 0): 303},
    )
    await stores.writer.write(batch)
    slots = {await cluster.execute_command("CLUSTER KEYSLOT", cluster_keys.user(u)) for u in users}
    assert len(slots) > 200  # spread over the cluster, not one slot
    stores.users.clear_cache()  # read from the cluster, not the writer's cache
    loaded = await stores.users.load(users)
    assert set(loaded) == set(users)
    lists = await stores.users.recommendations_many(users)
    assert {uid: m["user_id"] for uid, m in lists.items()} == {uid: uid for uid in users}
    offsets = RedisOffsets(cluster, cluster_keys)
    assert await offsets.next_offsets({("pulse.events.clicks", 0)}) == {
        ("pulse.events.clicks", 0): 303
    }
    await stores.users.erase(users)  # forgetting: one DEL per shopper, each in its slot
    assert await stores.users.recommendations_many(users) == {}
