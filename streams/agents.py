"""Faust agents: thin loops that take micro-batches and hand them to the runtime."""

from __future__ import annotations

from typing import Any

import faust

from streams.deadletter import RawMessage
from streams.runtime import Runtime


def register(app: faust.App, runtime: Runtime) -> None:
    settings = runtime.settings
    inputs = app.topic(
        *runtime.topics.inputs,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )

    @app.agent(inputs, name="pulse.ingest")
    async def ingest(stream: Any) -> None:
        await runtime.start()
        await runtime.ingest.wait_ready()
        async for events in stream.take_events(
            settings.batch_max_size, within=settings.batch_max_wait_ms / 1000
        ):
            # Returns after dead letters and counts are acknowledged; only then does
            # take_events ack the batch, so Faust commits its offsets after the writes.
            await runtime.ingest.processor.process([_raw(e) for e in events])

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_shoppers(_app: Any, *_args: Any, signal: Any, **_kwargs: Any) -> None:
        # Another worker may own these shoppers now: read them from Redis from here on.
        if runtime.ingest.personaliser is not None:
            runtime.ingest.personaliser.users.clear_cache()


def _raw(event: Any) -> RawMessage:
    m = event.message
    stamp = int((m.timestamp or 0) * 1000)
    return RawMessage(m.topic, m.partition, m.offset, m.key, m.value, stamp)
