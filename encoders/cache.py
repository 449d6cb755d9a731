"""A bounded, in-process cache of query vectors (shop queries repeat heavily).

Queries are normalised (case, surrounding and repeated whitespace) before lookup; the model's
tokenizer is uncased, so this changes no vector. Concurrent misses of one query share one
encoding. Hits and misses are counted, and exported as metrics by the caller.

>>> cache = LruCache(2)
>>> cache.put("a", 1); cache.put("b", 2); cache.get("a"); cache.put("c", 3)
1
>>> cache.get("b") is None, cache.get("a"), cache.get("c")
(True, 1, 3)
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from core.metrics import Metrics
from encoders.batcher import EncodeTiming
from encoders.pooling import Floats

V = TypeVar("V")
_SPACES = re.compile(r"\s+")


def normalise_query(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


class LruCache(Generic[V]):
    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._data: OrderedDict[str, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)


class QueryCache:
    """An LRU of normalised queries in front of an async ``submit(text)`` that queues a text
    and gives the future of its vector (``MicroBatcher.submit``: no task of its own between the
    caller and the batch, so the vector reaches the caller in fewer turns of the event loop).

    With ``metrics``, exports ``pulse_encoder_query_cache_{hits,misses}_total`` and the gauge
    ``pulse_encoder_query_cache_hit_ratio``.
    """

    def __init__(
        self,
        submit: Callable[[str, EncodeTiming | None], Awaitable[asyncio.Future[Floats]]],
        max_entries: int = 100_000,
        metrics: Metrics | None = None,
    ) -> None:
        self._submit = submit
        self._metrics = metrics
        if metrics is not None:
            metrics.describe(
                "pulse_encoder_query_cache_hits_total", "Query vectors from the cache."
            )
            metrics.describe("pulse_encoder_query_cache_misses_total", "Query vectors encoded.")
            metrics.describe("pulse_encoder_query_cache_hit_ratio", "Hits / lookups since start.")
        self._lru: LruCache[Floats] = LruCache(max_entries)
        self._inflight: dict[str, asyncio.Future[Floats]] = {}
        self.hits = 0
        self.misses = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __len__(self) -> int:
        return len(self._lru)

    def _count(self, *, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        if self._metrics is not None:
            name = "hits" if hit else "misses"
            self._metrics.inc(f"pulse_encoder_query_cache_{name}_total")
            self._metrics.set("pulse_encoder_query_cache_hit_ratio", self.hit_rate)

    async def encode(self, query: str, timing: EncodeTiming | None = None) -> Floats:
        """The query's vector; ``timing`` learns where the time went when this call encodes it
        (not from the cache, not shared with another caller's)."""
        key = normalise_query(query) if isinstance(query, str) else query
        cached = self._lru.get(key)
        if cached is not None:
            self._count(hit=True)
            return cached
        shared = self._inflight.get(key)
        if shared is not None:
            self._count(hit=True)
            return await asyncio.shield(shared)
        self._count(hit=False)
        future = await self._submit(key, timing)
        self._inflight[key] = future

        def settle(done: asyncio.Future[Floats]) -> None:
            if self._inflight.get(key) is done:
                del self._inflight[key]
            if not done.cancelled() and done.exception() is None:
                self._lru.put(key, done.result())

        future.add_done_callback(settle)
        # shield: a cancelled caller must not cancel the vector others may share.
        return await asyncio.shield(future)
