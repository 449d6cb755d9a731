"""When a shop is busy: an activity profile per hour of the week, learned online. Pure.

Each of the 168 hour-of-week slots (Monday 00:00 is slot 0, in the shop's time zone) holds an
exponentially decayed count of events in event time (forward decay, half-life
``half_life_days``), so the profile follows a shop whose habits change. A slot is a peak when
its rate is at least ``peak_ratio`` times the mean rate of the active slots (those with any
activity: a shop that is quiet at night is not "peaking" all day); a peak starts in a peak slot
whose previous slot is not one. The profile answers only once it has seen ``min_events``
events over at least ``min_days`` days.

>>> from datetime import datetime, timezone
>>> p = HourOfWeekProfile(timezone.utc, min_events=10, min_days=7)
>>> start = int(datetime(2024, 6, 3, tzinfo=timezone.utc).timestamp() * 1000)  # a Monday
>>> for day in range(14):                       # 1 event every hour, 10 more at 12:00-13:59
...     for hour in range(24):
...         for _ in range(11 if hour in (12, 13) else 1):
...             p.add(start + (day * 24 + hour) * HOUR_MS)
>>> sorted(p.peak_slots())[:3], p.peak_starts()[:2]
([12, 13, 36], [12, 36])
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import numpy as np

HOUR_MS = 3_600_000
SLOTS = 168
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_of_week(ts_ms: int, tz: tzinfo) -> int:
    t = datetime.fromtimestamp(ts_ms / 1000, tz)
    return t.weekday() * 24 + t.hour


def slot_name(slot: int) -> str:
    """``"Wed 14:00"``."""
    return f"{DAY_NAMES[slot // 24]} {slot % 24:02d}:00"


class HourOfWeekProfile:
    def __init__(
        self,
        tz: tzinfo,
        *,
        half_life_days: float = 28.0,
        peak_ratio: float = 1.5,
        min_events: float = 500.0,
        min_days: float = 7.0,
    ) -> None:
        self.tz = tz
        self.half_life_ms = half_life_days * 24 * HOUR_MS
        self.peak_ratio = peak_ratio
        self.min_events = min_events
        self.min_days = min_days
        self.scaled = np.zeros(SLOTS)  # forward-decayed: weight * 2 ** ((t - landmark) / h)
        self.landmark: int | None = None
        self.events = 0.0
        self.first_ms: int | None = None
        self.last_ms: int | None = None

    def add(self, ts_ms: int, weight: float = 1.0) -> None:
        if self.landmark is None:
            self.landmark = ts_ms
        exponent = (ts_ms - self.landmark) / self.half_life_ms
        if exponent > 60:  # rescale before the numbers grow too large
            self.scaled *= 2.0**-exponent
            self.landmark, exponent = ts_ms, 0.0
        self.scaled[hour_of_week(ts_ms, self.tz)] += weight * 2.0**exponent
        self.events += weight
        self.first_ms = ts_ms if self.first_ms is None else min(self.first_ms, ts_ms)
        self.last_ms = ts_ms if self.last_ms is None else max(self.last_ms, ts_ms)

    @property
    def ready(self) -> bool:
        if self.first_ms is None or self.last_ms is None:
            return False
        span_days = (self.last_ms - self.first_ms) / (24 * HOUR_MS)
        return self.events >= self.min_events and span_days >= self.min_days

    def rates(self) -> np.ndarray:
        """Share of activity per slot (sums to 1; zeros before any event)."""
        total = float(self.scaled.sum())
        return self.scaled / total if total > 0 else self.scaled.copy()

    def peak_slots(self) -> set[int]:
        if not self.ready:
            return set()
        rates = self.rates()
        return {int(s) for s in np.flatnonzero(rates >= self.peak_ratio * _active_mean(rates))}

    def peak_starts(self) -> list[int]:
        peaks = self.peak_slots()
        return sorted(s for s in peaks if (s - 1) % SLOTS not in peaks)

    def strength(self, slot: int) -> float:
        """The slot's rate over the mean rate of active slots (1 = an average open hour)."""
        rates = self.rates()
        mean = _active_mean(rates)
        return float(rates[slot]) / mean if mean > 0 else 0.0

    def next_peak(self, ts_ms: int) -> tuple[int, datetime] | None:
        """The next peak start strictly after the hour of ``ts_ms``: its slot and local time."""
        starts = self.peak_starts()
        if not starts:
            return None
        now = datetime.fromtimestamp(ts_ms / 1000, self.tz).replace(
            minute=0, second=0, microsecond=0
        )
        current = now.weekday() * 24 + now.hour
        ahead = min((s - current - 1) % SLOTS + 1 for s in starts)
        when = now + timedelta(hours=ahead)
        return (current + ahead) % SLOTS, when


def _active_mean(rates: np.ndarray) -> float:
    active = rates[rates > 0]
    return float(active.mean()) if active.size else 0.0
