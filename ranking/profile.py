"""How one event changes a shopper's state. Pure: vectors come in, a new state goes out.

Weights by event type (design §4): view < click < add_to_cart < purchase; searches move the
short-term vector towards the query; reviews move both vectors towards (or, for low ratings,
away from) the review text, signed by rating.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.events import Click, Purchase, Review, Search, UserEvent
from ranking.interest import Vector, decay
from ranking.state import MAX_CATEGORIES, MAX_DISMISSED, MAX_PURCHASES, MAX_RECENT, UserState


@dataclass(frozen=True, slots=True)
class ProfileConfig:
    short_half_life_ms: float = 30 * 60 * 1000.0
    long_half_life_ms: float = 30 * 24 * 3600 * 1000.0
    # Purchase history fades slowly: in retail, what a shopper bought months ago is often
    # bought again (tuned on Online Retail before 2011-10-01, bench/quality_bench.py).
    purchase_half_life_ms: float = 180 * 24 * 3600 * 1000.0
    # A gap longer than this between two of a shopper's events starts a new session.
    session_gap_ms: float = 30 * 60 * 1000.0
    weights: tuple[tuple[str, float], ...] = (
        ("view", 0.5),
        ("click", 1.0),
        ("add_to_cart", 2.0),
        ("purchase", 3.0),
        ("search", 1.5),
        ("review", 1.5),
        # A dismissal moves the short-term interest away from the item, never towards it.
        ("dismiss", 0.5),
    )

    def weight(self, kind: str) -> float:
        return dict(self.weights)[kind]


def review_sign(rating: int) -> float:
    """5 -> +1, 4 -> +0.5, 3 -> 0, 2 -> -0.5, 1 -> -1."""
    return (rating - 3) / 2.0


def _kind(event: UserEvent) -> str:
    if isinstance(event, Click):
        return event.action
    if isinstance(event, Purchase):
        return "purchase"
    if isinstance(event, Search):
        return "search"
    return "review"


def apply(
    state: UserState,
    event: UserEvent,
    cfg: ProfileConfig,
    item_vector: Vector | None = None,
    text_vector: Vector | None = None,
    category: str | None = None,
) -> UserState:
    """The state after ``event``; unchanged when the event id was seen already.

    ``item_vector`` is the vector of the event's item (when known to the catalogue),
    ``text_vector`` that of the search query or review text, ``category`` the item's category.
    """
    if state.has_seen(event.event_id):
        return state
    if isinstance(event, Click) and event.action == "dismiss":
        return _dismiss(state, event, cfg, item_vector).mark_seen(event.event_id)
    kind = _kind(event)
    weight = cfg.weight(kind)
    ts = event.ts_ms
    short, long = state.short, state.long
    vector: Vector | None = item_vector
    if isinstance(event, Search):
        vector = text_vector
    elif isinstance(event, Review):
        sign = review_sign(event.rating)
        parts = [v for v in (text_vector, item_vector) if v is not None]
        vector = (sign * np.mean(parts, axis=0)).astype(np.float32) if parts and sign else None
    if vector is not None:
        short = short.add(vector, weight, ts, cfg.short_half_life_ms)
        if not isinstance(event, Search):
            long = long.add(vector, weight, ts, cfg.long_half_life_ms)
    recent, purchases = state.recent, state.purchases
    categories, cat_ref = state.categories, state.categories_ref_ms
    last_query = state.last_query
    item_id = getattr(event, "item_id", None)
    if item_id is not None and not isinstance(event, Review):
        recent = _touch(recent, item_id, ts, MAX_RECENT)
    if isinstance(event, Purchase):
        purchases = dict(purchases)
        purchases[event.item_id] = _add_purchase(
            purchases.get(event.item_id), ts, cfg.purchase_half_life_ms
        )
        if len(purchases) > MAX_PURCHASES:
            # Forget the purchase that matters least now: the lowest decayed count.
            weakest = min(
                purchases,
                key=lambda k: (
                    purchases[k][0] * decay(ts - purchases[k][1], cfg.purchase_half_life_ms)
                    if ts > purchases[k][1]
                    else purchases[k][0]
                ),
            )
            del purchases[weakest]
    if isinstance(event, Search) and (
        last_query is None or (ts, event.query) > (last_query[1], last_query[0])
    ):
        last_query = (event.query, ts)
    if category and not isinstance(event, Search):
        categories, cat_ref = _add_category(
            categories, cat_ref, category, weight, ts, cfg.long_half_life_ms
        )
    new = replace(
        state,
        short=short,
        long=long,
        recent=recent,
        purchases=purchases,
        categories=categories,
        categories_ref_ms=cat_ref,
        last_query=last_query,
    )
    return new.mark_seen(event.event_id)


def _dismiss(
    state: UserState, event: Click, cfg: ProfileConfig, item_vector: Vector | None
) -> UserState:
    """Negative feedback: the item joins the dismissed ones (the latest time kept, whatever
    the order events arrive in) and the short-term interest moves away from it; it is not a
    recent item, a category affinity or a long-term interest."""
    dismissed = _touch(state.dismissed, event.item_id, event.ts_ms, MAX_DISMISSED)
    short = state.short
    if item_vector is not None:
        away = (-np.asarray(item_vector)).astype(np.float32)
        short = short.add(away, cfg.weight("dismiss"), event.ts_ms, cfg.short_half_life_ms)
    return replace(state, dismissed=dismissed, short=short)


def _touch(
    records: tuple[tuple[str, int], ...], item_id: str, ts: int, keep: int
) -> tuple[tuple[str, int], ...]:
    """``(item, ts)`` records, oldest first, with ``item_id`` touched at ``ts``: an item touched
    again keeps its latest time, whichever event arrives first, and ties are ordered by item
    id, so the records never depend on the order events arrive in; the latest ``keep``."""
    at = max([ts, *(t for i, t in records if i == item_id)])
    touched = [*(r for r in records if r[0] != item_id), (item_id, at)]
    return tuple(sorted(touched, key=_time_then_id))[-keep:]


def _time_then_id(record: tuple[str, int]) -> tuple[int, str]:
    return record[1], record[0]


def _add_purchase(
    current: tuple[float, int] | None, ts: int, half_life_ms: float
) -> tuple[float, int]:
    """A decayed count of purchase occasions at the latest purchase time (order-independent)."""
    if current is None:
        return (1.0, ts)
    count, last = current
    if ts >= last:
        return (round(count * decay(ts - last, half_life_ms) + 1.0, 4), ts)
    return (round(count + decay(last - ts, half_life_ms), 4), last)


def _add_category(
    scores: dict[str, float],
    ref_ms: int,
    category: str,
    weight: float,
    ts: int,
    half_life_ms: float,
) -> tuple[dict[str, float], int]:
    if ts >= ref_ms:
        f = decay(ts - ref_ms, half_life_ms) if scores else 1.0
        out = {k: v * f for k, v in scores.items()}
        out[category] = out.get(category, 0.0) + weight
        ref = ts
    else:
        out = dict(scores)
        out[category] = out.get(category, 0.0) + weight * decay(ref_ms - ts, half_life_ms)
        ref = ref_ms
    if len(out) > MAX_CATEGORIES:
        for key in sorted(out, key=out.__getitem__)[: len(out) - MAX_CATEGORIES]:
            del out[key]
    return out, ref


def top_category(state: UserState) -> str | None:
    return max(state.categories, key=state.categories.__getitem__) if state.categories else None
