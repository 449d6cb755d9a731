"""Faust agents: thin loops that take micro-batches and hand them to the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import faust

from core.deadletter import RawMessage
from core.errors import HaltError
from streams.worker import Worker


def register(app: faust.App, worker: Worker) -> None:
    # The shoppers' events, in micro-batches; then the trend observations the batches route to
    # the subjects' owners (``streams.trend_owner``).
    _batches(app, worker, worker.topics.inputs, "pulse.ingest", worker.submit)
    _batches(app, worker, [worker.topics.trend_observations], "pulse.trends", _done_now(worker))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_shoppers(_app: Any, *_args: Any, signal: Any, **_kwargs: Any) -> None:
        worker.partitions_revoked()


def _batches(
    app: faust.App,
    worker: Worker,
    topics: list[str],
    name: str,
    submit: Callable[[list[RawMessage]], Awaitable[asyncio.Future[Any]]],
) -> None:
    """An agent that hands ``topics``' messages to ``submit`` in micro-batches; ``submit``
    returns once the batch is under way, with a future done once it is written."""
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
            # take_events acks the batch once this body returns, and Faust commits acked
            # offsets; a batch in flight holds its messages one reference more, given back
            # only once its dead letters and writes are acknowledged (``_ack``).
            for e in events:
                e.message.incref()
            try:
                done = await submit([_raw(e) for e in events])
            except HaltError:
                # A permanent failure: process nothing more and commit nothing (GET /health
                # says why) until the worker is restarted; SIGTERM still stops it.
                await asyncio.Event().wait()
            done.add_done_callback(partial(_ack, stream, events))


_acking: set[asyncio.Future[None]] = set()  # the tasks acking batches now


def _ack(stream: Any, events: list[Any], done: asyncio.Future[Any]) -> None:
    """The batch is written: its offsets may be committed (a failed one's never are)."""
    if done.cancelled() or done.exception() is not None:
        return
    task = asyncio.ensure_future(_ack_each(stream, events))
    _acking.add(task)
    task.add_done_callback(_acking.discard)


async def _ack_each(stream: Any, events: list[Any]) -> None:
    for e in events:
        await stream.ack(e)


def _raw(event: Any) -> RawMessage:
    m = event.message
    stamp = int((m.timestamp or 0) * 1000)
    return RawMessage(m.topic, m.partition, m.offset, m.key, m.value, stamp)


def _done_now(worker: Worker) -> Callable[[list[RawMessage]], Awaitable[asyncio.Future[Any]]]:
    """Trend shipments, processed in turn: the future is done when ``submit`` returns."""

    async def submit(messages: list[RawMessage]) -> asyncio.Future[Any]:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await worker.process_trends(messages)
        done.set_result(None)
        return done

    return submit
