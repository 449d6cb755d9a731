"""The worker's Kafka consumer: Faust's, with the fetch sizes Faust does not pass on and each
message handed to the streams in place.

Faust builds its aiokafka consumer with Kafka's default fetch minimum (1 byte) and a fetch wait
of 1.5 s. Under steady traffic that makes the broker answer each fetch as soon as a single
event is there, so the consumer thread fetches a few events at a time, and every fetch is
Python work (request, response, decoding) under the GIL the event loop and ranking need: at
2,000 clicks/s one worker spent 0.87 of a core against 0.72-0.79 with fetches of at least
64 KiB or 10 ms, and its p99 went from 0.8 s to 0.15-0.2 s (README "Recommendations"). The
price: an event may wait up to the fetch wait in Kafka when traffic is light (p50 at 300
clicks/s 24 against 20-22 ms), and an idle worker fetches that often (0.07 of a core against
0.02). ``PULSE_FETCH_MIN_BYTES`` and ``PULSE_FETCH_MAX_WAIT_MS`` set them.

Faust hands every fetched message to its streams with ``wait_first(callback(message),
suspend_flow.wait())``: the hand-over raced against the flow's suspension (a rebalance), which
makes four tasks and three cancellations a message, about 15 us of the event loop's time a
message (the GIL's, too). Nearly always the hand-over finishes without waiting (the stream's
buffer has room), so the consumer here runs it in place first, then gives the loop the turn the
race gave it (without the turn, lists came later at 2,000 clicks/s: README "Measured"), and takes
the long way only when the hand-over must wait: the same messages, in the same order, to the
same streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from mode import Service
from mode.services import WaitResults


class InPlaceFirst(Service):
    """A service whose ``wait_first`` runs its first coroutine in place until it finishes or
    must wait; only then are the others raced against it (see the module's note)."""

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        first = coros[0] if coros else None
        if not isinstance(first, Coroutine) or self._stopped.is_set() or self._crashed.is_set():
            return await super().wait_first(*coros, timeout=timeout)
        try:
            waiting_on = first.send(None)
        except StopIteration as done:
            _close(coros[1:])
            await asyncio.sleep(0)  # a turn of the loop per message, as the race gave
            return WaitResults([first], [done.value], False)
        except BaseException:
            _close(coros[1:])
            raise
        return await super().wait_first(resumed(first, waiting_on), *coros[1:], timeout=timeout)


class _ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka keeps these until ``start()`` builds its fetcher from them; Faust gives no
        # way to pass them (tests/integration/test_consumer_fetch.py checks they arrive)
        consumer._fetch_min_bytes = transport.fetch_min_bytes
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer


class _Consumer(InPlaceFirst, Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


def _close(others: tuple[Any, ...]) -> None:
    """Coroutines the race no longer needs, never started."""
    for other in others:
        if isinstance(other, Coroutine):
            other.close()


async def resumed(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """What ``coro`` returns, driven on from where it was left by hand, waiting on
    ``waiting_on`` (what it gave the event loop: a future, or None for one turn of the loop), as
    a task would drive it: resumed once that is done, a cancellation passed on to it."""
    while True:
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                waiting_on._asyncio_future_blocking = False
                await asyncio.wait((waiting_on,))
        except asyncio.CancelledError as exc:
            if waiting_on is not None:
                waiting_on.cancel()
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        try:
            waiting_on = coro.send(None)
        except StopIteration as done:
            return done.value


class FetchSizedTransport(Transport):
    """Faust's aiokafka transport whose worker consumer fetches with these sizes."""

    Consumer = _Consumer

    def __init__(
        self, url: Any, app: Any, *, fetch_min_bytes: int, fetch_max_wait_ms: int, **kwargs: Any
    ) -> None:
        super().__init__(url, app, **kwargs)
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_wait_ms = fetch_max_wait_ms
