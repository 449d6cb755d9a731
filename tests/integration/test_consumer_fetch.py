"""The worker's Kafka consumer fetches with PULSE_FETCH_MIN_BYTES and PULSE_FETCH_MAX_WAIT_MS
(Faust does not pass them to aiokafka; ``streams/consumer.py`` does), and hands messages to the
streams in place (``InPlaceFirst``, tested in tests/unit/test_consumer_handover.py)."""

from __future__ import annotations

import pytest

from streams.app import create_app
from streams.consumer import InPlaceFirst
from tests.integration.stack import new_settings

pytestmark = pytest.mark.integration


async def test_the_worker_consumer_fetches_with_the_configured_sizes(services: None) -> None:
    settings = new_settings().model_copy(
        update={"fetch_min_bytes": 12_345, "fetch_max_wait_ms": 37}
    )
    app, _ = create_app(settings)
    thread = app.consumer._thread  # type: ignore[attr-defined]
    consumer = thread._create_worker_consumer(app.transport)
    await consumer.start()  # builds its fetcher from what it was given, against the real Kafka
    try:
        fetcher = consumer._fetcher
        assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (12_345, 37)
    finally:
        await consumer.stop()
    defaults = new_settings()
    assert (defaults.fetch_min_bytes, defaults.fetch_max_wait_ms) == (65_536, 10)


async def test_the_worker_consumer_hands_messages_over_in_place(services: None) -> None:
    app, _ = create_app(new_settings())
    assert isinstance(app.consumer, InPlaceFirst)
