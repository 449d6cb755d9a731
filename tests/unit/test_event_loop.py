"""The worker's event loop (``PULSE_EVENT_LOOP``): uvloop's by default, Python's when asked."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from pydantic import ValidationError

from core.settings import Settings
from tools.cli import new_event_loop


@pytest.mark.parametrize(("kind", "loop_type"), [("uvloop", uvloop.Loop), ("asyncio", None)])
def test_the_loop_asked_for_runs_coroutines(kind: str, loop_type: type | None) -> None:
    loop = new_event_loop(kind)
    try:
        if loop_type is None:
            assert not isinstance(loop, uvloop.Loop)
            assert isinstance(loop, asyncio.BaseEventLoop)
        else:
            assert isinstance(loop, loop_type)

        async def answer() -> int:
            await asyncio.sleep(0)
            return 42

        assert loop.run_until_complete(answer()) == 42
    finally:
        loop.close()


def test_uvloop_is_the_default_and_other_loops_are_refused() -> None:
    assert Settings().event_loop == "uvloop"
    assert Settings(event_loop="asyncio").event_loop == "asyncio"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="event_loop"):
        Settings(event_loop="trio")  # type: ignore[arg-type]
