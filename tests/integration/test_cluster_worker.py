"""A real worker on the real local Redis Cluster (``PULSE_REDIS_CLUSTER=true``): events in,
each shopper's list out on Kafka and over HTTP, state in the shopper's own slot, and a shopper
forgotten there. One worker; several workers on a cluster are the next step."""

from __future__ import annotations

import time
import uuid

import aiohttp
import pytest
from redis.asyncio.cluster import RedisCluster

from core.events import EventKind
from feature_store.keys import Keys
from tests.integration.stack import T0, admin, new_settings, running_shop, send

pytestmark = pytest.mark.integration


async def test_a_worker_on_the_cluster_lists_stores_and_forgets_shoppers(
    cluster: RedisCluster, cluster_port: int
) -> None:
    settings = new_settings(redis_url=f"redis://127.0.0.1:{cluster_port}", redis_cluster=True)
    keys = Keys(settings.redis_prefix)
    tag = uuid.uuid4().hex[:6]
    shoppers = [f"c-{tag}-{n}" for n in range(12)] + [f"}}{tag}", f"a}}{tag}"]
    async with running_shop(settings):
        await send(
            settings,
            [
                (EventKind.CLICK, {"user_id": uid, "item_id": item, "ts": T0 + n})
                for n, uid in enumerate(shoppers)
                for item in ("G1", "K1")
            ],
        )
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 60
            pending = set(shoppers)
            while pending:
                assert time.monotonic() < deadline, f"no stored list for {sorted(pending)}"
                for uid in sorted(pending):
                    url = f"http://127.0.0.1:{settings.web_port}/users/{uid}/recommendations"
                    async with session.get(url, params={"k": "5"}) as response:
                        body = await response.json()
                    if response.status == 200 and not body.get("cold_start"):
                        assert body["items"]
                        pending.discard(uid)
                time.sleep(0.2)
            for uid in shoppers:  # state and list stored, in one slot per shopper
                assert all([await cluster.exists(k) for k in keys.shopper(uid)])
            forgotten = shoppers[-2]
            url = f"http://127.0.0.1:{settings.web_port}/users/{forgotten}"
            async with session.delete(url, headers=admin(settings)) as response:
                assert response.status in (200, 202), await response.text()
            deadline = time.monotonic() + 30
            while any([await cluster.exists(k) for k in keys.shopper(forgotten)]):
                assert time.monotonic() < deadline, "the forgotten shopper's keys stayed"
                time.sleep(0.2)
