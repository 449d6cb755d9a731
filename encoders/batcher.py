"""The async micro-batcher in front of an encoder.

Callers ``await batcher.encode(text)``; texts wait in length buckets (to cut padding) until a
bucket is full or the oldest text has waited ``max_wait_ms``. A bucket holds at most
``max_batch_size`` texts and at most ``max_batch_chars`` characters (counted at the bucket's
upper edge), so batches of long texts stay small: for long texts a bigger batch only adds
padding, not speed, on a CPU. Inference
runs in a thread pool with at most ``max_in_flight`` batches at once (ONNX Runtime releases the
GIL). At most ``max_pending`` texts wait or run; further callers wait for room (backpressure).
A text whose batch fails is retried alone, so one bad input fails only its own caller. A
cancelled caller's text is dropped if it has not started, and its result ignored if it has.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from core.errors import EncoderClosedError, EncoderInputError, PulseError
from encoders.pooling import Floats

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatcherConfig:
    max_batch_size: int = 64
    max_wait_ms: float = 5.0
    max_pending: int = 4_096
    max_in_flight: int = 1
    max_batch_chars: int = 4_096
    # Texts are bucketed by character length at these edges; one batch holds one bucket.
    bucket_edges: tuple[int, ...] = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
    # Texts longer than the last edge are truncated by the tokenizer at about this length.
    longest_chars: int = 1_280

    def capacity(self, bucket: int) -> int:
        """How many texts close a batch of bucket ``bucket``."""
        edges = (*self.bucket_edges, self.longest_chars)
        return max(1, min(self.max_batch_size, self.max_batch_chars // edges[bucket]))


@dataclass(slots=True, eq=False)
class _Pending:
    text: str
    future: asyncio.Future[Floats]
    enqueued: float


@dataclass(slots=True)
class BatcherStats:
    batches: int = 0
    texts: int = 0
    isolated_failures: int = 0
    collector_restarts: int = 0
    batch_sizes: list[int] = field(default_factory=list)

    def record(self, size: int) -> None:
        self.batches += 1
        self.texts += size
        if len(self.batch_sizes) < 100_000:
            self.batch_sizes.append(size)


class MicroBatcher:
    def __init__(
        self, encode: Callable[[Sequence[str]], Floats], config: BatcherConfig | None = None
    ) -> None:
        self.config = config or BatcherConfig()
        self._encode = encode
        self._buckets: list[deque[_Pending]] = [
            deque() for _ in range(len(self.config.bucket_edges) + 1)
        ]
        self._capacity = [self.config.capacity(i) for i in range(len(self._buckets))]
        self._count = 0
        self._slots = asyncio.Semaphore(self.config.max_pending)
        self._in_flight = asyncio.Semaphore(self.config.max_in_flight)
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.max_in_flight, thread_name_prefix="pulse-encoder"
        )
        self._collector: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False
        self.stats = BatcherStats()

    async def __aenter__(self) -> MicroBatcher:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self) -> None:
        if self._collector is None:
            self._collector = asyncio.get_running_loop().create_task(self._supervised())

    async def _supervised(self) -> None:
        """The collector, restarted (logged, counted in ``stats.collector_restarts``) after an
        error: callers never wait on a collector that is gone."""
        while True:
            try:
                await self._collect()
            except Exception:
                log.exception("the encoder's batch collector failed; restarting it")
                self.stats.collector_restarts += 1
                await asyncio.sleep(0.01)

    @property
    def pending(self) -> int:
        """Texts waiting for a batch (not those being encoded)."""
        return self._count

    async def encode(self, text: str) -> Floats:
        """The vector of ``text``; waits for room when ``max_pending`` texts are in the batcher."""
        if not isinstance(text, str) or not text.strip():
            raise EncoderInputError(f"expected a non-empty string, got {text!r:.60}")
        if self._closed:
            raise EncoderClosedError("the encoder is closed")
        self.start()
        await self._slots.acquire()
        if self._closed:
            self._slots.release()
            raise EncoderClosedError("the encoder is closed")
        loop = asyncio.get_running_loop()
        item = _Pending(text, loop.create_future(), time.monotonic())
        index = bisect.bisect_left(self.config.bucket_edges, len(text))
        bucket = self._buckets[index]
        bucket.append(item)
        self._count += 1
        if self._count == 1 or len(bucket) >= self._capacity[index]:
            self._wakeup.set()
        return await item.future

    async def encode_many(self, texts: Sequence[str]) -> Floats:
        vectors = await asyncio.gather(*(self.encode(t) for t in texts))
        return np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)

    async def close(self) -> None:
        """Fail what has not started, wait for what runs, release the threads."""
        self._closed = True
        if self._collector is not None:
            self._collector.cancel()
            await asyncio.gather(self._collector, return_exceptions=True)
            self._collector = None
        for bucket in self._buckets:
            while bucket:
                item = bucket.popleft()
                self._count -= 1
                if not item.future.done():
                    item.future.set_exception(EncoderClosedError("the encoder was closed"))
                self._slots.release()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def _collect(self) -> None:
        while True:
            # Take an inference slot first: while all are busy, texts keep gathering, so
            # batches grow with load.
            await self._in_flight.acquire()
            try:
                batch = await self._next_batch()
            except BaseException:
                self._in_flight.release()
                raise
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _next_batch(self) -> list[_Pending]:
        """Wait until a bucket is full or its oldest text has waited max_wait_ms; take it."""
        max_wait = self.config.max_wait_ms / 1000
        buckets, capacity = self._buckets, self._capacity
        while True:
            if self._count == 0:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            index = next((i for i, b in enumerate(buckets) if len(b) >= capacity[i]), None)
            if index is None:
                index = min(
                    (i for i, b in enumerate(buckets) if b), key=lambda i: buckets[i][0].enqueued
                )
                remaining = buckets[index][0].enqueued + max_wait - time.monotonic()
                if remaining > 0:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), remaining)
                    continue
            batch = self._take(buckets[index], capacity[index])
            if batch:
                return batch

    def _take(self, bucket: deque[_Pending], capacity: int) -> list[_Pending]:
        batch: list[_Pending] = []
        while bucket and len(batch) < capacity:
            item = bucket.popleft()
            self._count -= 1
            if item.future.done():  # cancelled by its caller before it started
                self._slots.release()
            else:
                batch.append(item)
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        try:
            try:
                vectors = await loop.run_in_executor(
                    self._executor, self._encode_checked, [p.text for p in batch]
                )
            # Any failure of the encoder is handed to the callers that caused it; a worker
            # must never die of one text.
            except Exception as exc:
                await self._isolate(batch, exc)
            else:
                self.stats.record(len(batch))
                for item, vector in zip(batch, vectors, strict=True):
                    if not item.future.done():
                        item.future.set_result(vector)
        finally:
            for _ in batch:
                self._slots.release()
            self._in_flight.release()

    async def _isolate(self, batch: list[_Pending], error: Exception) -> None:
        if len(batch) == 1:
            if not batch[0].future.done():
                batch[0].future.set_exception(error)
            return
        self.stats.isolated_failures += 1
        loop = asyncio.get_running_loop()
        for item in batch:
            if item.future.done():
                continue
            try:
                vector = await loop.run_in_executor(
                    self._executor, self._encode_checked, [item.text]
                )
            except Exception as exc:
                if not item.future.done():
                    item.future.set_exception(exc)
            else:
                if not item.future.done():
                    item.future.set_result(vector[0])

    def _encode_checked(self, texts: list[str]) -> Floats:
        vectors = self._encode(texts)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise PulseError(f"the encoder returned shape {vectors.shape} for {len(texts)} texts")
        return vectors
