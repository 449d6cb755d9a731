"""What a batch reads: before it is folded, states, text vectors, shared counts and clicked
lists; while it is folded, the co-visits and repeat rates its ranking needs (``Context``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.events import Click, Purchase, Review, Search, UserEvent, chosen
from encoders.pooling import Floats
from encoders.protocol import TextEncoder, encode_each
from feature_store.stores import ShopperStore, Stores
from ranking.recommend_config import RecommendConfig
from ranking.session_sources import covisit_sources
from ranking.state import UserState

Neighbours = dict[str, list[tuple[str, float]]]


@dataclass(slots=True)
class Reads:
    """What the batch read before folding."""

    states: dict[str, UserState]
    queries: dict[str, Floats]
    reviews: dict[str, Floats]
    # the shared exploration counts (impressions, clicks), when due for a refresh
    totals: tuple[dict[str, float], dict[str, float]] | None
    # (arm, source) of every clicked item that came from one of our lists
    credited: list[tuple[str, str]]
    # texts the encoder refused, with its error
    unencoded: dict[str, Exception]
    # seconds spent encoding the batch's texts (None: it had none)
    encode_s: float | None = None


async def read(stores: Stores, encoder: TextEncoder, events: Sequence[UserEvent]) -> Reads:
    """Everything the batch needs before it is folded: one round of reads."""
    states = await stores.users.load({e.user_id for e in events})
    totals = await stores.bandit.due_totals() if stores.bandit is not None else None
    credited = await clicked_sources(stores.users, events)
    start = time.perf_counter()
    queries, reviews, unencoded = await texts(encoder, events)
    took = time.perf_counter() - start if queries or reviews or unencoded else None
    return Reads(states, queries, reviews, totals, credited, unencoded, took)


async def clicked_sources(
    users: ShopperStore, events: Sequence[UserEvent]
) -> list[tuple[str, str]]:
    """``(arm, source)`` of every clicked item that came from one of our lists (a dismissal
    is no click)."""
    clicks = [e for e in events if chosen(e) and isinstance(e, Click) and e.rec_id]
    if not clicks:
        return []
    lists = await users.recommendations_many({c.user_id for c in clicks})
    credited = []
    for click in clicks:
        stored = lists.get(click.user_id)
        if not stored or stored.get("rec_id") != click.rec_id:
            continue
        item = next((i for i in stored["items"] if i["item_id"] == click.item_id), None)
        if item is not None:
            credited.append((item.get("arm") or item["source"], item["source"]))
    return credited


async def texts(
    encoder: TextEncoder, events: Sequence[UserEvent]
) -> tuple[dict[str, Floats], dict[str, Floats], dict[str, Exception]]:
    """Vectors of the batch's queries and review texts; texts of only blanks have none.

    A text the encoder refuses is returned with its error instead, for its events alone.
    """
    queries = sorted({e.query for e in events if isinstance(e, Search) and e.query.strip()})
    reviews = sorted({e.text for e in events if isinstance(e, Review) and e.text.strip()})
    (q, bad_queries), (r, bad_reviews) = await asyncio.gather(
        # Looked up only when there is text to encode (a batch of clicks needs no encoder).
        encode_each(lambda t: encoder.encode_query(t), {t: t for t in queries}),
        encode_each(lambda t: encoder.encode_text(t), {t: t for t in reviews}),
    )
    unencoded = {**bad_queries, **bad_reviews}
    return q, r, unencoded


def text_of(event: UserEvent) -> str | None:
    """The text of a search or review, the one the encoder is asked for."""
    if isinstance(event, Search):
        return event.query
    if isinstance(event, Review):
        return event.text
    return None


@dataclass(slots=True)
class Context:
    """Co-visit neighbours of ``items`` and repeat rates of ``purchased``: read while the batch
    is folded, for every item the folded states can need (``Context.wanted``)."""

    items: set[str]
    purchased: set[str]
    neighbours: Neighbours
    rates: dict[str, float] | None

    @staticmethod
    def wanted(
        states: dict[str, UserState], events: Sequence[UserEvent], cfg: RecommendConfig
    ) -> tuple[set[str], set[str]]:
        """Items whose co-visits and purchases whose repeat rates the batch's ranking can need:
        a folded session's latest ``cfg.recent_for_covisit`` items are among each shopper's
        latest ones before the batch and the batch's items (an item only moves later when it
        is touched again), its purchases among the earlier ones and the batch's."""
        items = {item for e in events if (item := getattr(e, "item_id", None)) is not None}
        purchased = {e.item_id for e in events if isinstance(e, Purchase)}
        for state in states.values():
            items.update(item for item, _ in state.recent[-cfg.recent_for_covisit :])
            purchased.update(state.purchases)
        return items, purchased

    def narrowed(
        self, states: dict[str, UserState], cfg: RecommendConfig
    ) -> tuple[Neighbours, dict[str, float] | None] | None:
        """What ``read_context`` gives for the folded ``states``, taken from what was read; None
        when something they need was not read."""
        sources = {i for s in states.values() for i in covisit_sources(s, cfg)}
        purchased = {i for s in states.values() for i in s.purchases}
        if not (sources <= self.items and purchased <= self.purchased):
            return None
        neighbours = {i: row for i, row in self.neighbours.items() if i in sources}
        rates = self.rates
        return neighbours, None if rates is None else {
            i: r for i, r in rates.items() if i in purchased
        }


async def read_context(stores: Stores, items: set[str], purchased: set[str]) -> Context:
    neighbours = await stores.covisit.neighbours(items)
    return Context(items, purchased, neighbours, await repeat_rates(stores, purchased))


async def repeat_rates(stores: Stores, purchased: set[str]) -> dict[str, float] | None:
    """How often shoppers buy each of ``purchased`` again (None without a repeat store)."""
    return await stores.repeats.rates(purchased) if stores.repeats is not None else None


async def settle(
    pending: Awaitable[Context] | None,
    states: dict[str, UserState],
    cfg: RecommendConfig,
    read_again: Callable[[set[str], set[str]], Awaitable[Context]],
) -> tuple[Neighbours, dict[str, float] | None]:
    """The folded ``states``' co-visits and repeat rates from the ``pending`` read, or, should a
    state need more than it read, from a read of exactly what they need (none without a read
    or a state)."""
    if pending is None or not states:
        return {}, None
    found = (await pending).narrowed(states, cfg)
    if found is None:
        found = (await read_again(*Context.wanted(states, [], cfg))).narrowed(states, cfg)
    if found is None:  # cannot happen: read for these very states
        raise RuntimeError("the co-visits read for the folded states do not cover them")
    return found
