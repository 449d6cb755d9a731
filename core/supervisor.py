"""Supervised background tasks: a task that fails is logged, counted and restarted with backoff.

A task that dies silently is the worst failure there is, so no background work runs on a bare
``create_task``: :meth:`Supervisor.start` runs it, and :meth:`Supervisor.alive` says whether
it is running now (not restarting after an error), for ``GET /health``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TaskState:
    running: bool = False
    restarts: int = 0
    last_error: str | None = None
    failed_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(
        self,
        metrics: Metrics | None = None,
        *,
        first_delay_s: float = 0.2,
        max_delay_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.clock = clock
        self.tasks: dict[str, TaskState] = {}
        if metrics is not None:
            metrics.describe("pulse_task_restarts_total", "Background task restarts, by task.")

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``run()`` as the task ``name``; whenever it raises, run it again after a pause
        that doubles up to ``max_delay_s`` (back to the first pause after a minute of running).
        A ``run`` that returns has finished its work and is not restarted."""
        state = self.tasks.setdefault(name, TaskState())
        state.task = asyncio.get_running_loop().create_task(self._keep(name, run, state))

    async def _keep(self, name: str, run: Callable[[], Awaitable[None]], state: TaskState) -> None:
        delay = self.first_delay_s
        while True:
            began = self.clock()
            state.running = True
            try:
                await run()
            except asyncio.CancelledError:
                state.running = False
                raise
            except Exception as exc:
                state.running = False
                state.restarts += 1
                state.last_error = f"{type(exc).__name__}: {exc}"[:500]
                state.failed_at = self.clock()
                if self.metrics is not None:
                    self.metrics.inc("pulse_task_restarts_total", "task", name)
                if self.clock() - began > 60:
                    delay = self.first_delay_s
                log.exception("background task %s failed; restarting in %.1f s", name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_delay_s)
            else:
                state.running = False
                return

    def alive(self, name: str) -> bool:
        state = self.tasks.get(name)
        return state is not None and state.running

    def report(self) -> dict[str, dict[str, Any]]:
        """Each task: running now or not, restarts so far, the last error and when."""
        return {
            name: {
                "running": s.running,
                "restarts": s.restarts,
                "last_error": s.last_error,
                "failed_at": s.failed_at,
            }
            for name, s in self.tasks.items()
        }

    async def stop(self) -> None:
        for state in self.tasks.values():
            if state.task is not None:
                state.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state.task
                state.task = None
