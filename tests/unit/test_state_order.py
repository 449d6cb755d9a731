"""A shopper's state does not depend on the order events arrive in, nor on batch boundaries.

Kafka keeps a shopper's events in order within one topic only, and a restarted worker or a
backlog interleaves the topics differently: shuffled and re-batched, the same events must give
the same state. Vectors and decayed sums are compared to float rounding, the rest exactly; the
remembered event ids as a set (which 32 of more are kept depends on the order, a stated bound).
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click, Purchase, Search, UserEvent
from personalisation.fold import fold
from ranking.intent import IntentConfig
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig
from ranking.state import UserState, differences

T0 = 1_700_000_000_000
ITEMS = [f"i{n}" for n in range(8)]
CATEGORIES = ["Home > Kitchen", "Home > Candles", None]


def shop() -> ItemIndex:
    rng = np.random.default_rng(7)
    index = ItemIndex(8)
    for n, item in enumerate(ITEMS):
        v = rng.standard_normal(8).astype(np.float32)
        index.upsert(ItemInfo(item, item.upper(), CATEGORIES[n % 3], True), v / np.linalg.norm(v))
    return index


INDEX = shop()
QUERIES = {q: np.eye(8, dtype=np.float32)[n] for n, q in enumerate(["tea", "candle"])}


@st.composite
def streams(draw: st.DrawFn) -> list[UserEvent]:
    n = draw(st.integers(1, 30))
    events: list[UserEvent] = []
    for k in range(n):
        ts = T0 + draw(st.integers(0, 4 * 3_600_000))
        kind = draw(st.sampled_from(["view", "click", "add_to_cart", "purchase", "search"]))
        item = draw(st.sampled_from(ITEMS))
        if kind == "purchase":
            events.append(Purchase(f"e{k}", "u", ts, item, 1, 1.0))
        elif kind == "search":
            events.append(Search(f"e{k}", "u", ts, draw(st.sampled_from(sorted(QUERIES)))))
        else:
            events.append(Click(f"e{k}", "u", ts, item, kind))  # type: ignore[arg-type]
    return events


def folded(batches: list[list[UserEvent]]) -> UserState:
    state = UserState.new(8)
    for batch in batches:
        out = fold({"u": state}, batch, INDEX, ProfileConfig(), IntentConfig(), QUERIES, {})
        state = out.states.get("u", state)
    return state


def assert_same(a: UserState, b: UserState) -> None:
    assert differences(a, b) == []


@settings(max_examples=300, deadline=None)
@given(streams(), st.randoms(use_true_random=False), st.lists(st.integers(1, 30), max_size=5))
def test_shuffled_and_rebatched_events_give_the_same_state(
    events: list[UserEvent], rng: object, cuts: list[int]
) -> None:
    in_time = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    shuffled = list(events)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    bounds = sorted({0, len(shuffled), *(c for c in cuts if c < len(shuffled))})
    batches = [shuffled[a:b] for a, b in itertools.pairwise(bounds)]
    assert_same(folded([in_time]), folded(batches))


@given(streams())
def test_a_redelivered_stream_changes_nothing(events: list[UserEvent]) -> None:
    once = folded([events])
    again = folded([events, events[: len(events) // 2], events])
    assert_same(once, again)
