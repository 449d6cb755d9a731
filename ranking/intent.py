"""Which shoppers just changed what they are after. Pure.

A shopper's session category is the category holding the largest share of their recent items,
each item weighted by its recency (decayed with the short-term half-life); it counts once it
holds at least ``min_share`` of that weight over at least ``min_items`` items. The state keeps
the latest session category (``UserState.intent``, see :func:`intent_of`): when another one
takes its place, that is an intent shift from the old category to the new. Its score is the
drift: how far the shopper's short-term interest has moved from their long-term one, 1 - cosine
of the two vectors (0 when either is empty).

For items without a category the drift itself is the trigger: a shift when it rises to
``drift_threshold``, named by the shopper's strongest long-term category (if any) and the item
that took them there. The state says whether the shopper is drifted (``UserState.drifted``):
from the threshold up, until the drift falls below ``drift_threshold - drift_hysteresis``, so
one move away is one signal.

``intent`` is a function of the recent items, never of the order events arrived in; ``drifted``
too, except while the drift is inside the hysteresis band, where it keeps what it was.

>>> recent = (("c1", 0), ("c2", 1000), ("k1", 2000), ("k2", 3000), ("x", 4000))
>>> category = {"c1": "Candles", "c2": "Candles", "k1": "Kitchen", "k2": "Kitchen"}.get
>>> session_category(recent[:2], category, 2000, IntentConfig())
'Candles'
>>> session_category(recent, category, 4000, IntentConfig()) is None   # no majority
True
>>> session_category(recent[2:4], category, 4000, IntentConfig())
'Kitchen'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ranking.interest import decay, dot, norm

CategoryOf = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class IntentConfig:
    half_life_ms: float = 30 * 60 * 1000.0
    min_share: float = 0.5
    min_items: int = 2
    drift_threshold: float = 0.5
    drift_hysteresis: float = 0.1


@dataclass(frozen=True, slots=True)
class IntentShift:
    user_id: str
    from_category: str | None
    to_category: str | None
    score: float
    ts_ms: int
    trigger: str = "category"  # or "drift" (items without a category)
    item: str | None = None  # for a drift: the title of the item that moved the shopper


def session_category(
    recent: Sequence[tuple[str, int]], category_of: CategoryOf, now_ms: int, cfg: IntentConfig
) -> str | None:
    weights: dict[str, float] = {}
    items: dict[str, int] = {}
    total = 0.0
    for item, ts in recent:
        w = decay(max(0, now_ms - ts), cfg.half_life_ms)
        total += w
        category = category_of(item)
        if category:
            weights[category] = weights.get(category, 0.0) + w
            items[category] = items.get(category, 0) + 1
    if not weights or total <= 0:
        return None
    best = max(sorted(weights), key=weights.__getitem__)
    if weights[best] < cfg.min_share * total or items[best] < cfg.min_items:
        return None
    return best


def drift(short: np.ndarray, long: np.ndarray) -> float:
    """1 - cosine(short, long); 0 when either vector is empty."""
    ns, nl = norm(short), norm(long)
    if ns == 0 or nl == 0:
        return 0.0
    return round(1.0 - dot(short, long) / (ns * nl), 6)


def intent_of(
    recent: Sequence[tuple[str, int]], category_of: CategoryOf, cfg: IntentConfig
) -> str | None:
    """The latest session category of ``recent`` (items with times, oldest first): the session
    category as of the newest item time that has one, looking back item by item.

    >>> category = {"c1": "Candles", "c2": "Candles", "k1": "Kitchen"}.get
    >>> intent_of((("c1", 0), ("c2", 1000), ("k1", 2000)), category, IntentConfig())
    'Candles'
    """
    categories = [category_of(item) for item, _ in recent]
    counts: dict[str, int] = {}
    for category in categories:
        if category:
            counts[category] = counts.get(category, 0) + 1
    if not counts or max(counts.values()) < cfg.min_items:
        return None  # no category has enough items to ever be the session's
    known = dict(zip((item for item, _ in recent), categories, strict=True))
    for at in sorted({ts for _, ts in recent}, reverse=True):
        now = session_category([r for r in recent if r[1] <= at], known.get, at, cfg)
        if now is not None:
            return now
    return None


def intent_shift(
    user_id: str, before: str | None, after: str | None, score: float, ts_ms: int
) -> IntentShift | None:
    """The shift to announce when the intent goes from ``before`` to ``after``."""
    if before is None or after is None or before == after:
        return None  # a first session category is not a change
    return IntentShift(user_id, before, after, score, ts_ms)


def drift_shift(
    user_id: str,
    was_drifted: bool,
    score: float,
    ts_ms: int,
    cfg: IntentConfig,
    from_category: str | None,
    item: str | None,
) -> tuple[bool, IntentShift | None]:
    """Whether the shopper is drifted now, and the shift to announce (on the way up only).

    Drifted from the threshold up, not drifted below ``threshold - hysteresis``; in between,
    as before (so a drift hovering at the threshold is one shift, not many).
    """
    if score >= cfg.drift_threshold:
        drifted = True
    elif score < cfg.drift_threshold - cfg.drift_hysteresis:
        drifted = False
    else:
        drifted = was_drifted
    if drifted and not was_drifted:
        return True, IntentShift(user_id, from_category, None, score, ts_ms, "drift", item)
    return drifted, None
