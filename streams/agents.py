"""Faust agents: thin loops that take micro-batches and hand them to the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from core.deadletter import RawMessage
from core.errors import HaltError
from streams.worker import Worker


def register(app: faust.App, worker: Worker) -> None:
    # The shoppers' events, in micro-batches; then the trend observations the batches route to
    # the subjects' owners (``streams.trend_owner``).
    _batches(app, worker, worker.topics.inputs, "pulse.ingest", worker.process)
    _batches(app, worker, [worker.topics.trend_observations], "pulse.trends", worker.process_trends)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_shoppers(_app: Any, *_args: Any, signal: Any, **_kwargs: Any) -> None:
        worker.partitions_revoked()


def _batches(
    app: faust.App,
    worker: Worker,
    topics: list[str],
    name: str,
    process: Callable[[list[RawMessage]], Awaitable[Any]],
) -> None:
    """An agent that hands ``topics``' messages to ``process`` in micro-batches."""
    settings = worker.settings
    topic = app.topic(
        *topics,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )

    @app.agent(topic, name=name)
    async def agent(stream: Any) -> None:
        await worker.start()
        await worker.wait_ready()
        async for events in stream.take_events(
            settings.batch_max_size, within=settings.batch_max_wait_ms / 1000
        ):
            # Returns after dead letters and writes are acknowledged; only then does
            # take_events ack the batch, so Faust commits its offsets after the writes.
            try:
                await process([_raw(e) for e in events])
            except HaltError:
                # A permanent failure: process nothing more and commit nothing (GET /health
                # says why) until the worker is restarted; SIGTERM still stops it.
                await asyncio.Event().wait()
            worker.after_batch()


def _raw(event: Any) -> RawMessage:
    m = event.message
    stamp = int((m.timestamp or 0) * 1000)
    return RawMessage(m.topic, m.partition, m.offset, m.key, m.value, stamp)
