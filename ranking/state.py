"""A shopper's interest state: what Pulse knows of one shopper. Pure data, no I/O.

Its compact binary form in Redis is ``feature_store.state_codec``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from ranking.intent import drift
from ranking.interest import DecayedVector

MAX_RECENT = 20
MAX_PURCHASES = 100
MAX_SEEN = 32
MAX_CATEGORIES = 12
MAX_DISMISSED = 20


def event_hash(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True, slots=True)
class UserState:
    short: DecayedVector
    long: DecayedVector
    recent: tuple[tuple[str, int], ...] = ()  # (item_id, ts_ms), oldest first
    categories: dict[str, float] = field(default_factory=dict)  # decayed with the long half-life
    categories_ref_ms: int = 0
    # item -> (purchase occasions decayed with the long half-life to the last one, last ts)
    purchases: dict[str, tuple[float, int]] = field(default_factory=dict)
    seen: tuple[int, ...] = ()  # hashes of the latest event ids, oldest first
    last_query: tuple[str, int] | None = None
    events: int = 0
    # The last session category seen (ranking.intent): a new one is an intent shift.
    intent: str | None = None
    # Short-term interest far from the long-term one (ranking.intent, items without category).
    drifted: bool = False
    # Items the shopper dismissed, (item_id, ts_ms), oldest first: kept off their lists, and
    # their near neighbours pushed down (ranking.recommend).
    dismissed: tuple[tuple[str, int], ...] = ()

    @classmethod
    def new(cls, dim: int) -> UserState:
        return cls(DecayedVector.empty(dim), DecayedVector.empty(dim))

    def has_seen(self, event_id: str) -> bool:
        return event_hash(event_id) in self.seen

    def mark_seen(self, event_id: str) -> UserState:
        seen = (*self.seen, event_hash(event_id))[-MAX_SEEN:]
        return replace(self, seen=seen, events=self.events + 1)


def differences(
    a: UserState, b: UserState, tol: float = 1e-5, vector_steps: float = 1.0
) -> list[str]:
    """What differs between two states beyond rounding (empty when they agree).

    The codec rounds at every write, so states written after differently cut batches agree to
    rounding, not exactly: vectors to ``vector_steps`` steps of the int8 codec (a step is 1/127
    of their largest component) or ``tol``; decayed weights to ``tol``; category affinities and
    purchase counts (stored to 1e-4) to 1e-3. Event ids are compared as a set; ``drifted``
    only outside the drift's hysteresis band (0.4 to 0.5), where it keeps what it was.
    """
    out = []
    for name in ("short", "long"):
        x, y = getattr(a, name), getattr(b, name)
        peak = float(max(np.max(np.abs(x.total), initial=0), np.max(np.abs(y.total), initial=0)))
        step = max(tol, vector_steps * 1.001 * peak / 127)
        if not np.allclose(x.total, y.total, rtol=0, atol=step) or abs(x.weight - y.weight) > tol:
            out.append(f"{name}-term interest")
        if x.ref_ms != y.ref_ms:
            out.append(f"{name}-term reference time")
    if a.recent != b.recent:
        out.append("recent items")
    if a.categories.keys() != b.categories.keys() or a.categories_ref_ms != b.categories_ref_ms:
        out.append("categories")
    elif any(abs(a.categories[c] - b.categories[c]) > tol + 1e-3 for c in a.categories):
        out.append("category affinities")
    if a.purchases.keys() != b.purchases.keys() or any(
        abs(count - b.purchases[i][0]) > 1e-3 or last != b.purchases[i][1]
        for i, (count, last) in a.purchases.items()
    ):
        out.append("purchases")
    if set(a.seen) != set(b.seen) or a.events != b.events:
        out.append("events seen")
    for name in ("last_query", "intent", "dismissed"):
        if getattr(a, name) != getattr(b, name):
            out.append(name)
    # Inside the hysteresis band ``drifted`` keeps what it was: it may follow the order there.
    band = [drift(s.short.total, s.long.total) for s in (a, b)]
    if a.drifted != b.drifted and not all(0.4 <= d < 0.5 for d in band):
        out.append("drifted")
    return out
