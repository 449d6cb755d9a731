"""How far each input partition has been applied to Redis, written with each batch's writes.

Kafka redelivers what a worker processed but had not committed when it died or lost the
partition. The next offset of every partition a batch touched is written in the batch's own
transaction, so a worker reading it back skips exactly the messages whose effects (states,
counts, co-visits, bandit and repeat counts, trend signals) are already in Redis: each happens
once, however often Kafka delivers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from feature_store.clients import Pipeline, RedisClient
from feature_store.keys import Keys

Partition = tuple[str, int]  # (topic, partition)


class AppliedOffsets(Protocol):
    async def next_offsets(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """The first offset not yet applied, of each partition that has one."""

    def forget(self) -> None:
        """Partitions were reassigned: read from the store from here on."""


class RedisOffsets:
    """One Redis hash, ``topic:partition`` -> next offset, cached for the partitions this worker
    owns (it is the only writer of theirs while it owns them)."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._cache: dict[Partition, int] = {}
        self._read: set[Partition] = set()

    async def next_offsets(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        wanted = set(partitions)
        missing = wanted - self._read
        if missing:
            self._cache.update(await self.stored(missing))
            self._read.update(missing)
        return {p: self._cache[p] for p in wanted if p in self._cache}

    async def stored(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """:meth:`next_offsets` as Redis holds them now, not as this worker last wrote them."""
        wanted = sorted(set(partitions))
        values = await self.client.hmget(self.keys.applied, [_field(p) for p in wanted])
        return {p: int(v) for p, v in zip(wanted, values, strict=True) if v is not None}

    def queue(self, pipe: Pipeline, offsets: dict[Partition, int]) -> None:
        if offsets:
            pipe.hset(self.keys.applied, mapping={_field(p): o for p, o in offsets.items()})

    def remember(self, offsets: dict[Partition, int]) -> None:
        self._cache.update(offsets)

    def forget(self) -> None:
        self._cache.clear()
        self._read.clear()


def _field(partition: Partition) -> str:
    return f"{partition[0]}:{partition[1]}"
