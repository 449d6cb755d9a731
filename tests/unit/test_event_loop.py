"""The worker's event loop (``PULSE_EVENT_LOOP``): uvloop's by default, Python's when asked, a
clear error when uvloop is asked for and cannot be imported."""

from __future__ import annotations

import asyncio
import sys

import click
import pytest
import uvloop
from pydantic import ValidationError

from core.settings import Settings
from tools.cli import new_event_loop


@pytest.mark.parametrize(("kind", "is_uvloop"), [("uvloop", True), ("asyncio", False)])
def test_the_loop_asked_for_runs_coroutines(kind: str, is_uvloop: bool) -> None:
    loop = new_event_loop(kind)
    try:
        assert isinstance(loop, uvloop.Loop) is is_uvloop

        async def answer() -> int:
            await asyncio.sleep(0)
            return 42

        assert loop.run_until_complete(answer()) == 42
    finally:
        loop.close()


def test_uvloop_not_installed_says_how_to_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    with pytest.raises(click.ClickException, match="PULSE_EVENT_LOOP=asyncio"):
        new_event_loop("uvloop")


def test_uvloop_is_the_default_and_other_loops_are_refused() -> None:
    assert Settings().event_loop == "uvloop"
    assert Settings(event_loop="asyncio").event_loop == "asyncio"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="event_loop"):
        Settings(event_loop="trio")  # type: ignore[arg-type]
