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
ACTIVITY = "activity"  # an event, for the peak profiles
BURSTS = KINDS[:3]  # the kinds found by a burst detector


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
    # Every observation above with the id of its event, for routing them to their owners
    # (``trends.exchange``): (what, subject, ts, weight, event id), ``what`` one of the burst
    # kinds or ACTIVITY (subject: the category, or None).
    keyed: list[tuple[str, str | None, int, float, str]] = field(default_factory=list)

    def add(self, event: UserEvent, category: str | None) -> None:
        """One valid event: every event is activity; clicks (not dismissals) and purchases
        count for their item and category, searches for their query (lower-cased, spaces
        collapsed)."""
        ts, eid = event.ts_ms, event.event_id
        self.activity.append((category, ts))
        self.keyed.append((ACTIVITY, category, ts, 1.0, eid))
        if chosen(event):
            self.items.append((event.item_id, ts, 1.0))
            self.keyed.append(("trending_item", event.item_id, ts, 1.0, eid))
            if category:
                self.categories.append((category, ts, 1.0))
                self.keyed.append(("trending_category", category, ts, 1.0, eid))
        elif isinstance(event, Search):
            query = " ".join(event.query.lower().split())
            self.queries.append((query, ts))
            self.keyed.append(("trending_query", query, ts, 1.0, eid))


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
        self.profiles: dict[str, HourOfWeekProfile] = {ALL: self.new_profile()}
        self.announced: dict[str, int] = {}
        self.towards = DecayedCounter(cfg.shift_half_life_ms)
        self.latest_ts = 0
        # Profiles changed since a store last took them (``trends.snapshot``).
        self.touched_profiles: set[str] = set()
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

    def new_profile(self) -> HourOfWeekProfile:
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
        scoped = [(ALL, ts) for _, ts in obs.activity]
        scoped += [(category, ts) for category, ts in obs.activity if category is not None]
        stamps = [ts for _, ts in obs.activity]
        clock = (min(stamps), max(stamps)) if stamps else None
        signals = self.apply(obs.items, obs.queries, obs.categories, scoped, clock)
        signals += self.observe_shifts(obs.shifts)
        return signals

    def apply(
        self,
        items: list[tuple[str, int, float]],
        queries: list[tuple[str, int]],
        categories: list[tuple[str, int, float]],
        scoped: list[tuple[str, int]],
        clock: tuple[int, int] | None,
    ) -> list[dict[str, Any]]:
        """The burst and peak statistics of a batch: counts of items, queries and categories,
        ``scoped`` activity (profile, ts) and the batch's event-time span ``clock``, which moves
        every detector's clock; the signals that fire."""
        detector_of = self.detectors
        if clock is not None:
            # Every event moves every detector's clock: a first search after a quiet hour of
            # clicks is measured against that hour, not against nothing; the batch's first
            # event fixes where a new detector's first window is.
            for detector in detector_of.values():
                detector.advance(clock[0])
        for item, ts, weight in items:
            detector_of["trending_item"].add(item, ts, weight)
        for query, ts in queries:
            detector_of["trending_query"].add(query, ts)
        for category, ts, weight in categories:
            detector_of["trending_category"].add(category, ts, weight)
        if clock is not None:
            for detector in detector_of.values():
                detector.advance(clock[1])
            self.latest_ts = max(self.latest_ts, clock[1])
        signals = [
            self._burst_signal(kind, burst)
            for kind in BURSTS
            for burst in detector_of[kind].bursts()
        ]
        signals += self._peaks(scoped)
        self._keep(signals)
        return signals

    def observe_shifts(self, shifts: list[IntentShift]) -> list[dict[str, Any]]:
        """Shoppers' intent shifts, as signals (and the categories they move towards)."""
        signals = []
        for shift in shifts:
            if shift.to_category is not None:
                self.towards.add(shift.to_category, 1.0, shift.ts_ms)
                self.latest_ts = max(self.latest_ts, shift.ts_ms)
            signals.append(_shift_signal(shift))
        self._keep(signals)
        return signals

    def _keep(self, signals: list[dict[str, Any]]) -> None:
        for signal in signals:
            kept = self.recent[signal["kind"]]
            kept.insert(0, signal)
            del kept[self.cfg.recent_signals :]

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

    def _peaks(self, scoped: list[tuple[str, int]]) -> list[dict[str, Any]]:
        touched: dict[str, int] = {}
        for scope, ts in scoped:
            profile = self.profiles.get(scope)
            if profile is None:
                if len(self.profiles) > self.cfg.max_category_profiles:
                    continue
                profile = self.profiles[scope] = self.new_profile()
            profile.add(ts)
            touched[scope] = max(touched.get(scope, ts), ts)
        self.touched_profiles.update(touched)
        out = []
        for scope, ts in sorted(touched.items()):
            hour = ts // HOUR_MS
            if self.announced.get(scope) == hour:
                continue
            self.announced[scope] = hour
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
            out["profiles"] = describe_profiles(self.profiles, self.latest_ts, limit)
        if kind == "intent_shift":
            out["towards"] = [
                {"category": c, "score": round(s, 3)}
                for c, s in self.towards.top(limit, self.latest_ts)
            ]
        return out


def describe_profiles(
    profiles: dict[str, HourOfWeekProfile], latest_ts: int, limit: int
) -> list[dict[str, Any]]:
    """Peak profiles as ``GET /trends?kind=peak_time`` shows them (those with peaks, as of
    ``latest_ts``): the shop's first, then categories by their next peak."""
    peaks = []
    for scope, profile in sorted(profiles.items()):
        upcoming = profile.next_peak(latest_ts) if latest_ts else None
        if upcoming is not None:
            peaks.append(
                {
                    "subject": scope,
                    "peak_hours": [slot_name(s) for s in profile.peak_starts()],
                    "next_peak": upcoming[1].isoformat(),
                }
            )
    peaks.sort(key=lambda p: (p["subject"] != ALL, p["next_peak"]))
    return peaks[:limit]


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
