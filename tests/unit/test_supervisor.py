"""Supervised background tasks: failures are counted and the task restarted, with backoff."""

from __future__ import annotations

import asyncio

from core.metrics import Metrics
from core.supervisor import Supervisor


async def test_a_failing_task_is_restarted_until_it_runs_and_reported_meanwhile() -> None:
    metrics = Metrics()
    supervisor = Supervisor(metrics, first_delay_s=0.01, max_delay_s=0.02)
    attempts: list[int] = []
    running = asyncio.Event()

    async def follow() -> None:
        attempts.append(len(attempts))
        if len(attempts) <= 3:
            raise ConnectionError(f"Redis away ({len(attempts)})")
        running.set()
        await asyncio.Event().wait()  # runs until stopped

    supervisor.start("catalogue", follow)
    await asyncio.wait_for(running.wait(), timeout=5)
    assert len(attempts) == 4 and supervisor.alive("catalogue")
    report = supervisor.report()["catalogue"]
    assert report["restarts"] == 3 and report["last_error"] == "ConnectionError: Redis away (3)"
    assert metrics.get("pulse_task_restarts_total", "task", "catalogue") == 3
    await supervisor.stop()
    assert not supervisor.alive("catalogue")


async def test_a_task_is_not_alive_while_it_waits_to_restart_and_a_finished_one_stays_done() -> (
    None
):
    supervisor = Supervisor(first_delay_s=10.0)
    failed = asyncio.Event()

    async def broken() -> None:
        failed.set()
        raise ValueError("a defect")

    async def done() -> None:
        return None

    supervisor.start("broken", broken)
    supervisor.start("done", done)
    await asyncio.wait_for(failed.wait(), timeout=5)
    await asyncio.sleep(0.05)
    assert not supervisor.alive("broken") and supervisor.report()["broken"]["restarts"] == 1
    assert not supervisor.alive("done") and supervisor.report()["done"]["restarts"] == 0
    assert not supervisor.alive("never started")
    await supervisor.stop()
