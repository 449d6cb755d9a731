from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from core.errors import InvalidEventError
from core.events import EventKind, Search
from core.settings import Settings
from core.topics import Topics
from streams.admin import partition_problem
from streams.app import broker_url
from streams.producer import EventProducer, complete
from tests.unit.examples import valid


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("PULSE_BATCH_MAX_SIZE", "64")
    monkeypatch.setenv("PULSE_DEVICE", "cpu")
    settings = Settings()
    assert settings.batch_max_size == 64 and settings.device == "cpu"
    assert broker_url(settings.kafka_bootstrap) == "kafka://k1:9092;kafka://k2:9092"
    with pytest.raises(ValidationError):
        settings.batch_max_size = 1  # type: ignore[misc]


def test_bad_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_DEVICE", "tpu")
    with pytest.raises(ValidationError):
        Settings()


def test_topic_names() -> None:
    topics = Topics("pulse.")
    assert topics.for_kind(EventKind.CLICK) == "pulse.events.clicks"
    assert topics.for_kind(EventKind.CATALOG) == "pulse.catalog"
    assert topics.dead_letter == "pulse.dead-letter"
    assert topics.kind_of("pulse.events.reviews") is EventKind.REVIEW
    assert topics.trend_observations == "pulse.trend-observations"
    assert len(set(topics.all)) == 10


def test_complete_fills_only_what_is_missing() -> None:
    event = valid(EventKind.CLICK, event_id=..., ts=...)
    filled = complete(EventKind.CLICK, event, now_ms=1_700_000_000_000)
    assert filled["ts"] == 1_700_000_000_000 and len(filled["event_id"]) == 32
    kept = complete(EventKind.CLICK, valid(EventKind.CLICK))
    assert kept["event_id"] == "e-click-1"
    assert "event_id" not in complete(EventKind.CATALOG, valid(EventKind.CATALOG))


def test_producer_refuses_bad_events_before_kafka() -> None:
    producer = EventProducer(Settings())  # never started: nothing may reach Kafka
    with pytest.raises(InvalidEventError) as info:
        producer.prepare(EventKind.PURCHASE, valid(EventKind.PURCHASE, price=-2))
    assert info.value.code == "out_of_range"
    key, value, record = producer.prepare(EventKind.SEARCH, {"user_id": "u9", "query": "tea"})
    assert key == b"u9" and b'"query":"tea"' in value
    assert isinstance(record, Search) and record.query == "tea"


def test_producer_refuses_events_from_too_far_ahead() -> None:
    producer = EventProducer(Settings(max_event_ahead_seconds=60))
    now_ms = time.time_ns() // 1_000_000
    producer.prepare(EventKind.CLICK, valid(EventKind.CLICK, ts=now_ms + 30_000))
    with pytest.raises(InvalidEventError) as info:
        producer.prepare(EventKind.CLICK, valid(EventKind.CLICK, ts=now_ms + 3_600_000))
    assert info.value.code == "bad_timestamp"
    assert "past the latest time accepted" in info.value.message


def test_blend_weights_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import parse_weights

    assert parse_weights("similar=0.1, history=2") == (("similar", 0.1), ("history", 2.0))
    for bad in ("similar", "magic=1", "history=lots", "history=-1"):
        with pytest.raises(ValueError):
            parse_weights(bad)
    monkeypatch.setenv("PULSE_BLEND_WEIGHTS", "history=oops")
    with pytest.raises(ValidationError):
        Settings()


def test_the_reason_names_the_topics_with_fewer_partitions() -> None:
    problem = partition_problem({"p.events.clicks": 8, "p.events.searches": 4, "p.x": 8})
    assert problem is not None
    assert "p.events.clicks 8, p.events.searches 4, p.x 8" in problem
    assert "--partitions 8" in problem and problem.count("p.events.searches") == 2
