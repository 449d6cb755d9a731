"""Forget requests in every worker: each follows the whole forget topic (``streams.follower``).

At start a worker reads the deletions the topic keeps before it processes any event, so events
of a forgotten shopper still in the input topics are dropped however late they come; after
that, each new request is applied within a poll (0.2 s) and the batch in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from core.errors import InvalidEventError
from core.forget import Forget, decode_forget
from core.settings import Settings
from core.topics import Topics
from streams.follower import TopicFollower

log = logging.getLogger(__name__)


class ForgetFollower(TopicFollower):
    def __init__(
        self, settings: Settings, apply: Callable[[list[Forget]], Awaitable[None]]
    ) -> None:
        super().__init__(settings, Topics.from_settings(settings).forget, "pulse-forget-follower")
        self._apply = apply
        self.applied = 0

    async def apply(self, messages: Sequence[Any]) -> None:
        requests = []
        for m in messages:
            if m.value is None:
                continue  # a tombstone: the request's time has passed
            try:
                requests.append(decode_forget(m.value))
            except InvalidEventError as exc:
                # Only workers write this topic: a bad record is a defect, said loudly.
                log.error("forget record at %s:%d refused: %s", m.partition, m.offset, exc)
        if requests:
            await self._apply(requests)
            self.applied += len(requests)

    def on_ready(self) -> None:
        log.info("forget requests loaded: %d", self.applied)
