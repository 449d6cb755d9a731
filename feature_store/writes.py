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
from feature_store.clients import Pipeline, RedisClient
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
    # partition -> the batch's trend observations for that partition's owner (published only)
    observations: dict[int, bytes] = field(default_factory=dict)
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
    """One Redis transaction per batch; each store queues its own keys on it.

    On a Redis Cluster (``cluster``) a transaction cannot span slots, so a batch is written in
    three steps: every shopper's state and list, set together by one atomic script each (one
    slot by the key layout; all shoppers in one pipeline), then the shared keys (co-visits,
    repeats, bandit, trend signals, counts) in one pipeline, then the input offsets, once all of
    it is acknowledged. A worker killed between
    the steps replays the batch (its offsets were not written): each shopper's state skips the
    events it already holds (their event ids), so states and lists stay exact; the co-visits,
    repeats and bandit clicks of those events are not added on the replay (so a crash after the
    shoppers' step and before the shared one loses them, once), while the per-kind event counts
    (``/stats``) of the replayed batch are added again. On one Redis the batch is one
    transaction with its offsets, and none of this happens.
    """

    def transient(self, exc: BaseException) -> bool:
        return redis_transient(exc)

    def __init__(
        self,
        client: RedisClient,
        counts: RedisCountStore,
        users: UserStore | None = None,
        covisit: CovisitStore | None = None,
        repeats: RepeatStore | None = None,
        bandit: BanditStore | None = None,
        signals: TrendSignalStore | None = None,
        offsets: RedisOffsets | None = None,
        cluster: bool = False,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.offsets = offsets
        self.counts = counts
        self.users = users
        self.covisit = covisit
        self.repeats = repeats
        self.bandit = bandit
        self.signals = signals
        # The offsets of a batch whose transaction failed with a transient error: it may have
        # run with its reply lost (Redis stopped, the connection dropped).
        self._unsure: dict[tuple[str, int], int] | None = None

    async def write(self, writes: BatchWrites) -> None:
        """The batch's writes, once: a retry after a transient error first reads the offsets
        written with the transaction and writes nothing if it ran (else the batch's counts
        would be added twice: a chaos run lost the reply of a transaction Redis had run)."""
        if writes.is_empty:
            return
        if self.cluster:
            await self._write_by_slot(writes)
            return
        if writes.offsets and writes.offsets == self._unsure and await self._ran(writes):
            self._unsure = None
            return
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                self.queue(pipe, writes)
                await pipe.execute()
        except Exception as exc:
            self._unsure = dict(writes.offsets) if self.transient(exc) else None
            raise
        self._unsure = None

    async def _ran(self, writes: BatchWrites) -> bool:
        """Whether Redis holds the batch's offsets (written in its transaction) or later ones."""
        if self.offsets is None:
            return False
        stored = await self.offsets.stored(writes.offsets)
        return all(stored.get(p, -1) >= offset for p, offset in writes.offsets.items())

    async def _write_by_slot(self, writes: BatchWrites) -> None:
        if self.users is not None:
            blobs = self.users.encoded(writes.states)
            lists = dict(writes.messages)
            async with self.client.pipeline(transaction=False) as pipe:
                for uid in sorted(blobs.keys() | lists.keys()):
                    self.users.queue_shopper(pipe, uid, blobs.get(uid), lists.get(uid))
                await pipe.execute()
        async with self.client.pipeline(transaction=False) as pipe:
            self.queue_shared(pipe, writes)
            await pipe.execute()
        if self.offsets is not None and writes.offsets:
            async with self.client.pipeline(transaction=False) as pipe:
                self.offsets.queue(pipe, writes.offsets)
                await pipe.execute()

    def queue_shared(self, pipe: Pipeline, writes: BatchWrites) -> None:
        """Queue the writes of keys every worker shares (not a shopper's, not the offsets)."""
        self.counts.queue(pipe, writes.counts)
        if writes.pairs and self.covisit is not None:
            self.covisit.add(pipe, writes.pairs)
        if writes.repeats and self.repeats is not None:
            self.repeats.add(pipe, writes.repeats)
        if self.bandit is not None:
            self.bandit.add(pipe, writes.impressions, writes.clicks)
        if writes.trends and self.signals is not None:
            self.signals.add(pipe, writes.trends)

    def queue(self, pipe: Pipeline, writes: BatchWrites) -> None:
        """Queue every write of the batch on ``pipe`` (which the caller executes)."""
        if self.offsets is not None:
            self.offsets.queue(pipe, writes.offsets)
        if self.users is not None:
            self.users.write(pipe, writes.states, writes.messages)
        self.queue_shared(pipe, writes)

    def remember(self, writes: BatchWrites) -> None:
        if self.offsets is not None:
            self.offsets.remember(writes.offsets)
        if self.users is not None:
            self.users.remember(writes.states)
        if self.repeats is not None:
            self.repeats.remember(writes.repeats)
