"""What a batch reads before it is folded: states, text vectors, shared counts, clicked lists."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from core.events import Click, Review, Search, UserEvent, chosen
from encoders.pooling import Floats
from encoders.protocol import TextEncoder, encode_each
from feature_store.stores import ShopperStore, Stores
from ranking.state import UserState


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
