"""Per-batch event counts and the stores that keep their running totals.

``CountStore`` is the seam: :class:`RedisCountStore` is the real adapter (one pipeline per
batch), :class:`MemoryCountStore` the in-memory fake for unit tests of other parts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from feature_store.clients import Pipeline, RedisClient
from feature_store.keys import Keys


@dataclass(slots=True)
class BatchCounts:
    """What one micro-batch did: valid events by kind, dead letters by error code."""

    processed: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(
            self.processed + other.processed, self.dead_lettered + other.dead_lettered
        )

    @property
    def total(self) -> int:
        return sum(self.processed.values()) + sum(self.dead_lettered.values())


class CountStore(Protocol):
    async def add(self, counts: BatchCounts) -> None: ...

    async def totals(self) -> BatchCounts: ...


class MemoryCountStore:
    """In-process totals; the fake beside :class:`RedisCountStore`."""

    def __init__(self) -> None:
        self._totals = BatchCounts()

    async def add(self, counts: BatchCounts) -> None:
        self._totals = self._totals + counts

    async def totals(self) -> BatchCounts:
        return BatchCounts(Counter(self._totals.processed), Counter(self._totals.dead_lettered))


class RedisCountStore:
    """Totals in two Redis hashes, updated with one pipeline per batch."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def add(self, counts: BatchCounts) -> None:
        if not counts.total:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            self.queue(pipe, counts)
            await pipe.execute()

    def queue(self, pipe: Pipeline, counts: BatchCounts) -> None:
        """Queue the increments on a batch's pipeline (which the caller executes)."""
        for kind, n in counts.processed.items():
            pipe.hincrby(self.keys.processed, kind, n)
        for code, n in counts.dead_lettered.items():
            pipe.hincrby(self.keys.dead_lettered, code, n)

    async def totals(self) -> BatchCounts:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.processed)
            pipe.hgetall(self.keys.dead_lettered)
            processed, dead = await pipe.execute()
        return BatchCounts(_counter(processed), _counter(dead))


def _counter(raw: dict[bytes | str, bytes | str]) -> Counter[str]:
    return Counter({_text(k): int(v) for k, v in raw.items()})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
