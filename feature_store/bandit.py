"""The exploration bandit's counts in Redis: shared by the workers, kept across restarts.

One hash: ``impressions:<arm>`` and ``clicks:<arm>`` -> totals. Each batch adds its own counts in
its pipeline; a worker replaces its sampler's counts with the totals at most every
``refresh_s`` seconds, so it learns from the clicks every worker sees.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from feature_store.clients import Pipeline, RedisClient
from feature_store.keys import Keys
from feature_store.periodic import Periodic


class BanditStore:
    def __init__(
        self,
        client: RedisClient,
        keys: Keys,
        refresh_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.keys = keys
        self.refresh_s = refresh_s
        self._refresh = Periodic(refresh_s, clock)

    async def due_totals(self) -> tuple[dict[str, float], dict[str, float]] | None:
        """The shared ``(impressions, clicks)`` per arm when ``refresh_s`` has passed, else None."""
        if not self._refresh.due():
            return None
        stored = await self.client.hgetall(self.keys.bandit)
        totals: tuple[dict[str, float], dict[str, float]] = ({}, {})
        for field, value in stored.items():
            kind, _, arm = _text(field).partition(":")
            totals[0 if kind == "impressions" else 1][arm] = float(value)
        return totals

    def add(self, pipe: Pipeline, impressions: dict[str, int], clicks: dict[str, int]) -> None:
        for counts, kind in ((impressions, "impressions"), (clicks, "clicks")):
            for arm, n in counts.items():
                if n:
                    pipe.hincrby(self.keys.bandit, f"{kind}:{arm}", n)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
