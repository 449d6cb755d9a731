"""In-memory stand-ins for the Redis stores and the batch writer, with the same methods.

For unit tests of other parts and for offline replays (the quality benchmark drives the very
personalisation pipeline the workers run through these).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from core.retry import never
from feature_store.counts import MemoryCountStore
from feature_store.offsets import Partition
from feature_store.repeats import RepeatCounts
from feature_store.state_codec import decode, encode
from feature_store.stores import Stores
from feature_store.trend_state import StoredTrends, TrendChanges
from feature_store.writes import BatchWrites
from ranking.state import UserState


class MemoryUserStore:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.states: dict[str, UserState] = {}
        self.lists: dict[str, dict[str, Any]] = {}

    def clear_cache(self) -> None:
        """Nothing is cached: the dictionary is the store."""

    def evict(self, user_id: str) -> None:
        """Nothing is cached: the dictionary is the store."""

    async def erase(self, user_ids: Iterable[str]) -> None:
        for uid in user_ids:
            self.states.pop(uid, None)
            self.lists.pop(uid, None)

    async def stored(self, user_id: str) -> tuple[UserState | None, dict[str, Any] | None]:
        return self.states.get(user_id), self.lists.get(user_id)

    async def load(self, user_ids: Iterable[str]) -> dict[str, UserState]:
        return {uid: self.states.get(uid) or UserState.new(self.dim) for uid in user_ids}

    async def recommendations(self, user_id: str) -> dict[str, Any] | None:
        return self.lists.get(user_id)

    async def recommendations_many(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {uid: self.lists[uid] for uid in user_ids if uid in self.lists}


class MemoryCovisitStore:
    def __init__(self, max_neighbours: int = 100) -> None:
        self.max_neighbours = max_neighbours
        self.weights: dict[str, Counter[str]] = {}  # values are float weights

    async def neighbours(
        self, items: Iterable[str], n: int = 30
    ) -> dict[str, list[tuple[str, float]]]:
        return {item: _best(self.weights[item], n) for item in set(items) if item in self.weights}

    def add(self, pairs: dict[tuple[str, str], float]) -> None:
        for (a, b), weight in pairs.items():
            for x, y in ((a, b), (b, a)):
                counts = self.weights.setdefault(x, Counter())
                counts[y] += weight  # type: ignore[assignment]
                if len(counts) > 2 * self.max_neighbours:
                    self.weights[x] = Counter(dict(_best(counts, self.max_neighbours)))


class MemoryRepeatStore(RepeatCounts):
    async def rates(self, items: Iterable[str]) -> dict[str, float]:
        return self.rates_now(items)


class MemoryOffsets:
    """Applied input offsets in a dictionary (``feature_store.offsets.RedisOffsets``' fake)."""

    def __init__(self) -> None:
        self.offsets: dict[Partition, int] = {}

    async def next_offsets(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        return {p: self.offsets[p] for p in set(partitions) if p in self.offsets}

    def forget(self) -> None:
        """Nothing is cached: the dictionary is the store."""


class MemoryBatchWriter:
    """Applies a batch's writes to the in-memory stores at once and keeps every batch written
    (``batches``), for tests to read back."""

    def transient(self, exc: BaseException) -> bool:
        return never(exc)

    def __init__(
        self,
        users: MemoryUserStore,
        covisit: MemoryCovisitStore,
        repeats: MemoryRepeatStore | None = None,
        counts: MemoryCountStore | None = None,
        offsets: MemoryOffsets | None = None,
    ) -> None:
        self.offsets = offsets
        self.users = users
        self.covisit = covisit
        self.repeats = repeats
        self.counts = counts or MemoryCountStore()
        self.batches: list[BatchWrites] = []

    async def write(self, writes: BatchWrites) -> None:
        self.batches.append(writes)
        # As Redis keeps them: through the codec (int8 vectors, rounded affinities).
        self.users.states.update({uid: decode(encode(s)) for uid, s in writes.states.items()})
        for uid, message in writes.messages:
            self.users.lists[uid] = message
        if writes.pairs:
            self.covisit.add(writes.pairs)
        if writes.repeats and self.repeats is not None:
            self.repeats.count(writes.repeats)
        await self.counts.add(writes.counts)
        if self.offsets is not None:
            self.offsets.offsets.update(writes.offsets)

    def remember(self, writes: BatchWrites) -> None:
        """Applied already by :meth:`write`."""


def memory_stores(dim: int, *, repeats: bool = False) -> Stores:
    """Fresh in-memory stores of ``dim``-dimensional shoppers (with repeat rates if asked)."""
    users, covisit = MemoryUserStore(dim), MemoryCovisitStore()
    rates = MemoryRepeatStore() if repeats else None
    return Stores(users, covisit, MemoryBatchWriter(users, covisit, rates), rates)


def _best(counts: Counter[str], n: int) -> list[tuple[str, float]]:
    """The ``n`` heaviest, ties in Redis's ZREVRANGE order (members in reverse byte order)."""
    top = heapq.nlargest(n, counts.items(), key=lambda kv: (kv[1], kv[0].encode()))
    return [(k, float(v)) for k, v in top]


class MemoryTrendStateStore:
    """``feature_store.trend_state.TrendStateStore`` in dictionaries: each partition's parts,
    changed by deltas exactly as the Redis one changes its hashes (closed windows' tables
    deleted, baselines rewritten whole after a prune), and its signals, newest first."""

    def __init__(self, keep: int = 100) -> None:
        self.keep = keep
        self.parts: dict[int, StoredTrends] = {}
        self.signals: dict[int, list[dict[str, Any]]] = {}

    async def load(self, partition: int) -> StoredTrends:
        s = self.parts.get(partition, StoredTrends())
        opened = {(kind, w) for kind, w in orjson.loads(s.meta.get("open", b"[]"))}
        return StoredTrends(
            dict(s.meta),
            {kind: dict(values) for kind, values in s.baselines.items()},
            {key: dict(values) for key, values in s.windows.items() if key in opened},
            dict(s.profiles),
        )

    async def save(
        self, partition: int, delta: TrendChanges, signals: list[dict[str, Any]]
    ) -> None:
        s = self.parts.setdefault(partition, StoredTrends())
        for kind in delta.rewrite:
            s.baselines[kind] = {}
        for kind, values in delta.baselines.items():
            s.baselines.setdefault(kind, {}).update(values)
        for key, values in delta.cells.items():
            s.windows.setdefault(key, {}).update(values)
        for key in delta.closed:
            s.windows.pop(key, None)
        s.profiles.update(delta.profiles)
        s.meta.update(delta.meta)
        kept = self.signals.setdefault(partition, [])
        kept[:0] = reversed(signals)
        del kept[self.keep :]

    async def latest(
        self, kind: str, limit: int, partitions: Iterable[int]
    ) -> list[dict[str, Any]]:
        signals = [s for p in partitions for s in self.signals.get(p, []) if s["kind"] == kind]
        return heapq.nlargest(limit, signals, key=lambda s: (s["ts"], s["score"]))

    async def profiles(self, partitions: Iterable[int]) -> dict[str, bytes]:
        return {
            k: v for p in partitions if p in self.parts for k, v in self.parts[p].profiles.items()
        }
