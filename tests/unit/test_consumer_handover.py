"""The consumer's hand-over of a message in place (``streams.consumer.InPlaceFirst``): an outcome
mode's ``Service.wait_first`` gives, whether the hand-over finishes at once, must wait, fails, or
loses the race to the flow's suspension."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mode import Service

from streams.consumer import InPlaceFirst


class InPlace(InPlaceFirst):
    pass


class Original(Service):
    pass


class Boom(Exception):
    pass


async def hand_over(steps: list[str], log: list[str], gate: asyncio.Event) -> str:
    """A message's hand-over: ``steps`` of ``turn`` (one turn of the loop), ``gate`` (wait for
    the gate to open), ``raise``; logs what it did, and whether it was cancelled."""
    try:
        for n, step in enumerate(steps):
            log.append(step)
            if step == "turn":
                await asyncio.sleep(0)
            elif step == "gate":
                await gate.wait()
            elif step == "raise":
                raise Boom(n)
        return f"delivered after {len(steps)}"
    except asyncio.CancelledError:
        log.append("cancelled")
        raise


async def race(service: Service, steps: list[str], suspend_after: int | None) -> Any:
    """``wait_first(hand_over(...), suspended.wait())`` as Faust's fetcher calls it; the gate
    opens after 3 turns of the loop, the flow is suspended after ``suspend_after`` (never:
    None). What it returned or raised, and the hand-over's log."""
    log: list[str] = []
    gate, suspended = asyncio.Event(), asyncio.Event()

    async def later() -> None:
        for n in range(max(3, suspend_after or 0) + 1):
            if n == 3:
                gate.set()
            if n == suspend_after:
                suspended.set()
            await asyncio.sleep(0)

    helper = asyncio.ensure_future(later())
    try:
        outcome = await service.wait_first(hand_over(steps, log, gate), suspended.wait())
        said: Any = ("returned", outcome.results, outcome.stopped)
    except Boom as exc:
        said = ("raised", exc.args)
    await helper
    for _ in range(5):  # let cancellations land
        await asyncio.sleep(0)
    return said, log


async def test_a_hand_over_that_never_waits_finishes_in_place_and_the_race_is_not_run() -> None:
    suspended = asyncio.Event()
    waiting = suspended.wait()
    tasks = len(asyncio.all_tasks())
    outcome = await InPlace().wait_first(hand_over([], [], asyncio.Event()), waiting)
    assert outcome.results == ["delivered after 0"] and not outcome.stopped
    assert len(asyncio.all_tasks()) == tasks  # no task made for it
    assert inspect.getcoroutinestate(waiting) == "CORO_CLOSED"  # the suspension's, unstarted


async def test_a_hand_over_that_waits_is_resumed_and_its_result_returned() -> None:
    said, log = await race(InPlace(), ["turn", "gate", "turn"], None)
    assert said[1] == ["delivered after 3"]
    assert log == ["turn", "gate", "turn"]


async def test_a_suspension_while_the_hand_over_waits_cancels_it() -> None:
    said, log = await race(InPlace(), ["gate"], suspend_after=1)
    assert said[1] == [True]  # the suspension won (its wait returns True)
    assert log == ["gate", "cancelled"]


@pytest.mark.parametrize("steps", [["raise"], ["turn", "raise"], ["gate", "raise"]])
async def test_a_failing_hand_over_raises_its_error(steps: list[str]) -> None:
    said, _ = await race(InPlace(), steps, None)
    assert said == ("raised", (len(steps) - 1,))


async def test_a_stopped_service_answers_as_the_original_does() -> None:
    service = InPlace()
    service._stopped.set()
    said, _ = await race(service, [], None)
    assert said == ("returned", [], True)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.sampled_from(["turn", "gate", "raise", "none"]), max_size=5),
    suspend_after=st.none() | st.integers(0, 6),
)
def test_the_outcome_is_one_the_original_wait_first_gives(
    steps: list[str], suspend_after: int | None
) -> None:
    """Whatever the hand-over does and whenever the flow is suspended: with no suspension, the
    same result or error as mode's ``Service.wait_first`` (which runs each coroutine in a task
    of its own) after the same steps; with one, the hand-over either finished all its steps,
    raised, or was cancelled where it waited and did nothing after."""

    async def both() -> tuple[Any, Any]:
        mine = await race(InPlace(), steps, suspend_after)
        return mine, await race(Original(), steps, suspend_after)

    (said, log), (original_said, original_log) = asyncio.run(both())
    if suspend_after is None:
        assert (said, log) == (original_said, original_log)
    done = steps[: steps.index("raise") + 1] if "raise" in steps else steps
    if said[0] == "raised":
        assert log == done and said == ("raised", (len(done) - 1,))
    elif log and log[-1] == "cancelled":
        assert log[-2] in ("turn", "gate") and log[:-1] == steps[: len(log) - 1]
        assert f"delivered after {len(steps)}" not in said[1]
    else:
        assert log == steps and f"delivered after {len(steps)}" in said[1]
