"""Retry an I/O step while its error is transient, with capped exponential backoff.

Errors are classified where they are caught, by the adapter that knows them: a transient error
(connection lost, broker not available, leader moved, timeout) is retried, and shows in
:class:`Faults` (``GET /health``, metrics) while it lasts; any other error is permanent and is
raised at once, never retried. Used where giving up would lose data (a batch's Redis writes,
its dead letters): the worker waits for the service to come back instead, and Kafka offsets
stay uncommitted meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.metrics import Metrics

T = TypeVar("T")
log = logging.getLogger(__name__)

# Whether an error is transient (worth retrying): each adapter says for its own errors.
Transient = Callable[[BaseException], bool]


def never(_exc: BaseException) -> bool:
    """Nothing is transient (in-memory fakes)."""
    return False


def any_of(*types: type[BaseException]) -> Transient:
    """Transient when the error is an instance of one of ``types``."""
    return lambda exc: isinstance(exc, types)


class Faults:
    """The transient failures going on now, by part (``redis``, ``kafka``), with when each began.

    >>> faults = Faults(clock=lambda: 10.0)
    >>> faults.failing("redis", ConnectionError("refused"))
    >>> faults.now()
    {'redis': {'error': "ConnectionError('refused')", 'since': 10.0, 'attempts': 1}}
    >>> faults.recovered("redis"); faults.now()
    {}
    """

    def __init__(self, metrics: Metrics | None = None, clock: Callable[[], float] = time.time):
        self.metrics = metrics
        self.clock = clock
        self._now: dict[str, dict[str, Any]] = {}
        if metrics is not None:
            metrics.describe("pulse_transient_errors_total", "Transient errors retried, by part.")
            metrics.describe("pulse_part_failing", "1 while a part fails transiently, by part.")

    def failing(self, part: str, exc: BaseException) -> None:
        entry = self._now.setdefault(part, {"error": "", "since": self.clock(), "attempts": 0})
        entry["error"] = repr(exc)[:300]
        entry["attempts"] += 1
        if self.metrics is not None:
            self.metrics.inc("pulse_transient_errors_total", "part", part)
            self.metrics.set("pulse_part_failing", 1, "part", part)

    def recovered(self, part: str) -> None:
        if self._now.pop(part, None) is not None and self.metrics is not None:
            self.metrics.set("pulse_part_failing", 0, "part", part)

    def now(self) -> dict[str, dict[str, Any]]:
        return {part: dict(entry) for part, entry in self._now.items()}


async def until_done(
    step: Callable[[], Awaitable[T]],
    what: str,
    *,
    transient: Transient,
    faults: Faults | None = None,
    part: str = "",
    first_delay_s: float = 0.1,
    max_delay_s: float = 5.0,
) -> T:
    """``await step()`` until it succeeds; retry only errors that ``transient`` accepts."""
    delay = first_delay_s
    attempt = 1
    while True:
        try:
            result = await step()
        except Exception as exc:
            if not transient(exc):
                raise
            if faults is not None:
                faults.failing(part or what, exc)
            log.warning("%s failed (attempt %d): %r; retrying in %.1f s", what, attempt, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
            attempt += 1
        else:
            if faults is not None:
                faults.recovered(part or what)
            return result
