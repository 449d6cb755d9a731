"""The web shop's side: an async, validating, idempotent Kafka producer of Pulse events.

    async with EventProducer(settings) as producer:
        await producer.send(EventKind.CLICK, {"user_id": "u1", "item_id": "85123A"})
        await producer.flush()

``send`` fills ``event_id`` and ``ts`` when they are absent, validates the event against the
contract (raising :class:`~core.errors.InvalidEventError` before anything reaches Kafka) and
keys it by ``user_id`` (``item_id`` for the catalogue). Messages are batched by aiokafka;
``flush`` waits until every queued message is acknowledged by all in-sync replicas.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError

from core.errors import InvalidEventError, ServiceError
from core.events import Event, EventKind, partition_key
from core.settings import Settings
from core.topics import Topics
from core.validation import ErrorCode, check_not_ahead, validate_dict


def new_producer(settings: Settings, *, client_id: str, linger_ms: int = 5) -> AIOKafkaProducer:
    """aiokafka producer with Pulse's durability settings: acks=all and idempotence."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )


async def start_producer(producer: AIOKafkaProducer, settings: Settings) -> None:
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise ServiceError(
            f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}; "
            "start it with `infra/stack.sh up` or set PULSE_KAFKA_BOOTSTRAP"
        ) from exc


def complete(
    kind: EventKind, event: Mapping[str, Any], *, now_ms: int | None = None
) -> dict[str, Any]:
    """A copy of ``event`` with ``event_id`` and ``ts`` filled in where they are absent."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(ErrorCode.NOT_OBJECT.value, "an event must be a mapping")
    filled = dict(event)
    if kind is not EventKind.CATALOG:
        if filled.get("event_id") is None:
            filled["event_id"] = uuid.uuid4().hex
        if filled.get("ts") is None:
            filled["ts"] = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    return filled


def message_key(event: Event) -> bytes:
    return partition_key(event).encode("utf-8")


class EventProducer:
    """Validates and produces contract events; see the module docstring."""

    def __init__(self, settings: Settings, *, client_id: str = "pulse-producer") -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self._failures: list[BaseException] = []

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        # aiokafka binds a producer to the running loop: create it here, not in __init__.
        self._producer = new_producer(self.settings, client_id=self.client_id)
        await start_producer(self._producer, self.settings)

    async def stop(self) -> None:
        if self._producer is None:
            return
        try:
            await self.flush()
        finally:
            await self._producer.stop()
            self._producer = None

    def prepare(self, kind: EventKind, event: Mapping[str, Any]) -> tuple[bytes, bytes, Event]:
        """Fill, validate and encode one event: ``(key, value, record)``. Raises on bad input."""
        filled = complete(kind, event)
        record = validate_dict(kind, filled)
        lead_ms = int(self.settings.max_event_ahead_seconds * 1000)
        check_not_ahead(record, time.time_ns() // 1_000_000 + lead_ms)
        return message_key(record), orjson.dumps(filled), record

    async def send(self, kind: EventKind, event: Mapping[str, Any]) -> Event:
        """Queue one event for sending; returns the validated record (with its event_id)."""
        key, value, record = self.prepare(kind, event)
        await self.send_raw(self.topics.for_kind(kind), key, value)
        return record

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes | None
    ) -> asyncio.Future[Any]:
        """Queue bytes as they are, unvalidated (replays of dead letters, tests of bad input).

        Returns the delivery future; ``flush`` also waits for it.
        """
        if self._producer is None:
            raise ServiceError("the producer is not started; use `async with EventProducer(...)`")
        if key is None and value is None:
            raise InvalidEventError(
                ErrorCode.MISSING_FIELD.value, "a message needs a key, a value or both"
            )
        try:
            future: asyncio.Future[Any] = await self._producer.send(topic, value=value, key=key)
        except KafkaError as exc:
            raise ServiceError(f"Kafka refused a message for {topic!r}: {exc}") from exc
        self._pending.add(future)
        future.add_done_callback(self._settled)
        return future

    async def send_each(
        self, items: list[tuple[EventKind, bytes, bytes]]
    ) -> list[BaseException | None]:
        """Send prepared ``(kind, key, value)`` messages; once each is settled, return ``None``
        for every one Kafka acknowledged and the error for every one it did not, in order (so
        a client resends exactly those)."""
        outcomes: list[asyncio.Future[Any] | BaseException] = []
        for kind, key, value in items:
            try:
                outcomes.append(await self.send_raw(self.topics.for_kind(kind), key, value))
            except ServiceError as exc:
                outcomes.append(exc)
        futures = [o for o in outcomes if isinstance(o, asyncio.Future)]
        settled = iter(await asyncio.gather(*futures, return_exceptions=True))
        results: list[BaseException | None] = []
        for outcome in outcomes:
            result = next(settled) if isinstance(outcome, asyncio.Future) else outcome
            results.append(result if isinstance(result, BaseException) else None)
        # Reported here, not again by flush().
        self._failures = [f for f in self._failures if f not in results]
        return results

    def _settled(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            self._failures.append(future.exception())  # type: ignore[arg-type]

    async def flush(self) -> None:
        """Wait until every queued message is acknowledged; raise if any was not."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        failures, self._failures = self._failures, []
        if failures:
            raise ServiceError(
                f"{len(failures)} messages were not acknowledged by Kafka: {failures[0]!r}"
            ) from failures[0]


def kafka_transient(exc: BaseException) -> bool:
    """A lost connection, a broker not available, a moved leader, a timeout: worth sending
    again. A message too large, an unknown topic config or a bad request is permanent."""
    if isinstance(exc, KafkaError):
        return bool(exc.retriable) or isinstance(exc, KafkaTimeoutError)
    return isinstance(exc, ServiceError | OSError | asyncio.TimeoutError)


class KafkaSink:
    """The worker's producer for what it publishes: dead letters, lists and trend signals."""

    def transient(self, exc: BaseException) -> bool:
        return kafka_transient(exc)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = new_producer(self.settings, client_id="pulse-worker", linger_ms=1)
        await start_producer(self.producer, self.settings)

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def publish(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes]],
        partitions: Sequence[int] | None = None,
    ) -> None:
        if self.producer is None:
            raise ServiceError("the worker's producer is not started")
        producer = self.producer
        targets = partitions if partitions is not None else [None] * len(messages)
        futures = [
            await producer.send(topic, value=v, key=k, partition=p)
            for (k, v), p in zip(messages, targets, strict=True)
        ]
        await asyncio.gather(*futures)
