"""Failure classes: transient errors are retried (and shown while they last), permanent ones
are raised at once; a worker that meets one it cannot get past halts and says why."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    UnknownTopicOrPartitionError,
)
from redis.exceptions import BusyLoadingError, OutOfMemoryError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from core.errors import HaltError, ServiceError
from core.metrics import Metrics
from core.retry import Faults, any_of, until_done
from core.settings import Settings
from feature_store.writes import redis_transient
from streams.producer import kafka_transient
from streams.worker import Worker


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (KafkaConnectionError("gone"), True),
        (NotLeaderForPartitionError(), True),
        (KafkaTimeoutError(), True),
        (UnknownTopicOrPartitionError(), True),
        (ServiceError("producer not started"), True),
        (MessageSizeTooLargeError(), False),
        (ValueError("a defect"), False),
    ],
)
def test_kafka_errors_are_classified(error: Exception, transient: bool) -> None:
    assert kafka_transient(error) is transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (RedisConnectionError("refused"), True),
        (BusyLoadingError("loading"), True),
        (ConnectionRefusedError(), True),
        (OutOfMemoryError("OOM command not allowed"), False),
        (ResponseError("WRONGTYPE"), False),
    ],
)
def test_redis_errors_are_classified(error: Exception, transient: bool) -> None:
    assert redis_transient(error) is transient


async def test_transient_errors_are_retried_and_shown_while_they_last() -> None:
    metrics = Metrics()
    faults = Faults(metrics)
    seen: list[dict[str, object]] = []
    attempts = 0

    async def step() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("refused")
        seen.append(faults.now())
        return "done"

    got = await until_done(
        step,
        "writing",
        transient=any_of(ConnectionError),
        faults=faults,
        part="redis",
        first_delay_s=0.001,
    )
    assert got == "done" and attempts == 3
    assert faults.now() == {}  # recovered
    assert metrics.get("pulse_transient_errors_total", "part", "redis") == 2
    assert metrics.get("pulse_part_failing", "part", "redis") == 0


async def test_permanent_errors_are_raised_at_once() -> None:
    attempts = 0

    async def step() -> None:
        nonlocal attempts
        attempts += 1
        raise OutOfMemoryError("OOM command not allowed")

    with pytest.raises(OutOfMemoryError):
        await until_done(step, "writing", transient=redis_transient)
    assert attempts == 1


class Broken:
    def __init__(self) -> None:
        self.calls = 0

    async def process(self, messages: object) -> None:
        self.calls += 1
        raise OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'")


async def test_a_worker_halts_on_a_permanent_failure_and_says_why() -> None:
    worker = Worker(Settings())  # nothing started: no service is needed
    broken = Broken()
    worker.processor = broken  # type: ignore[assignment]
    with pytest.raises(HaltError):
        await worker.process([])
    assert worker.halted is not None and "OutOfMemoryError" in worker.halted
    with pytest.raises(HaltError):  # nothing more is processed
        await worker.process([])
    assert broken.calls == 1
    await worker.redis.aclose()
