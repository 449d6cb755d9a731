"""What is taking off: windowed counts in event time against each key's own baseline. Pure.

Event time is cut into tumbling windows of ``window_ms``. A key's baseline is the exponentially
weighted mean of its counts per closed window (``alpha``; a window without the key counts as zero;
normalised by the weight of the windows seen, so it is unbiased from the first window). In the
window being filled, a key is trending once its count reaches ``min_support``, is at least
``min_ratio`` times its baseline, and its Poisson z-score ``(count - baseline) / sqrt(baseline +
1)`` reaches ``min_z``: a steady best-seller stays near its baseline and never trends, a sudden
burst does, and is flagged as the window fills (once per key and window). Nothing trends before
``warmup_windows`` windows have closed. A window closes when the latest event time is ``grace_ms``
past its end; later events for it are counted as late and left out.

>>> d = BurstDetector(window_ms=1000, min_support=3, min_z=2, warmup_windows=2)
>>> for second in range(5):                      # a steady key: 2 per window
...     d.add("steady", second * 1000); d.add("steady", second * 1000 + 500)
>>> d.add("burst", 5000); d.add("burst", 5100); d.add("steady", 5200)
>>> [b.key for b in d.bursts()]                  # 2 of "burst" is below min_support
[]
>>> d.add("burst", 5300)
>>> [(b.key, b.count) for b in d.bursts()], d.bursts()   # flagged once in its window
([('burst', 3.0)], [])
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Burst:
    key: str
    count: float
    baseline: float
    z: float
    ratio: float
    window_start_ms: int


class BurstDetector:
    def __init__(
        self,
        window_ms: int,
        *,
        alpha: float = 0.1,
        min_support: float = 10.0,
        min_ratio: float = 3.0,
        min_z: float = 4.0,
        warmup_windows: int = 10,
        grace_ms: int = 0,
        max_keys: int = 100_000,
    ) -> None:
        self.window_ms = window_ms
        self.alpha = alpha
        self.min_support = min_support
        self.min_ratio = min_ratio
        self.min_z = min_z
        self.warmup_windows = warmup_windows
        self.grace_ms = grace_ms
        self.max_keys = max_keys
        self.windows: dict[int, Counter[str]] = {}  # open windows by index
        self.baselines: dict[str, tuple[float, int]] = {}  # key -> (mean, last window updated)
        self.closed = 0  # windows closed so far
        self.first_window: int | None = None
        self.watermark = -1  # index of the newest window seen
        self.max_ts = -1
        self.late = 0.0
        self._touched: set[str] = set()
        self.fired: set[tuple[int, str]] = set()
        # What changed since ``take_changes`` (for a store that keeps the detector's state).
        self._changed = Changes()

    def add(self, key: str, ts_ms: int, weight: float = 1.0) -> None:
        window = ts_ms // self.window_ms
        self.advance(ts_ms)
        if window not in self.windows:
            if self.is_closed(window):
                self.late += weight
                return
            self.windows[window] = Counter()
        self.windows[window][key] += weight  # type: ignore[assignment]
        self._changed.cells.add((window, key))
        if window == self.watermark:
            self._touched.add(key)

    def advance(self, ts_ms: int) -> None:
        """Event time has reached ``ts_ms`` (also when no key of this detector was seen):
        windows it closes count towards the warm-up, as windows with zero of every key."""
        window = ts_ms // self.window_ms
        if self.first_window is None:
            self.first_window = window
        if ts_ms > self.max_ts:
            self.max_ts = ts_ms
            self.watermark = max(self.watermark, window)
            self._close_until(ts_ms)

    def baseline(self, key: str, window: int | None = None) -> float:
        """The key's expected count per window, as of ``window`` (default: the newest): the
        weighted mean over the windows closed before it, the weights normalised to sum to 1.
        Windows still open (within the grace) are not counted, not even as zeros."""
        mean, last = self.baselines.get(key, (0.0, 0))
        if self.first_window is None or mean == 0:
            return 0.0
        at = self.watermark if window is None else window
        newest = min(at - 1, self.first_window + self.closed - 1)  # the newest closed window
        history = newest - self.first_window + 1
        if history <= 0:
            return 0.0
        return mean * (1 - self.alpha) ** max(0, newest - last) / (1 - (1 - self.alpha) ** history)

    def bursts(self) -> list[Burst]:
        """Keys trending in the newest window that were not reported for it before."""
        touched, self._touched = self._touched, set()
        if self.closed < self.warmup_windows or self.watermark not in self.windows:
            return []
        counts = self.windows[self.watermark]
        out = []
        for key in sorted(touched):
            if (self.watermark, key) in self.fired:
                continue
            burst = self.score(key, counts[key], self.watermark)
            if burst is not None:
                self.fired.add((self.watermark, key))
                out.append(burst)
        return sorted(out, key=lambda b: -b.z)

    def score(self, key: str, count: float, window: int) -> Burst | None:
        """The burst of ``key`` if ``count`` in ``window`` passes every test, else None."""
        if count < self.min_support:
            return None
        base = self.baseline(key, window)
        ratio = count / base if base > 0 else math.inf
        z = (count - base) / math.sqrt(base + 1.0)
        if ratio < self.min_ratio or z < self.min_z:
            return None
        return Burst(key, count, base, z, ratio, window * self.window_ms)

    def is_closed(self, window: int) -> bool:
        return (window + 1) * self.window_ms + self.grace_ms <= self.max_ts

    def _close_until(self, ts_ms: int) -> None:
        for window in sorted(self.windows):
            if not self.is_closed(window):
                break
            self._close(window)
        newest_closable = (ts_ms - self.grace_ms) // self.window_ms - 1
        # Windows without any event close too: they are zeros for every key.
        start = self.first_window if self.first_window is not None else newest_closable
        self.closed = max(self.closed, newest_closable - start + 1)

    def _close(self, window: int) -> None:
        counts = self.windows.pop(window)
        a = self.alpha
        for key, count in counts.items():
            mean, last = self.baselines.get(key, (0.0, window))
            mean *= (1 - a) ** max(0, window - 1 - last)
            self.baselines[key] = ((1 - a) * mean + a * count, window)
        self.fired = {f for f in self.fired if f[0] > window}
        changed = self._changed
        changed.baselines.update(counts)
        changed.closed.add(window)
        changed.cells = {c for c in changed.cells if c[0] != window}
        if len(self.baselines) > 2 * self.max_keys:
            keep = sorted(self.baselines.items(), key=lambda kv: -kv[1][0])[: self.max_keys]
            self.baselines = dict(keep)
            changed.pruned = True

    def take_changes(self) -> Changes:
        """What changed since the last call: the window counts and baselines to store again."""
        changed, self._changed = self._changed, Changes()
        return changed


@dataclass(slots=True)
class Changes:
    """Which parts of a detector's state changed: (window, key) counts of open windows, keys
    whose baseline moved, windows closed (their counts gone), and whether baselines were pruned
    (then every baseline is stored again)."""

    cells: set[tuple[int, str]] = field(default_factory=set)
    baselines: set[str] = field(default_factory=set)
    closed: set[int] = field(default_factory=set)
    pruned: bool = False
