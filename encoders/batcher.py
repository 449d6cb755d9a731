"""The async micro-batcher in front of an encoder.

Callers ``await batcher.encode(text)``; texts wait in length buckets (to cut padding) until a
bucket is full or the oldest text has waited ``max_wait_ms``, and a batch starts as soon as
one may: straight from the call that fills a bucket, from a timer for the oldest text, or
from the end of the batch before it (no collector task: every hand-over through the event loop
waits for its turn, which under load cost a search milliseconds each). A bucket holds at most
``max_batch_size`` texts and at most ``max_batch_chars`` characters (counted at the bucket's
upper edge), so batches of long texts stay small: for long texts a bigger batch only adds
padding, not speed, on a CPU. Inference
runs in a thread pool with at most ``max_in_flight`` batches at once (ONNX Runtime releases the
GIL); the thread hands the batch's vectors back to the loop in one call. At most
``max_pending`` texts wait or run; further callers wait for room (backpressure). A text whose
batch fails is retried alone (in the same thread), so one bad input fails only its own caller.
A cancelled caller's text is dropped if it has not started, and its result ignored if it has.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from core.errors import EncoderClosedError, EncoderInputError, PulseError
from encoders.pooling import Floats

log = logging.getLogger(__name__)

# A timer may fire this much before its time; a text due within it counts as due.
_CLOCK_SLACK_S = 0.0002


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


@dataclass(slots=True)
class EncodeTiming:
    """Where one text's encoding time went, filled in when its batch has run: how long it
    waited for its batch to start, and the batch's run in the encoder's thread (the rest of a
    caller's wait is the hand-over to the thread and back through the event loop)."""

    queued_s: float = 0.0
    run_s: float = 0.0


@dataclass(slots=True, eq=False)
class _Pending:
    text: str
    future: asyncio.Future[Floats]
    enqueued: float
    timing: EncodeTiming | None = None


@dataclass(slots=True)
class BatcherStats:
    batches: int = 0
    texts: int = 0
    isolated_failures: int = 0
    dispatch_failures: int = 0
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
        self._free = self.config.max_in_flight  # batches that may start now
        self._timer: asyncio.TimerHandle | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.max_in_flight, thread_name_prefix="pulse-encoder"
        )
        self._running: set[Future[None]] = set()
        self._closed = False
        self.stats = BatcherStats()

    async def __aenter__(self) -> MicroBatcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def pending(self) -> int:
        """Texts waiting for a batch (not those being encoded)."""
        return self._count

    async def encode(self, text: str, timing: EncodeTiming | None = None) -> Floats:
        """The vector of ``text``; waits for room when ``max_pending`` texts are in the batcher.
        ``timing``, when given, learns where the time went."""
        return await (await self.submit(text, timing))

    async def submit(self, text: str, timing: EncodeTiming | None = None) -> asyncio.Future[Floats]:
        """``text`` queued; the future of its vector (waits for room, as :meth:`encode`)."""
        if not isinstance(text, str) or not text.strip():
            raise EncoderInputError(f"expected a non-empty string, got {text!r:.60}")
        if self._closed:
            raise EncoderClosedError("the encoder is closed")
        await self._slots.acquire()
        if self._closed:
            self._slots.release()
            raise EncoderClosedError("the encoder is closed")
        loop = asyncio.get_running_loop()
        item = _Pending(text, loop.create_future(), loop.time(), timing)
        index = bisect.bisect_left(self.config.bucket_edges, len(text))
        self._buckets[index].append(item)
        self._count += 1
        self._dispatch()
        return item.future

    async def encode_many(self, texts: Sequence[str]) -> Floats:
        vectors = await asyncio.gather(*(self.encode(t) for t in texts))
        return np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)

    async def close(self) -> None:
        """Fail what has not started, wait for what runs, release the threads."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for bucket in self._buckets:
            while bucket:
                item = bucket.popleft()
                self._count -= 1
                if not item.future.done():
                    item.future.set_exception(EncoderClosedError("the encoder was closed"))
                self._slots.release()
        # Each batch hands its vectors to the loop before its future completes.
        running = [asyncio.wrap_future(f) for f in list(self._running)]
        await asyncio.gather(*running, return_exceptions=True)
        self._executor.shutdown(wait=True)

    def _dispatch(self) -> None:
        """Start what may start; a defect here is logged, counted in
        ``stats.dispatch_failures`` and tried again shortly, so no caller is left waiting."""
        try:
            self._start_batches()
        except Exception:
            log.exception("the encoder's batching failed; trying again")
            self.stats.dispatch_failures += 1
            self._arm(asyncio.get_running_loop().time() + 0.01)

    def _start_batches(self) -> None:
        """While a batch may start: a full bucket at once, else the bucket of the oldest text
        once it has waited max_wait (a timer comes back for it)."""
        loop = asyncio.get_running_loop()
        buckets, capacity = self._buckets, self._capacity
        while self._free > 0 and self._count > 0 and not self._closed:
            index = next((i for i, b in enumerate(buckets) if len(b) >= capacity[i]), None)
            if index is None:
                index = min(
                    (i for i, b in enumerate(buckets) if b), key=lambda i: buckets[i][0].enqueued
                )
                due = buckets[index][0].enqueued + self.config.max_wait_ms / 1000
                if due > loop.time() + _CLOCK_SLACK_S:
                    self._arm(due)
                    return
            batch = self._take(buckets[index], capacity[index])
            if batch:
                now = loop.time()
                for item in batch:
                    if item.timing is not None:
                        item.timing.queued_s = now - item.enqueued
                self._free -= 1
                future = self._executor.submit(self._work, loop, batch)
                self._running.add(future)
                future.add_done_callback(self._running.discard)

    def _arm(self, due: float) -> None:
        """The timer at ``due`` (an earlier one already armed stays)."""
        if self._timer is not None:
            if self._timer.when() <= due:
                return
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()

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

    def _work(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        """In the encoder's thread: the batch's vectors, or each text's own outcome when the
        batch fails (any failure of the encoder goes to the callers that caused it: a worker
        must never die of one text); handed to the loop in one call."""
        texts = [p.text for p in batch]
        isolated = False
        results: list[Floats | Exception]
        started = time.perf_counter()
        try:
            results = list(self._encode_checked(texts))
        except Exception as exc:
            isolated = len(batch) > 1
            results = [exc] if not isolated else [self._alone(t) for t in texts]
        run_s = time.perf_counter() - started
        try:
            loop.call_soon_threadsafe(self._deliver, batch, results, isolated, run_s)
        except RuntimeError:  # the loop is gone: nobody is waiting any more
            log.debug("the event loop closed before a batch was handed back")

    def _alone(self, text: str) -> Floats | Exception:
        try:
            vector: Floats = self._encode_checked([text])[0]
        except Exception as exc:
            return exc
        return vector

    def _deliver(
        self,
        batch: list[_Pending],
        results: list[Floats | Exception],
        isolated: bool,
        run_s: float,
    ) -> None:
        try:
            if isolated:
                self.stats.isolated_failures += 1
            elif not isinstance(results[0], Exception):
                self.stats.record(len(batch))
            for item, result in zip(batch, results, strict=True):
                if item.timing is not None:
                    item.timing.run_s = run_s
                if item.future.done():  # its caller gave up
                    continue
                if isinstance(result, Exception):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)
        finally:
            for _ in batch:
                self._slots.release()
            self._free += 1
            self._dispatch()

    def _encode_checked(self, texts: list[str]) -> Floats:
        vectors = self._encode(texts)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise PulseError(f"the encoder returned shape {vectors.shape} for {len(texts)} texts")
        return vectors
