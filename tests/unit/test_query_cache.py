from __future__ import annotations

import asyncio
import doctest

import numpy as np
import pytest

import encoders.cache
from core.metrics import Metrics
from encoders.batcher import EncodeTiming
from encoders.cache import LruCache, QueryCache, normalise_query
from encoders.encoder import HashingEncoder
from encoders.pooling import Floats


def test_doctests() -> None:
    assert doctest.testmod(encoders.cache).failed == 0


class CountingEncoder:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.inner = HashingEncoder(8)

    async def __call__(self, text: str) -> Floats:
        self.calls.append(text)
        await asyncio.sleep(0.01)
        if text == "boom":
            raise ValueError("encoder failed")
        return self.inner.encode([text])[0]

    async def submit(self, text: str, timing: EncodeTiming | None = None) -> asyncio.Future[Floats]:
        if timing is not None:
            timing.run_s = 0.01
        return asyncio.ensure_future(self(text))


def test_normalise_query() -> None:
    assert normalise_query("  Tea   TOWELS\n") == "tea towels"


def test_lru_evicts_the_least_recently_used() -> None:
    cache: LruCache[int] = LruCache(3)
    for i, key in enumerate("abcd"):
        cache.put(key, i)
    assert cache.get("a") is None and len(cache) == 3
    with pytest.raises(ValueError):
        LruCache(0)


async def test_hits_misses_and_shared_inflight_encodings() -> None:
    inner = CountingEncoder()
    metrics = Metrics()
    cache = QueryCache(inner.submit, max_entries=10, metrics=metrics)
    first = await asyncio.gather(*(cache.encode("Tea Towels") for _ in range(5)))
    again = await cache.encode("  tea   towels ")
    assert inner.calls == ["tea towels"]
    assert all(np.array_equal(v, again) for v in first)
    assert (cache.hits, cache.misses) == (5, 1)
    assert cache.hit_rate == pytest.approx(5 / 6)
    text = metrics.render()
    assert "pulse_encoder_query_cache_hits_total 5" in text
    assert "pulse_encoder_query_cache_misses_total 1" in text
    assert "# TYPE pulse_encoder_query_cache_hit_ratio gauge" in text
    assert metrics.get("pulse_encoder_query_cache_hit_ratio") == pytest.approx(5 / 6)


async def test_failures_are_not_cached_and_reach_every_waiter() -> None:
    inner = CountingEncoder()
    cache = QueryCache(inner.submit)
    results = await asyncio.gather(
        cache.encode("boom"), cache.encode("BOOM"), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results)
    with pytest.raises(ValueError):
        await cache.encode("boom")
    assert inner.calls == ["boom", "boom"]
    assert len(cache) == 0


async def test_a_cancelled_caller_does_not_cancel_a_shared_encoding() -> None:
    inner = CountingEncoder()
    cache = QueryCache(inner.submit)
    first = asyncio.create_task(cache.encode("candles"))
    second = asyncio.create_task(cache.encode("candles"))
    await asyncio.sleep(0)
    first.cancel()
    vector = await second
    assert vector.shape == (8,)
    assert len(cache) == 1 and inner.calls == ["candles"]


async def test_timing_is_learnt_by_the_call_that_encodes_only() -> None:
    cache = QueryCache(CountingEncoder().submit)
    encoded, hit = EncodeTiming(), EncodeTiming()
    await cache.encode("mugs", encoded)
    await cache.encode("MUGS", hit)
    assert encoded.run_s == 0.01 and hit == EncodeTiming()
