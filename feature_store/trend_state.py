"""Trend partitions kept in Redis: each partition's state and latest signals, in one slot.

Every key of partition ``p`` starts with ``Keys.trend_partition(p)`` (one hash tag), so a batch's
changes, its signals and the input offsets it applied are written in one transaction on a
single Redis and on a Redis Cluster alike: a worker that takes the partition over reads back
exactly the state the last batch left (``trends.snapshot``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from feature_store.clients import RedisClient
from feature_store.keys import Keys

# The kinds of burst statistics (as ``trends.tracker.BURSTS``: their tables are named by kind).
BURSTS = ("trending_item", "trending_query", "trending_category")


class TrendChanges(Protocol):
    """What a batch changed in a partition (``trends.snapshot.Delta``)."""

    meta: dict[str, bytes]  # field -> value; "open" lists the open windows' [kind, window]
    baselines: dict[str, dict[str, str]]  # kind -> key -> value
    rewrite: set[str]  # kinds whose baselines are written whole
    cells: dict[tuple[str, int], dict[str, str]]  # (kind, window) -> key -> count
    closed: set[tuple[str, int]]  # (kind, window) count tables to delete
    profiles: dict[str, bytes]  # scope -> profile


@dataclass(slots=True)
class StoredTrends:
    """A partition as read back (see ``trends.snapshot.Stored``)."""

    meta: dict[str, bytes] = field(default_factory=dict)
    baselines: dict[str, dict[str, str]] = field(default_factory=dict)
    windows: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)
    profiles: dict[str, bytes] = field(default_factory=dict)


class TrendStateStore:
    def __init__(self, client: RedisClient, keys: Keys, keep: int = 100) -> None:
        self.client = client
        self.keys = keys
        self.keep = keep  # signals kept per partition and kind

    def _key(self, partition: int, *parts: str | int) -> str:
        return ":".join([self.keys.trend_partition(partition), *map(str, parts)])

    async def load(self, partition: int) -> StoredTrends:
        """The partition as stored (empty parts when nothing is)."""
        meta = _text_keys(await self.client.hgetall(self._key(partition, "meta")))
        wanted = [(kind, int(w)) for kind, w in orjson.loads(meta.get("open", b"[]"))]
        async with self.client.pipeline(transaction=False) as pipe:
            for kind in BURSTS:
                pipe.hgetall(self._key(partition, "base", kind))
            for kind, window in wanted:
                pipe.hgetall(self._key(partition, "win", kind, window))
            pipe.hgetall(self._key(partition, "peaks"))
            rows = await pipe.execute()
        stored = StoredTrends(meta=meta)
        for kind, row in zip(BURSTS, rows, strict=False):
            stored.baselines[kind] = _text(row)
        for (kind, window), row in zip(wanted, rows[len(BURSTS) : -1], strict=True):
            stored.windows[(kind, window)] = _text(row)
        stored.profiles = _text_keys(rows[-1])
        return stored

    async def save(
        self, partition: int, delta: TrendChanges, signals: list[dict[str, Any]]
    ) -> None:
        """One transaction: the partition's changes, the input offsets they cover (in ``meta``)
        and its new signals (newest last in ``signals``)."""
        async with self.client.pipeline(transaction=True) as pipe:
            for kind in delta.rewrite:
                pipe.delete(self._key(partition, "base", kind))
            for kind, values in delta.baselines.items():
                if values:
                    pipe.hset(self._key(partition, "base", kind), mapping=values)  # type: ignore[arg-type]
            for (kind, window), values in delta.cells.items():
                pipe.hset(self._key(partition, "win", kind, window), mapping=values)  # type: ignore[arg-type]
            for kind, window in delta.closed:
                pipe.delete(self._key(partition, "win", kind, window))
            if delta.profiles:
                pipe.hset(self._key(partition, "peaks"), mapping=delta.profiles)  # type: ignore[arg-type]
            for kind in sorted({s["kind"] for s in signals}):
                key = self._key(partition, "signals", kind)
                pipe.lpush(key, *[orjson.dumps(s) for s in signals if s["kind"] == kind])
                pipe.ltrim(key, 0, self.keep - 1)
            pipe.hset(self._key(partition, "meta"), mapping=delta.meta)  # type: ignore[arg-type]
            await pipe.execute()

    async def latest(
        self, kind: str, limit: int, partitions: Iterable[int]
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` signals of ``kind`` over ``partitions``, newest first."""
        async with self.client.pipeline(transaction=False) as pipe:
            for p in partitions:
                pipe.lrange(self._key(p, "signals", kind), 0, limit - 1)
            rows = await pipe.execute()
        signals = [orjson.loads(raw) for row in rows for raw in row]
        return heapq.nlargest(limit, signals, key=lambda s: (s["ts"], s["score"]))

    async def profiles(self, partitions: Iterable[int]) -> dict[str, bytes]:
        """Every stored peak profile over ``partitions``: scope -> profile."""
        async with self.client.pipeline(transaction=False) as pipe:
            for p in partitions:
                pipe.hgetall(self._key(p, "peaks"))
            rows = await pipe.execute()
        return {k: v for row in rows for k, v in _text_keys(row).items()}


def _text(row: dict[Any, Any]) -> dict[str, str]:
    return {_str(k): _str(v) for k, v in row.items()}


def _text_keys(row: dict[Any, Any]) -> dict[str, bytes]:
    return {_str(k): v if isinstance(v, bytes) else str(v).encode() for k, v in row.items()}


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
