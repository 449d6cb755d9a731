"""Micro-batches in turn, two in flight: the next one prepared while the one before is written.

A batch has two halves (``streams.batch.BatchProcessor.prepare``): the first reads, folds and
ranks, the second publishes and writes. The halves of consecutive batches run in the order the
batches came, each half after the same half of the batch before, and a batch's second half after
its own first; so batch n + 1 is read, folded and ranked while batch n is published and written.
The first half's states are staged in the shopper store (``UserStore.stage``) until written, so
batch n + 1 reads what batch n made even before it is written.

At most ``depth`` batches are in flight; :meth:`InFlight.submit` waits for a place, so the
consumer stops taking messages meanwhile. A failed half fails its batch; the batches after it
are not written (the caller halts: their offsets stay uncommitted).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from core.deadletter import RawMessage

C = TypeVar("C")
T = TypeVar("T")


class _Batch(Generic[T]):
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.prepared: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[T] = loop.create_future()


class InFlight:
    def __init__(self, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"at least one batch must be in flight, not {depth}")
        self.depth = depth
        self._places = asyncio.Semaphore(depth)
        self._admit = asyncio.Lock()
        self._last: _Batch[object] | None = None

    async def submit(
        self,
        first: Callable[[], Awaitable[C]],
        second: Callable[[C], Awaitable[T]],
        *,
        overlap: bool = True,
    ) -> asyncio.Future[T]:
        """Start a batch once there is a place; returns the future of its second half's result
        (done once written; it holds the error of a failed half, or of a half before it).
        Without ``overlap`` its first half waits until the batch before is written."""
        async with self._admit:
            await self._places.acquire()
            before, batch = self._last, _Batch[T]()
            self._last = batch  # type: ignore[assignment]
        task = asyncio.ensure_future(self._run(first, second, before, batch, overlap))
        task.add_done_callback(lambda _: self._places.release())
        return batch.done

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No batch in flight while inside: new ones wait, those in flight are written first."""
        async with self._admit:
            last = self._last
            if last is not None:
                await asyncio.wait([last.done])
            yield

    async def _run(
        self,
        first: Callable[[], Awaitable[C]],
        second: Callable[[C], Awaitable[T]],
        before: _Batch[object] | None,
        batch: _Batch[T],
        overlap: bool,
    ) -> None:
        try:
            if before is not None:
                await asyncio.wait([before.prepared if overlap else before.done])
                _raise_failure(before)
            half = await first()
            batch.prepared.set_result(None)
            if before is not None:
                await asyncio.wait([before.done])
                _raise_failure(before)
            batch.done.set_result(await second(half))
        except BaseException as exc:
            if not batch.prepared.done():
                batch.prepared.set_result(None)
            if not batch.done.done():
                if isinstance(exc, asyncio.CancelledError):
                    batch.done.cancel()
                else:
                    batch.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise


def _raise_failure(before: _Batch[object]) -> None:
    """A batch after a failed one is not written: it fails with the same error."""
    done = before.done
    if done.done():
        if done.cancelled():
            raise asyncio.CancelledError()
        if (exc := done.exception()) is not None:
            raise exc


def behind(
    messages: Sequence[RawMessage], after_ms: int, clock: Callable[[], float] = time.time
) -> bool:
    """Whether the batch's oldest message reached Kafka ``after_ms`` or more ago."""
    stamps = [m.timestamp_ms for m in messages if m.timestamp_ms > 0]
    return bool(stamps) and clock() * 1000 - min(stamps) >= after_ms
