"""The co-visits and repeat rates read while a batch is folded (``personalisation.reads.Context``)
cover what its ranking reads afterwards, and give it what a read after the fold gives."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click, Purchase, UserEvent
from feature_store.memory import memory_stores
from personalisation.fold import fold
from personalisation.reads import Context, Neighbours, read_context, settle
from ranking.intent import IntentConfig
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig
from ranking.recommend_config import RecommendConfig
from ranking.session_sources import covisit_sources
from ranking.state import UserState

T0 = 1_700_000_000_000
MIN = 60_000
ITEMS = [f"i{n}" for n in range(12)]
ReadAgain = Callable[[set[str], set[str]], Awaitable[Context]]
CFG = RecommendConfig(recent_for_covisit=3)


def shop() -> ItemIndex:
    index = ItemIndex(4)
    rng = np.random.default_rng(0)
    for item in ITEMS:
        index.upsert(ItemInfo(item, item, None, True), rng.normal(size=4).astype(np.float32))
    return index


# (shopper, item, minutes after T0, a purchase?): times go back and forth, gaps open sessions
moves = st.lists(
    st.tuples(
        st.sampled_from(["u", "v", "w"]),
        st.sampled_from(ITEMS),
        st.integers(0, 200),
        st.booleans(),
    ),
    max_size=25,
)


def events_of(drawn: list[tuple[str, str, int, bool]], tag: str) -> list[UserEvent]:
    out: list[UserEvent] = []
    for n, (user, item, minutes, bought) in enumerate(drawn):
        ts = T0 + minutes * MIN
        eid = f"{tag}{n}"
        out.append(Purchase(eid, user, ts, item, 1, 1.0) if bought else Click(eid, user, ts, item))
    return out


def settled(
    context: Context, states: dict[str, UserState], read_again: ReadAgain
) -> tuple[Neighbours, dict[str, float] | None]:
    async def go() -> tuple[Neighbours, dict[str, float] | None]:
        done: asyncio.Future[Context] = asyncio.get_running_loop().create_future()
        done.set_result(context)
        return await settle(done, states, CFG, read_again)

    return asyncio.run(go())


def folded(states: dict[str, UserState], events: list[UserEvent]) -> dict[str, UserState]:
    start = {e.user_id: UserState.new(4) for e in events} | states
    return fold(start, events, shop(), ProfileConfig(), IntentConfig(), {}, {}).states


@settings(max_examples=200, deadline=None)
@given(
    moves, moves, st.lists(st.tuples(st.sampled_from(ITEMS), st.sampled_from(ITEMS)), max_size=30)
)
def test_what_is_read_during_the_fold_covers_the_ranking_and_matches_a_read_after_it(
    before: list[tuple[str, str, int, bool]],
    batch: list[tuple[str, str, int, bool]],
    pairs: list[tuple[str, str]],
) -> None:
    stores = memory_stores(4)
    stores.covisit.add({(a, b): 1.0 for a, b in pairs if a != b})
    states = folded({}, events_of(before, "h"))
    events = events_of(batch, "b")
    after = folded(states, events)

    context = asyncio.run(read_context(stores, *Context.wanted(states, events, CFG)))
    sources = {i for s in after.values() for i in covisit_sources(s, CFG)}
    purchased = {i for s in after.values() for i in s.purchases}
    assert sources <= context.items and purchased <= context.purchased

    again: list[tuple[set[str], set[str]]] = []

    async def read_again(items: set[str], bought: set[str]) -> Context:
        again.append((items, bought))
        return await read_context(stores, items, bought)

    got = settled(context, after, read_again)
    exact = asyncio.run(read_context(stores, sources, purchased))
    assert got == (exact.neighbours, exact.rates) and not again


def test_a_state_that_needs_more_than_was_read_is_read_again() -> None:
    stores = memory_stores(4)
    stores.covisit.add({("i1", "i2"): 2.0, ("i3", "i4"): 1.0})
    after = folded({}, [Click("e1", "u", T0, "i1"), Click("e2", "u", T0 + MIN, "i3")])
    read_before = asyncio.run(read_context(stores, {"i1"}, set()))  # i3 missing
    asked: list[set[str]] = []

    async def read_again(items: set[str], bought: set[str]) -> Context:
        asked.append(items)
        return await read_context(stores, items, bought)

    neighbours, _ = settled(read_before, after, read_again)
    assert asked == [{"i1", "i3"}]
    assert set(neighbours) == {"i1", "i3"} and neighbours["i3"][0][0] == "i4"
