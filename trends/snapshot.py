"""A trend partition's state as stored fields, and back. Pure.

What a store writes after each batch is only what changed (``Delta``): the meta fields (each
detector's clock, closed-window count, late weight and flagged bursts; the peak hours announced;
the input offsets applied), the counts of open windows that moved, the baselines that moved
(all of them after a prune), the windows closed, and the peak profiles that took events.
Numbers are written as Python's shortest round-trip text, so a restored state is the same state,
to the bit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import orjson

from trends.owner import TrendPartition
from trends.peaks import HourOfWeekProfile
from trends.tracker import BURSTS, TrendTracker


@dataclass(slots=True)
class Delta:
    meta: dict[str, bytes] = field(default_factory=dict)
    baselines: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> key -> value
    rewrite: set[str] = field(default_factory=set)  # kinds whose baselines are written whole
    cells: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)  # (kind, window)
    closed: set[tuple[str, int]] = field(default_factory=set)
    profiles: dict[str, bytes] = field(default_factory=dict)  # scope -> profile


class Stored(Protocol):
    """What a store read back: the meta fields, and whole the baselines, the count tables of
    the open windows (those listed in the meta field ``open``) and the profiles."""

    meta: dict[str, bytes]
    baselines: dict[str, dict[str, str]]
    windows: dict[tuple[str, int], dict[str, str]]
    profiles: dict[str, bytes]


def changes(part: TrendPartition) -> Delta:
    """What changed in ``part`` since the last call, to be written."""
    tracker = part.tracker
    delta = Delta()
    for kind in BURSTS:
        d = tracker.detectors[kind]
        changed = d.take_changes()
        delta.meta[f"detector:{kind}"] = orjson.dumps(
            {
                "first_window": d.first_window,
                "watermark": d.watermark,
                "max_ts": d.max_ts,
                "closed": d.closed,
                "late": repr(d.late),
                "fired": sorted([w, k] for w, k in d.fired),
                "windows": sorted(d.windows),
            }
        )
        keys = set(d.baselines) if changed.pruned else changed.baselines & set(d.baselines)
        if changed.pruned:
            delta.rewrite.add(kind)
        delta.baselines[kind] = {k: _pair(*d.baselines[k]) for k in keys}
        for window, key in changed.cells:
            if window in d.windows:
                table = delta.cells.setdefault((kind, window), {})
                table[key] = repr(float(d.windows[window][key]))
        delta.closed |= {(kind, w) for w in changed.closed}
    delta.meta["open"] = orjson.dumps(
        [[kind, w] for kind in BURSTS for w in sorted(tracker.detectors[kind].windows)]
    )
    delta.meta["hours"] = orjson.dumps(tracker.announced)
    delta.meta["seen"] = orjson.dumps(part.seen)
    delta.meta["latest_ts"] = str(tracker.latest_ts).encode()
    for scope in tracker.touched_profiles:
        delta.profiles[scope] = dump_profile(tracker.profiles[scope])
    tracker.touched_profiles.clear()
    return delta


def restore(tracker: TrendTracker, stored: Stored) -> TrendPartition:
    """The partition ``stored`` describes, on a fresh ``tracker``."""
    meta = stored.meta
    for kind in BURSTS:
        raw = meta.get(f"detector:{kind}")
        if raw is None:
            continue
        d = tracker.detectors[kind]
        m = orjson.loads(raw)
        d.first_window, d.watermark, d.max_ts = m["first_window"], m["watermark"], m["max_ts"]
        d.closed, d.late = m["closed"], float(m["late"])
        d.fired = {(w, k) for w, k in m["fired"]}
        d.baselines = {k: _unpair(v) for k, v in stored.baselines.get(kind, {}).items()}
        d.windows = {
            w: Counter({k: float(v) for k, v in stored.windows.get((kind, w), {}).items()})
            for w in m["windows"]
        }
    if "hours" in meta:
        tracker.announced = {k: int(v) for k, v in orjson.loads(meta["hours"]).items()}
    if "latest_ts" in meta:
        tracker.latest_ts = int(meta["latest_ts"])
    for scope, raw in stored.profiles.items():
        load_profile(tracker.profiles.setdefault(scope, tracker.new_profile()), raw)
    seen = orjson.loads(meta["seen"]) if "seen" in meta else {}
    return TrendPartition(tracker, seen)


def dump_profile(p: HourOfWeekProfile) -> bytes:
    return orjson.dumps(
        {
            "scaled": [repr(float(x)) for x in p.scaled],
            "landmark": p.landmark,
            "events": repr(p.events),
            "first_ms": p.first_ms,
            "last_ms": p.last_ms,
        }
    )


def load_profile(p: HourOfWeekProfile, raw: bytes) -> None:
    m = orjson.loads(raw)
    p.scaled = np.array([float(x) for x in m["scaled"]])
    p.landmark, p.events = m["landmark"], float(m["events"])
    p.first_ms, p.last_ms = m["first_ms"], m["last_ms"]


def _pair(mean: float, last: int) -> str:
    return f"{mean!r} {last}"


def _unpair(value: str) -> tuple[float, int]:
    mean, last = value.split()
    return float(mean), int(last)
