"""What one micro-batch writes, and the port that writes it.

:class:`BatchWrites` is everything a batch changes in the shared state; a :class:`BatchWriter`
stores it. :class:`RedisBatchWriter` is the real adapter: one transaction (``MULTI``) per
batch, so a batch is in Redis whole or not at all; ``feature_store.memory.MemoryBatchWriter``
is the in-memory fake beside it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ConnectionError,
    MasterDownError,
    ReadOnlyError,
    TimeoutError,
    TryAgainError,
)

from feature_store.bandit import BanditStore
from feature_store.counts import BatchCounts, RedisCountStore
from feature_store.covisit import CovisitStore
from feature_store.offsets import RedisOffsets
from feature_store.repeats import RepeatStore
from feature_store.trend_signals import TrendSignalStore
from feature_store.users import UserStore
from ranking.state import UserState

# Redis errors worth retrying: the connection, a server still loading or failing over. Anything
# else (out of memory, a wrong type, a script error) is permanent.
_REDIS_TRANSIENT = (
    ConnectionError,
    TimeoutError,
    BusyLoadingError,
    TryAgainError,
    ClusterDownError,
    MasterDownError,
    ReadOnlyError,
    OSError,
)


def redis_transient(exc: BaseException) -> bool:
    return isinstance(exc, _REDIS_TRANSIENT)


@dataclass(slots=True)
class BatchWrites:
    """Everything one micro-batch changes: shopper states and lists, shared counts, signals."""

    states: dict[str, UserState] = field(default_factory=dict)
    pairs: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    # item -> (purchase occasions, repeat occasions) seen in the batch
    repeats: dict[str, tuple[int, int]] = field(default_factory=dict)
    # the bandit's impressions and clicks per arm in the batch
    impressions: Counter[str] = field(default_factory=Counter)
    clicks: Counter[str] = field(default_factory=Counter)
    # pulse.trends messages the batch fired
    trends: list[dict[str, Any]] = field(default_factory=list)
    # (user_id, list message) of every list the batch made
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # valid events by kind and dead letters by code
    counts: BatchCounts = field(default_factory=BatchCounts)
    # (topic, partition) -> the next offset not yet applied, once this batch is written
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (
            self.states
            or self.pairs
            or self.repeats
            or self.impressions
            or self.clicks
            or self.trends
            or self.messages
            or self.counts.total
            or self.offsets
        )


class BatchWriter(Protocol):
    """Stores a batch's writes; ``transient`` says which errors are worth retrying on."""

    def transient(self, exc: BaseException) -> bool: ...

    async def write(self, writes: BatchWrites) -> None:
        """Store ``writes`` together; return once they are acknowledged."""

    def remember(self, writes: BatchWrites) -> None:
        """The batch is written and published: keep what this process caches of it."""


class RedisBatchWriter:
    """One Redis transaction per batch; each store queues its own keys on it."""

    def transient(self, exc: BaseException) -> bool:
        return redis_transient(exc)

    def __init__(
        self,
        client: aioredis.Redis,
        counts: RedisCountStore,
        users: UserStore | None = None,
        covisit: CovisitStore | None = None,
        repeats: RepeatStore | None = None,
        bandit: BanditStore | None = None,
        signals: TrendSignalStore | None = None,
        offsets: RedisOffsets | None = None,
    ) -> None:
        self.client = client
        self.offsets = offsets
        self.counts = counts
        self.users = users
        self.covisit = covisit
        self.repeats = repeats
        self.bandit = bandit
        self.signals = signals

    async def write(self, writes: BatchWrites) -> None:
        if writes.is_empty:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            self.queue(pipe, writes)
            await pipe.execute()

    def queue(self, pipe: Pipeline, writes: BatchWrites) -> None:
        """Queue every write of the batch on ``pipe`` (which the caller executes)."""
        self.counts.queue(pipe, writes.counts)
        if self.offsets is not None:
            self.offsets.queue(pipe, writes.offsets)
        if self.users is not None:
            self.users.write(pipe, writes.states)
        if writes.pairs and self.covisit is not None:
            self.covisit.add(pipe, writes.pairs)
        if writes.repeats and self.repeats is not None:
            self.repeats.add(pipe, writes.repeats)
        if self.bandit is not None:
            self.bandit.add(pipe, writes.impressions, writes.clicks)
        if writes.trends and self.signals is not None:
            self.signals.add(pipe, writes.trends)
        if self.users is not None:
            for uid, message in writes.messages:
                self.users.write_recommendations(pipe, uid, message)

    def remember(self, writes: BatchWrites) -> None:
        if self.offsets is not None:
            self.offsets.remember(writes.offsets)
        if self.users is not None:
            self.users.remember(writes.states)
        if self.repeats is not None:
            self.repeats.remember(writes.repeats)
