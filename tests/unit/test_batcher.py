"""The micro-batcher with fake encoders: batching, max-wait, backpressure, isolation,
cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from core.errors import EncoderClosedError, EncoderInputError
from encoders.batcher import BatcherConfig, EncodeTiming, MicroBatcher
from encoders.encoder import HashingEncoder
from encoders.pooling import Floats


class Recording:
    """HashingEncoder that records each batch and can be held at a gate."""

    def __init__(self, poison: str | None = None) -> None:
        self.inner = HashingEncoder(16)
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.poison = poison

    def __call__(self, texts: Sequence[str]) -> Floats:
        self.gate.wait(10)
        self.batches.append(list(texts))
        if self.poison is not None and any(self.poison in t for t in texts):
            raise ValueError("poisoned text")
        return self.inner.encode(texts)


def config(**changes: object) -> BatcherConfig:
    base = {"max_batch_size": 32, "max_wait_ms": 5.0, "max_pending": 4096, "max_in_flight": 1}
    return BatcherConfig(**{**base, **changes})  # type: ignore[arg-type]


async def test_a_thousand_concurrent_callers_each_get_their_own_vector() -> None:
    fake = Recording()
    texts = [f"item {i} {'long words ' * (i % 7)}" for i in range(1_000)]
    async with MicroBatcher(fake, config()) as batcher:
        vectors = await asyncio.gather(*(batcher.encode(t) for t in texts))
    expected = HashingEncoder(16).encode(texts)
    assert np.array_equal(np.stack(vectors), expected)
    assert sum(len(b) for b in fake.batches) == 1_000
    assert max(len(b) for b in fake.batches) == 32
    assert len(fake.batches) < 100  # batched, not one call per text


async def test_a_lone_text_waits_max_wait_then_goes_alone() -> None:
    fake = Recording()
    async with MicroBatcher(fake, config(max_wait_ms=80, max_batch_size=100)) as batcher:
        started = time.monotonic()
        vector = await asyncio.wait_for(batcher.encode("tea towels"), timeout=5)
        waited = time.monotonic() - started
    assert waited >= 0.08  # it waited for company up to max_wait, not longer than the timeout
    assert fake.batches == [["tea towels"]]
    assert vector.shape == (16,)


async def test_a_full_bucket_closes_the_batch_without_waiting() -> None:
    fake = Recording()
    async with MicroBatcher(fake, config(max_wait_ms=60_000, max_batch_size=8)) as batcher:
        texts = [f"candle {i}" for i in range(8)]
        await asyncio.wait_for(asyncio.gather(*(batcher.encode(t) for t in texts)), timeout=5)
    assert fake.batches == [texts]


async def test_texts_are_bucketed_by_length() -> None:
    fake = Recording()
    short = [f"mug {i}" for i in range(4)]
    long = [f"{'a very long review text ' * 20}{i}" for i in range(4)]
    interleaved = [t for pair in zip(short, long, strict=True) for t in pair]
    async with MicroBatcher(fake, config(max_batch_size=4)) as batcher:
        await asyncio.gather(*(batcher.encode(t) for t in interleaved))
    assert sorted(fake.batches) == sorted([long, short])


async def test_backpressure_bounds_the_buffer() -> None:
    fake = Recording()
    fake.gate.clear()
    cfg = config(max_pending=4, max_batch_size=2, max_wait_ms=1)
    async with MicroBatcher(fake, cfg) as batcher:
        tasks = [asyncio.create_task(batcher.encode(f"text {i}")) for i in range(10)]
        await asyncio.sleep(0.2)
        # Four texts are inside (one batch of two held at the gate, two waiting); six callers
        # wait for room.
        assert batcher._slots.locked()
        assert batcher.pending + sum(len(b) for b in fake.batches) <= 4
        assert not any(t.done() for t in tasks)
        fake.gate.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert len(results) == 10
    assert sum(len(b) for b in fake.batches) == 10


async def test_one_bad_text_fails_only_its_caller() -> None:
    fake = Recording(poison="POISON")
    async with MicroBatcher(fake, config(max_wait_ms=20)) as batcher:
        texts = ["good one", "good two", "POISON pill", "good three"]
        results = await asyncio.gather(*(batcher.encode(t) for t in texts), return_exceptions=True)
        with pytest.raises(EncoderInputError):
            await batcher.encode("")
        with pytest.raises(EncoderInputError):
            await batcher.encode(None)  # type: ignore[arg-type]
    assert isinstance(results[2], ValueError)
    good = [r for i, r in enumerate(results) if i != 2]
    expected = HashingEncoder(16).encode(["good one", "good two", "good three"])
    assert np.array_equal(np.stack(good), expected)  # type: ignore[arg-type]
    assert batcher.stats.isolated_failures == 1


async def test_cancelled_callers_leave_nothing_stuck() -> None:
    fake = Recording()
    fake.gate.clear()
    cfg = config(max_batch_size=1, max_wait_ms=1, max_pending=8)
    async with MicroBatcher(fake, cfg) as batcher:
        running = asyncio.create_task(batcher.encode("first"))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(batcher.encode("second"))
        last = asyncio.create_task(batcher.encode("third"))
        await asyncio.sleep(0.05)
        waiting.cancel()
        running.cancel()
        fake.gate.set()
        assert (await asyncio.wait_for(last, timeout=5)).shape == (16,)
        for task in (waiting, running):
            with pytest.raises(asyncio.CancelledError):
                await task
        await asyncio.sleep(0.05)
        assert batcher.pending == 0
        assert batcher._slots._value == 8  # every slot came back
    assert ["second"] not in fake.batches


async def test_close_fails_waiting_callers_and_refuses_new_ones() -> None:
    fake = Recording()
    fake.gate.clear()
    batcher = MicroBatcher(fake, config(max_batch_size=1, max_wait_ms=1))
    first = asyncio.create_task(batcher.encode("first"))
    await asyncio.sleep(0.05)
    queued = asyncio.create_task(batcher.encode("queued"))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(batcher.close())
    await asyncio.sleep(0.05)
    fake.gate.set()
    await asyncio.wait_for(closing, timeout=5)
    assert (await first).shape == (16,)
    with pytest.raises(EncoderClosedError):
        await queued
    with pytest.raises(EncoderClosedError):
        await batcher.encode("late")


async def test_a_failed_dispatch_is_tried_again_and_its_callers_are_served() -> None:
    fake = Recording()
    async with MicroBatcher(fake, config()) as batcher:
        original = batcher._take
        failures = [RuntimeError("a defect in the batching")]

        def flaky(*args: object) -> list:  # type: ignore[type-arg]
            if failures:
                raise failures.pop()
            return original(*args)  # type: ignore[arg-type]

        batcher._take = flaky  # type: ignore[method-assign]
        vector = await asyncio.wait_for(batcher.encode("tea towel"), timeout=5)
    assert np.array_equal(vector, HashingEncoder(16).encode(["tea towel"])[0])
    assert batcher.stats.dispatch_failures == 1


async def test_timing_tells_the_wait_for_the_batch_from_the_batchs_run() -> None:
    fake = Recording()
    fake.gate.clear()
    first, second = EncodeTiming(), EncodeTiming()
    async with MicroBatcher(fake, config(max_batch_size=1, max_wait_ms=1)) as batcher:
        running = asyncio.ensure_future(batcher.encode("first", first))
        await asyncio.sleep(0.02)
        waiting = asyncio.ensure_future(batcher.encode("second", second))
        await asyncio.sleep(0.1)  # the first batch holds the encoder this long
        fake.gate.set()
        await asyncio.gather(running, waiting)
    assert first.queued_s < 0.05 and first.run_s >= 0.1  # started at once, ran long
    assert second.queued_s >= 0.1 and second.run_s < 0.05  # waited for it, ran fast
