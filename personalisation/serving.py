"""What the HTTP API reads: a shopper's list with request-time filters, the list of a shopper
Pulse has not seen yet, and what Pulse holds about a shopper. Reads only; the worker turns
store errors into 503s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from personalisation.messages import item_message
from personalisation.pipeline import Personaliser
from ranking.blend import BlendConfig, Proposal, Recommendation, apply_rules, blend
from ranking.item_index import ItemIndex
from ranking.recommend import recommend
from ranking.session_sources import covisit_sources
from ranking.sessions import answer


async def fresh_list(
    personaliser: Personaliser,
    user_id: str,
    now_ms: int,
    k: int,
    available: Callable[[str], bool] | None = None,
) -> list[Recommendation]:
    """A fresh list for one shopper at ``now_ms``, ranked as after an event, of the items
    ``available`` allows (by default: in the catalogue and in stock)."""
    p = personaliser
    state = (await p.stores.users.load([user_id]))[user_id]
    neighbours = await p.stores.covisit.neighbours(covisit_sources(state, p.ranking))
    sessions = answer(p.like({user_id: state})[user_id])
    return recommend(
        state,
        p.index,
        neighbours,
        p.trending.top(p.ranking.per_source, now_ms),
        replace(p.ranking_now(), k=k),
        now_ms,
        available=available,
        repeat_rates=await p.repeat_rates([state]),
        sessions=sessions,
        popular=p.popular.top,
    )


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
            rec = Recommendation(item, round(score, 6), "trending", "trending now")
            out.append(item_message(rec))
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
    return (await recommendations_many(personaliser, [user_id], k, rules))[0]


async def recommendations_many(
    personaliser: Personaliser, user_ids: list[str], k: int, rules: ListFilter
) -> list[dict[str, Any]]:
    """:func:`recommendations` of each shopper, in order; the stored lists in one round trip."""
    stored = await personaliser.stores.users.recommendations_many(user_ids)
    return [await _answer(personaliser, uid, stored.get(uid), k, rules) for uid in user_ids]


async def _answer(
    personaliser: Personaliser,
    user_id: str,
    stored: dict[str, Any] | None,
    k: int,
    rules: ListFilter,
) -> dict[str, Any]:
    allowed = rules.allows(personaliser.index)
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
        fresh = await fresh_list(personaliser, user_id, now_ms, k, allowed)
        items = [item_message(r) for r in fresh]
        if len(items) < k:  # what the shopper's candidates lack, from what is trending
            taken = {i["item_id"] for i in items}
            more = cold_start(personaliser, k, lambda i: i not in taken and allowed(i))
            items += more[: k - len(items)]
        return {**stored, "items": items, "generated_at": now_ms, "cold_start": False}
    items = [i for i in stored["items"] if allowed(i["item_id"])]
    return {**stored, "items": items[:k], "cold_start": False}


# Item to item: co-visits say most where shoppers have chosen the item; content neighbours
# speak for new items and are there for every item.
SIMILAR_WEIGHTS = BlendConfig(weights=(("covisit", 1.0), ("similar", 0.5)))


async def similar_items(personaliser: Personaliser, item_id: str, k: int) -> list[dict[str, Any]]:
    """Items like ``item_id``: its co-visit and content neighbours, blended, with reasons, of
    the available items. KeyError when the catalogue does not hold the item."""
    index = personaliser.index
    info, vector = index.info(item_id), index.vector(item_id)
    if info is None or vector is None:
        raise KeyError(item_id)
    title = info.title or item_id
    many = max(k, personaliser.ranking.per_source)
    rows = await personaliser.stores.covisit.neighbours([item_id], n=many)
    sources = {
        "covisit": [
            Proposal(i, w, f"often chosen with {title}")
            for i, w in rows.get(item_id, [])
            if i != item_id
        ],
        "similar": [
            Proposal(i, s, f"similar to {title}")
            for i, s in index.search(vector, many, exclude={item_id})
        ],
    }
    ranked = blend(sources, SIMILAR_WEIGHTS)
    kept = apply_rules(ranked, available=index.available, purchased=set(), cfg=SIMILAR_WEIGHTS, k=k)
    return [item_message(r) for r in kept]
