"""``streams.admin.topic_partitions`` asks again while a topic just made has no partitions yet,
and says so when it never gets any."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.errors import ServiceError
from core.settings import Settings
from streams import admin


class SlowTopicAdmin:
    """A broker that describes the topic without partitions ``empty_for`` times first."""

    empty_for = 2

    def __init__(self, **_: Any) -> None:
        self.asked = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        self.asked += 1
        parts = [] if self.asked <= self.empty_for else [{"partition": p} for p in (2, 0, 1)]
        return [{"topic": topics[0], "partitions": parts}]


def test_a_topic_described_without_partitions_is_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(admin, "AIOKafkaAdminClient", SlowTopicAdmin)
    assert asyncio.run(admin.topic_partitions(Settings(), "t", wait_s=5)) == [0, 1, 2]


def test_a_topic_that_never_gets_partitions_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SlowTopicAdmin, "empty_for", 10**9)
    monkeypatch.setattr(admin, "AIOKafkaAdminClient", SlowTopicAdmin)
    with pytest.raises(ServiceError, match="without partitions after 0 s"):
        asyncio.run(admin.topic_partitions(Settings(), "t", wait_s=0.3))
