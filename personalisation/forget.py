"""Forgetting a shopper: what a worker keeps of the deletions, and what it erases.

A deletion (``core.forget.Forget``) reaches every worker through the forget topic. Each keeps
the deleted shoppers with the deletion time (:class:`Forgotten`) and drops their events that
happened at or before it: events still in the input topics, or in a batch in flight, cannot
bring the shopper back; events after it start a new profile. :func:`erase` deletes what the
stores hold about the shopper; aggregates that name no one (co-visit weights, trending counts,
repeat rates, exploration counts) stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.events import UserEvent
from feature_store.stores import Stores
from ranking.state import UserState


class Forgotten:
    """Deleted shoppers -> when they were deleted (epoch ms), for ``keep_ms`` after the latest
    deletion (the forget topic keeps them as long: events older than that are gone from the
    input topics too)."""

    def __init__(self, keep_ms: float = 7 * 86_400_000) -> None:
        self.at: dict[str, int] = {}
        self.keep_ms = keep_ms
        self._pruned_at = 0

    def __bool__(self) -> bool:
        return bool(self.at)

    def add(self, user_id: str, at_ms: int) -> None:
        self.at[user_id] = max(at_ms, self.at.get(user_id, at_ms))
        if len(self.at) >= 2 * max(self._pruned_at, 1024):  # amortised: now and then
            horizon = max(self.at.values()) - self.keep_ms
            self.at = {u: t for u, t in self.at.items() if t >= horizon}
            self._pruned_at = len(self.at)

    def kept(self, events: Sequence[UserEvent]) -> list[UserEvent]:
        """The events that happened after their shopper's deletion (all, for the others)."""
        at = self.at
        return [e for e in events if e.ts_ms > at.get(e.user_id, -1)]


async def erase(stores: Stores, *user_ids: str) -> None:
    """Delete the shoppers' keys and the kept signals about them (one round trip each)."""
    await stores.users.erase(user_ids)
    if stores.signals is not None:
        await stores.signals.scrub(set(user_ids))


async def stored_about(stores: Stores, user_id: str) -> dict[str, Any]:
    """What the stores hold about the shopper (a data access request), as JSON."""
    state, listed = await stores.users.stored(user_id)
    signals = await stores.signals.naming(user_id) if stores.signals is not None else []
    return {
        "state": None if state is None else describe_state(state),
        "recommendations": listed,
        "signals": signals,
    }


def describe_state(state: UserState) -> dict[str, Any]:
    """A shopper's state in words and numbers (the interest vectors by their weights)."""
    return {
        "events": state.events,
        "recent_items": [{"item_id": i, "ts": ts} for i, ts in state.recent],
        "categories": {c: round(w, 4) for c, w in state.categories.items()},
        "purchases": [
            {"item_id": i, "occasions": round(n, 4), "last_ts": ts}
            for i, (n, ts) in state.purchases.items()
        ],
        "last_query": None
        if state.last_query is None
        else {"query": state.last_query[0], "ts": state.last_query[1]},
        "intent": state.intent,
        "dismissed_items": [{"item_id": i, "ts": ts} for i, ts in state.dismissed],
        "short_term_interest_weight": round(state.short.weight, 4),
        "long_term_interest_weight": round(state.long.weight, 4),
        "event_ids_remembered": len(state.seen),
    }
