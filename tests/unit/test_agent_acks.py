"""A batch's messages are acknowledged to Faust (so their offsets may be committed) only once
the batch is written; a batch that failed or was cancelled never is."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.agents import _ack


class _Stream:
    def __init__(self) -> None:
        self.acked: list[Any] = []

    async def ack(self, event: Any) -> bool:
        self.acked.append(event)
        return True


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize("outcome", ["written", "failed", "cancelled"])
async def test_messages_are_acked_once_their_batch_is_written(outcome: str) -> None:
    stream, events = _Stream(), ["e1", "e2", "e3"]
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.add_done_callback(lambda f: _ack(stream, events, f))
    await _settle()
    assert stream.acked == []  # in flight: nothing acked
    if outcome == "written":
        done.set_result(None)
    elif outcome == "failed":
        done.set_exception(RuntimeError("the write failed for good"))
    else:
        done.cancel()
    await _settle()
    assert stream.acked == (events if outcome == "written" else [])
