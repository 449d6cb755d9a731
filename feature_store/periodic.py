"""When to read shared totals again: the first time, then at most every so many seconds."""

from __future__ import annotations

import time
from collections.abc import Callable


class Periodic:
    """``due()`` is true at its first call, then once ``every_s`` seconds have passed.

    >>> now = [0.0]
    >>> p = Periodic(10, clock=lambda: now[0])
    >>> p.due(), p.due()
    (True, False)
    >>> now[0] = 10.0
    >>> p.due()
    True
    """

    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.every_s:
            return False
        self._last = now
        return True
