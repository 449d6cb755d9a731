"""Faust agents: thin loops that take micro-batches and hand them to the worker."""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from core.deadletter import RawMessage
from core.errors import HaltError
from streams.worker import Worker


def register(app: faust.App, worker: Worker) -> None:
    settings = worker.settings
    inputs = app.topic(
        *worker.topics.inputs,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )

    @app.agent(inputs, name="pulse.ingest")
    async def ingest(stream: Any) -> None:
        await worker.start()
        await worker.wait_ready()
        async for events in stream.take_events(
            settings.batch_max_size, within=settings.batch_max_wait_ms / 1000
        ):
            # Returns after dead letters and writes are acknowledged; only then does
            # take_events ack the batch, so Faust commits its offsets after the writes.
            try:
                await worker.process([_raw(e) for e in events])
            except HaltError:
                # A permanent failure: process nothing more and commit nothing (GET /health
                # says why) until the worker is restarted; SIGTERM still stops it.
                await asyncio.Event().wait()

    observed = app.topic(
        worker.topics.trend_observations,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )

    @app.agent(observed, name="pulse.trends")
    async def own_trends(stream: Any) -> None:
        await worker.start()
        await worker.wait_ready()
        async for events in stream.take_events(
            settings.batch_max_size, within=settings.batch_max_wait_ms / 1000
        ):
            try:
                await worker.process_trends([_raw(e) for e in events])
            except HaltError:
                await asyncio.Event().wait()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_shoppers(_app: Any, *_args: Any, signal: Any, **_kwargs: Any) -> None:
        worker.partitions_revoked()


def _raw(event: Any) -> RawMessage:
    m = event.message
    stamp = int((m.timestamp or 0) * 1000)
    return RawMessage(m.topic, m.partition, m.offset, m.key, m.value, stamp)
