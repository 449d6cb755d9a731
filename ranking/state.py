"""A shopper's interest state: what Pulse knows of one shopper. Pure data, no I/O.

Its compact binary form in Redis is ``feature_store.state_codec``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from ranking.interest import DecayedVector

MAX_RECENT = 20
MAX_PURCHASES = 100
MAX_SEEN = 32
MAX_CATEGORIES = 12


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

    @classmethod
    def new(cls, dim: int) -> UserState:
        return cls(DecayedVector.empty(dim), DecayedVector.empty(dim))

    def has_seen(self, event_id: str) -> bool:
        return event_hash(event_id) in self.seen

    def mark_seen(self, event_id: str) -> UserState:
        seen = (*self.seen, event_hash(event_id))[-MAX_SEEN:]
        return replace(self, seen=seen, events=self.events + 1)
