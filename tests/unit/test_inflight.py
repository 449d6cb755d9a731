"""Two micro-batches in flight (``streams.inflight``): halves in order, the next batch prepared
while the one before is written, nothing written after a failure, and a worker that overlaps
batches only when it is behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.deadletter import RawMessage
from streams.inflight import InFlight, behind

# One batch: how long each half takes (in steps of the event loop), whether it may overlap the
# batch before, and which half fails (if any).
BATCH = st.tuples(
    st.integers(0, 3), st.integers(0, 3), st.booleans(), st.sampled_from([None, "first", "second"])
)


async def _steps(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def _drive(batches: list[tuple[int, int, bool, str | None]], depth: int) -> dict[str, Any]:
    inflight = InFlight(depth)
    log: list[tuple[str, int]] = []
    live: set[int] = set()
    most = 0

    def half(name: str, i: int, steps: int, fails: bool) -> Any:
        async def run(*_: object) -> int:
            nonlocal most
            live.add(i)
            most = max(most, len(live))
            log.append((f"{name} starts", i))
            await _steps(steps)
            if fails:
                live.discard(i)
                log.append(("fails", i))
                raise RuntimeError(f"batch {i}'s {name} half")
            log.append((f"{name} ends", i))
            if name == "second":
                live.discard(i)
            return i

        return run

    futures = []
    for i, (first, second, overlap, fails) in enumerate(batches):
        futures.append(
            await inflight.submit(
                half("first", i, first, fails == "first"),
                half("second", i, second, fails == "second"),
                overlap=overlap,
            )
        )
    results = await asyncio.gather(*futures, return_exceptions=True)
    return {"log": log, "results": results, "most": most}


@settings(max_examples=150, deadline=None)
@given(st.lists(BATCH, min_size=1, max_size=8), st.integers(1, 2))
def test_halves_run_in_order_and_nothing_is_written_after_a_failure(
    batches: list[tuple[int, int, bool, str | None]], depth: int
) -> None:
    run = asyncio.run(_drive(batches, depth))
    log, results = run["log"], run["results"]
    at = {event: n for n, event in enumerate(log)}
    failed = next((i for i, b in enumerate(batches) if b[3] is not None), None)

    def end(i: int) -> int:  # where batch i was written, or failed
        return at.get(("second ends", i), at.get(("fails", i), -1))

    assert run["most"] <= depth
    assert [i for e, i in log if e == "first starts"] == sorted(
        i for e, i in log if e == "first starts"
    )
    assert [i for e, i in log if e == "second starts"] == sorted(
        i for e, i in log if e == "second starts"
    )
    for i, (_, _, overlap, fails) in enumerate(batches):
        if failed is not None and i > failed:
            # Never written, nor even prepared once the failure was known; failed with it.
            assert ("second starts", i) not in at
            assert isinstance(results[i], RuntimeError)
            continue
        if fails == "first":
            assert ("second starts", i) not in at and isinstance(results[i], RuntimeError)
            continue
        assert at[("first ends", i)] < at[("second starts", i)]
        if i > 0:
            assert at[("first ends", i - 1)] < at[("first starts", i)]
            assert end(i - 1) < at[("second starts", i)]
            if not overlap:
                assert end(i - 1) < at[("first starts", i)]
        if fails == "second":
            assert isinstance(results[i], RuntimeError)
        else:
            assert results[i] == i


async def test_the_next_batch_is_prepared_while_the_one_before_is_written() -> None:
    inflight = InFlight(2)
    writing = asyncio.Event()
    release = asyncio.Event()
    prepared_second = asyncio.Event()

    async def slow_write(_: object) -> str:
        writing.set()
        await release.wait()
        return "written"

    async def prepare_second() -> None:
        prepared_second.set()

    async def nothing() -> None:
        return None

    async def write(_: object) -> str:
        return "second written"

    first = await inflight.submit(nothing, slow_write)
    await writing.wait()
    second = await inflight.submit(prepare_second, write)
    await asyncio.wait_for(prepared_second.wait(), 1)
    assert not first.done() and not second.done()  # prepared, not written before the first
    # A third waits for a place: two are in flight.
    third = asyncio.ensure_future(inflight.submit(nothing, write))
    await _steps(5)
    assert not third.done()
    release.set()
    assert await first == "written" and await second == "second written"
    assert await (await third) == "second written"


async def test_paused_waits_for_the_batches_in_flight_and_holds_new_ones() -> None:
    inflight = InFlight(2)
    release = asyncio.Event()
    order: list[str] = []

    async def nothing() -> None:
        return None

    async def slow_write(_: object) -> None:
        await release.wait()
        order.append("written")

    async def write(_: object) -> None:
        order.append("next written")

    await inflight.submit(nothing, slow_write)

    async def forget() -> None:
        async with inflight.paused():
            order.append("paused")
            await _steps(5)
            order.append("resumed")

    pausing = asyncio.ensure_future(forget())
    await _steps(5)
    later = asyncio.ensure_future(inflight.submit(nothing, write))
    await _steps(5)
    assert order == [] and not later.done()
    release.set()
    await pausing
    await (await later)
    assert order == ["written", "paused", "resumed", "next written"]


def test_one_batch_at_least_is_in_flight() -> None:
    with pytest.raises(ValueError, match="at least one"):
        InFlight(0)


def _message(stamp_ms: int) -> RawMessage:
    return RawMessage("pulse.clicks", 0, 0, None, b"{}", stamp_ms)


@given(
    st.lists(st.integers(0, 2_000_000), min_size=0, max_size=6),
    st.integers(0, 1_000_000),
    st.integers(1_000_000, 3_000_000),
)
def test_a_batch_is_behind_when_its_oldest_stamped_message_is_old_enough(
    stamps: list[int], after_ms: int, now_ms: int
) -> None:
    messages = [_message(s) for s in stamps]
    known = [s for s in stamps if s > 0]  # 0: no timestamp
    expected = bool(known) and now_ms - min(known) >= after_ms
    assert behind(messages, after_ms, clock=lambda: now_ms / 1000) is expected
