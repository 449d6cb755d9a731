"""All trend signals of a stream of events, in event time: the state one worker keeps. Pure.

Fed with observations (an item or category with its weight, a query, a shopper's intent shift),
it returns the signals that fire, as the ``pulse.trends`` messages of design §3:
``{kind, subject, score, window, ts, details}`` with kind ``trending_item``,
``trending_query``, ``trending_category``, ``peak_time`` or ``intent_shift``; and it answers
``summary(kind)`` for ``GET /trends``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from core.events import Search, UserEvent, chosen
from ranking.intent import IntentShift
from ranking.trending import DecayedCounter
from trends.bursts import Burst, BurstDetector
from trends.peaks import HOUR_MS, HourOfWeekProfile, hour_of_week, slot_name

KINDS = ("trending_item", "trending_query", "trending_category", "peak_time", "intent_shift")
ALL = "all"  # the subject of the shop-wide peak profile


@dataclass(frozen=True, slots=True)
class TrendConfig:
    window_ms: int = 60_000
    alpha: float = 0.1
    min_support: float = 10.0
    min_ratio: float = 3.0
    min_z: float = 4.0
    warmup_windows: int = 10
    grace_ms: int = 5_000
    peak_ratio: float = 1.5
    peak_min_events: float = 500.0
    peak_min_days: float = 7.0
    peak_half_life_days: float = 28.0
    max_category_profiles: int = 200
    shift_half_life_ms: float = 3_600_000.0
    recent_signals: int = 50


@dataclass
class Observations:
    """What one batch of events says about trends (weights as the profile's event weights)."""

    items: list[tuple[str, int, float]] = field(default_factory=list)  # item, ts, weight
    queries: list[tuple[str, int]] = field(default_factory=list)
    categories: list[tuple[str, int, float]] = field(default_factory=list)
    activity: list[tuple[str | None, int]] = field(default_factory=list)  # category, ts
    shifts: list[IntentShift] = field(default_factory=list)

    def add(self, event: UserEvent, category: str | None) -> None:
        """One valid event: every event is activity; clicks (not dismissals) and purchases
        count for their item and category, searches for their query (lower-cased, spaces
        collapsed)."""
        self.activity.append((category, event.ts_ms))
        if chosen(event):
            self.items.append((event.item_id, event.ts_ms, 1.0))
            if category:
                self.categories.append((category, event.ts_ms, 1.0))
        elif isinstance(event, Search):
            self.queries.append((" ".join(event.query.lower().split()), event.ts_ms))


class TrendTracker:
    def __init__(
        self,
        cfg: TrendConfig,
        tz: tzinfo,
        title_of: Callable[[str], str | None] = lambda _item: None,
    ) -> None:
        self.cfg = cfg
        self.tz = tz
        self.title_of = title_of
        self.detectors = {kind: self._detector() for kind in KINDS[:3]}
        self.profiles: dict[str, HourOfWeekProfile] = {ALL: self._profile()}
        self._hour: dict[str, int] = {}
        self.towards = DecayedCounter(cfg.shift_half_life_ms)
        self.latest_ts = 0
        self.recent: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}

    def _detector(self) -> BurstDetector:
        c = self.cfg
        return BurstDetector(
            c.window_ms,
            alpha=c.alpha,
            min_support=c.min_support,
            min_ratio=c.min_ratio,
            min_z=c.min_z,
            warmup_windows=c.warmup_windows,
            grace_ms=c.grace_ms,
        )

    def _profile(self) -> HourOfWeekProfile:
        c = self.cfg
        return HourOfWeekProfile(
            self.tz,
            half_life_days=c.peak_half_life_days,
            peak_ratio=c.peak_ratio,
            min_events=c.peak_min_events,
            min_days=c.peak_min_days,
        )

    def forget(self, user_id: str) -> None:
        """Drop the latest signals about the shopper (intent shifts name their shopper)."""
        shifts = self.recent["intent_shift"]
        shifts[:] = [s for s in shifts if s["subject"] != user_id]

    def observe(self, obs: Observations) -> list[dict[str, Any]]:
        """Update every statistic with a batch; the signals that fire, strongest bursts first."""
        items, queries, categories = (self.detectors[k] for k in KINDS[:3])
        for item, ts, weight in obs.items:
            items.add(item, ts, weight)
        for query, ts in obs.queries:
            queries.add(query, ts)
        for category, ts, weight in obs.categories:
            categories.add(category, ts, weight)
        if obs.activity:
            # Every event moves every detector's clock: a first search after a quiet hour of
            # clicks is measured against that hour, not against nothing.
            stamps = [ts for _, ts in obs.activity]
            for detector in self.detectors.values():
                detector.advance(min(stamps))  # where its first window is, if still unknown
                detector.advance(max(stamps))
        signals = [
            self._burst_signal(kind, burst)
            for kind in KINDS[:3]
            for burst in self.detectors[kind].bursts()
        ]
        signals += self._peaks(obs.activity)
        for shift in obs.shifts:
            if shift.to_category is not None:
                self.towards.add(shift.to_category, 1.0, shift.ts_ms)
            signals.append(_shift_signal(shift))
        for _, ts in obs.activity:
            self.latest_ts = max(self.latest_ts, ts)
        for signal in signals:
            kept = self.recent[signal["kind"]]
            kept.insert(0, signal)
            del kept[self.cfg.recent_signals :]
        return signals

    def _burst_signal(self, kind: str, burst: Burst) -> dict[str, Any]:
        details: dict[str, Any] = {
            "count": round(burst.count, 3),
            "baseline": round(burst.baseline, 3),
            "ratio": None if burst.ratio == float("inf") else round(burst.ratio, 3),
        }
        if kind == "trending_item":
            details["title"] = self.title_of(burst.key)
        return {
            "kind": kind,
            "subject": burst.key,
            "score": round(burst.z, 3),
            "window": {"start": burst.window_start_ms, "ms": self.cfg.window_ms},
            "ts": burst.window_start_ms,
            "details": details,
        }

    def _peaks(self, activity: list[tuple[str | None, int]]) -> list[dict[str, Any]]:
        touched: dict[str, int] = {}
        for category, ts in activity:
            for scope in (ALL, category):
                if scope is None:
                    continue
                profile = self.profiles.get(scope)
                if profile is None:
                    if len(self.profiles) > self.cfg.max_category_profiles:
                        continue
                    profile = self.profiles[scope] = self._profile()
                profile.add(ts)
                touched[scope] = max(touched.get(scope, ts), ts)
        out = []
        for scope, ts in sorted(touched.items()):
            hour = ts // HOUR_MS
            if self._hour.get(scope) == hour:
                continue
            self._hour[scope] = hour
            profile = self.profiles[scope]
            slot = hour_of_week(ts, self.tz)
            if slot in profile.peak_starts():
                out.append(self._peak_signal(scope, profile, slot, hour * HOUR_MS, ts))
        return out

    def _peak_signal(
        self, scope: str, profile: HourOfWeekProfile, slot: int, start_ms: int, ts: int
    ) -> dict[str, Any]:
        upcoming = profile.next_peak(ts)
        return {
            "kind": "peak_time",
            "subject": scope,
            "score": round(profile.strength(slot), 3),
            "window": {"start": start_ms, "ms": HOUR_MS},
            "ts": ts,
            "details": {
                "hour_of_week": slot_name(slot),
                "next_peak": upcoming[1].isoformat() if upcoming else None,
            },
        }

    def summary(self, kind: str, limit: int) -> dict[str, Any]:
        """What ``GET /trends?kind=`` shows: this tracker's latest signals (the worker shows every
        worker's, from Redis), and for peak times and intent shifts the learned picture (next
        peaks per profile; categories shoppers move towards)."""
        out: dict[str, Any] = {"kind": kind, "signals": self.recent[kind][:limit]}
        if kind == "peak_time":
            peaks = []
            for scope, profile in sorted(self.profiles.items()):
                upcoming = profile.next_peak(self.latest_ts) if self.latest_ts else None
                if upcoming is not None:
                    peaks.append(
                        {
                            "subject": scope,
                            "peak_hours": [slot_name(s) for s in profile.peak_starts()],
                            "next_peak": upcoming[1].isoformat(),
                        }
                    )
            peaks.sort(key=lambda p: (p["subject"] != ALL, p["next_peak"]))
            out["profiles"] = peaks[:limit]
        if kind == "intent_shift":
            out["towards"] = [
                {"category": c, "score": round(s, 3)}
                for c, s in self.towards.top(limit, self.latest_ts)
            ]
        return out


def _shift_signal(shift: IntentShift) -> dict[str, Any]:
    return {
        "kind": "intent_shift",
        "subject": shift.user_id,
        "score": shift.score,
        "window": None,
        "ts": shift.ts_ms,
        "details": {
            "from": shift.from_category,
            "to": shift.to_category,
            "trigger": shift.trigger,
            **({"item": shift.item} if shift.item is not None else {}),
        },
    }
