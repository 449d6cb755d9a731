"""The key layout on a real local Redis Cluster (three masters, ``infra/redis-cluster.sh``):
every key of a shopper in one slot as the server counts slots, so one transaction can write
them and one command can delete them, whatever the shopper's id.

The cluster is the ``cluster`` fixture's (``conftest.py``).
"""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import CrossSlotTransactionError

from feature_store.keys import Keys

pytestmark = pytest.mark.integration

# Ids the event contract accepts, with the braces that decide Redis's hash tags.
IDS = ["shopper-1", "}x", "}", "a}b", "{", "{}", "}{", "u{1}", "x{y}z", "ünï{cödé}", "🛒" * 10]


async def test_the_cluster_has_three_masters_covering_every_slot(cluster: RedisCluster) -> None:
    info = (await cluster.cluster_info()) or {}
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_slots_assigned"]) == 16384
    assert len(cluster.get_primaries()) == 3


@pytest.mark.parametrize("user_id", IDS)
async def test_a_shoppers_keys_are_one_slot_on_the_server(
    cluster: RedisCluster, user_id: str
) -> None:
    keys = Keys(f"pulse-test-{uuid.uuid4().hex[:8]}")
    shopper = keys.shopper(user_id)
    slots = {await cluster.execute_command("CLUSTER KEYSLOT", key) for key in shopper}
    assert len(slots) == 1, (user_id, shopper, slots)
    async with cluster.pipeline(transaction=True) as pipe:  # refused across slots
        pipe.set(keys.user(user_id), b"state", ex=60)
        pipe.set(keys.recommendations(user_id), b"list", ex=60)
        assert await pipe.execute() == [True, True]
    assert await cluster.delete(*shopper) == 2  # what forgetting the shopper sends


async def test_a_transaction_across_shoppers_is_refused(cluster: RedisCluster) -> None:
    """Why a batch's writes must be grouped by slot on a cluster (one MULTI per batch is not
    possible there): two shoppers whose tags hash to different slots."""
    keys = Keys(f"pulse-test-{uuid.uuid4().hex[:8]}")
    with pytest.raises(CrossSlotTransactionError):
        async with cluster.pipeline(transaction=True) as pipe:
            pipe.set(keys.user("a"), b"1", ex=60)
            pipe.set(keys.user("b"), b"1", ex=60)
            await pipe.execute()
