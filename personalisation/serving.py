"""What the HTTP API reads: a shopper's list with request-time filters, the list of a shopper
Pulse has not seen yet, and what Pulse holds about a shopper. Reads only; the worker turns
store errors into 503s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from personalisation.pipeline import Personaliser
from ranking.item_index import ItemIndex


@dataclass(frozen=True, slots=True)
class ListFilter:
    """Request-time rules of a list: items of ``category`` (that category or one below it,
    ``"Home > Kitchen"`` takes ``"Home > Kitchen > Mugs"``), none of ``exclude``, and with
    ``in_stock_only`` none out of stock (removed items are never served)."""

    category: str | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    in_stock_only: bool = True

    @property
    def narrows(self) -> bool:
        """Whether the filter can drop items a stored list holds beyond what is out of stock."""
        return self.category is not None or bool(self.exclude)

    def allows(self, index: ItemIndex) -> Callable[[str], bool]:
        def allowed(item_id: str) -> bool:
            info = index.info(item_id)
            if info is None or item_id in self.exclude:
                return False
            if self.in_stock_only and not index.available(item_id):
                return False
            return self.category is None or in_category(info.category, self.category)

        return allowed


def in_category(category: str | None, wanted: str) -> bool:
    """``category`` is ``wanted`` or lies below it in the path.

    >>> in_category("Home > Kitchen > Mugs", "Home > Kitchen"), in_category("Home", "Home > K")
    (True, False)
    """
    if category is None:
        return False
    parts = [p.strip().casefold() for p in category.split(">")]
    want = [p.strip().casefold() for p in wanted.split(">")]
    return parts[: len(want)] == want


def cold_start(
    personaliser: Personaliser,
    k: int,
    allowed: Callable[[str], bool] | None = None,
    now_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Trending items for a shopper Pulse knows nothing about yet."""
    at = now_ms if now_ms is not None else int(personaliser.clock() * 1000)
    allowed = allowed or personaliser.index.available
    out = []
    for item, score in personaliser.trending.top(k * 5, at):
        if allowed(item):
            out.append(
                {
                    "item_id": item,
                    "score": round(score, 6),
                    "source": "trending",
                    "reason": "trending now",
                }
            )
        if len(out) == k:
            break
    return out


async def recommendations(
    personaliser: Personaliser, user_id: str, k: int, rules: ListFilter
) -> dict[str, Any]:
    """The shopper's list: the stored one (the latest the stream made) with the filter applied
    at read time, so an item that went out of stock since is not served; with a filter that
    narrows it (category, exclusions), a fresh list ranked under the filter, so it is still
    ``k`` long where the shopper's candidates allow. Trending items for a shopper not seen."""
    allowed = rules.allows(personaliser.index)
    stored = await personaliser.stores.users.recommendations(user_id)
    if stored is None:
        return {
            "user_id": user_id,
            "items": cold_start(personaliser, k, allowed),
            "rec_id": None,
            "generated_at": None,
            "cold_start": True,
        }
    if rules.narrows or k > len(stored["items"]):
        now_ms = int(personaliser.clock() * 1000)
        fresh = await personaliser.recommend_for(user_id, now_ms, k, allowed)
        items = [
            {"item_id": r.item_id, "score": r.score, "source": r.source, "reason": r.reason}
            for r in fresh
        ]
        if len(items) < k:  # what the shopper's candidates lack, from what is trending
            taken = {i["item_id"] for i in items}
            more = cold_start(personaliser, k, lambda i: i not in taken and allowed(i))
            items += more[: k - len(items)]
        return {**stored, "items": items, "generated_at": now_ms, "cold_start": False}
    items = [i for i in stored["items"] if allowed(i["item_id"])]
    return {**stored, "items": items[:k], "cold_start": False}
