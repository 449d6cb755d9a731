"""Retry an I/O step until it succeeds, with capped exponential backoff.

Used where giving up would lose data (a batch's Redis writes, its dead letters): the worker
waits for the service to come back instead, and Kafka offsets stay uncommitted meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


async def until_done(
    step: Callable[[], Awaitable[T]],
    what: str,
    *,
    retry_on: tuple[type[BaseException], ...],
    first_delay_s: float = 0.1,
    max_delay_s: float = 5.0,
) -> T:
    delay = first_delay_s
    attempt = 1
    while True:
        try:
            return await step()
        except retry_on as exc:
            log.warning("%s failed (attempt %d): %r; retrying in %.1f s", what, attempt, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
            attempt += 1
