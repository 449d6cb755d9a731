"""The worker's Kafka consumer: Faust's, with the fetch sizes Faust does not pass on.

Faust builds its aiokafka consumer with Kafka's default fetch minimum (1 byte) and a fetch wait
of 1.5 s. Under steady traffic that makes the broker answer each fetch as soon as a single
event is there, so the consumer thread fetches a few events at a time, and every fetch is
Python work (request, response, decoding) under the GIL the event loop and ranking need: at
2,000 clicks/s one worker spent 0.87 of a core against 0.72-0.79 with fetches of at least
64 KiB or 10 ms, and its p99 went from 0.8 s to 0.15-0.2 s (README "Recommendations"). The
price: an event may wait up to the fetch wait in Kafka when traffic is light (p50 at 300
clicks/s 24 against 20-22 ms), and an idle worker fetches that often (0.07 of a core against
0.02). ``PULSE_FETCH_MIN_BYTES`` and ``PULSE_FETCH_MAX_WAIT_MS`` set them.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport


class _ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka keeps these until ``start()`` builds its fetcher from them; Faust gives no
        # way to pass them (tests/integration/test_consumer_fetch.py checks they arrive)
        consumer._fetch_min_bytes = transport.fetch_min_bytes
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer


class _Consumer(Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class FetchSizedTransport(Transport):
    """Faust's aiokafka transport whose worker consumer fetches with these sizes."""

    Consumer = _Consumer

    def __init__(
        self, url: Any, app: Any, *, fetch_min_bytes: int, fetch_max_wait_ms: int, **kwargs: Any
    ) -> None:
        super().__init__(url, app, **kwargs)
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_wait_ms = fetch_max_wait_ms
