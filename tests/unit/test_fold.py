"""The fold of a micro-batch into shoppers' states, against states computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from core.events import Click, Purchase, Search, UserEvent
from personalisation.fold import Folded, fold
from ranking.intent import IntentConfig
from ranking.interest import Vector
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig
from ranking.state import UserState, event_hash

T0 = 1_700_000_000_000
MIN = 60_000
PROFILE = ProfileConfig()  # short half-life 30 min, long 30 days; click 1, purchase 3, search 1.5
INTENT = IntentConfig()
A = np.array([1, 0, 0, 0], np.float32)
B = np.array([0, 1, 0, 0], np.float32)
C = np.array([0, 0, 1, 0], np.float32)
Q = np.array([0, 0, 0, 1], np.float32)


def shop() -> ItemIndex:
    index = ItemIndex(4)
    index.upsert(ItemInfo("a", "TEA TOWEL", "Home > Kitchen", True), A)
    index.upsert(ItemInfo("b", "TEAPOT", "Home > Kitchen", True), B)
    index.upsert(ItemInfo("c", "CANDLE", "Home > Candles", True), C)
    return index


def run(
    events: list[UserEvent],
    states: dict[str, UserState] | None = None,
    queries: dict[str, Vector] | None = None,
) -> Folded:
    users = {e.user_id for e in events}
    start = {u: UserState.new(4) for u in users} | (states or {})
    return fold(start, events, shop(), PROFILE, INTENT, queries or {}, {})


def test_one_click_gives_the_state_computed_by_hand() -> None:
    folded = run([Click("e1", "u", T0, "a", "click")])
    state = folded.states["u"]
    assert state.short.total.tolist() == [1, 0, 0, 0] and state.short.weight == 1.0
    assert state.long.total.tolist() == [1, 0, 0, 0] and state.long.weight == 1.0
    assert state.short.ref_ms == state.long.ref_ms == T0
    assert state.recent == (("a", T0),)
    assert state.categories == {"Home > Kitchen": 1.0} and state.categories_ref_ms == T0
    assert state.seen == (event_hash("e1"),) and state.events == 1
    assert state.purchases == {} and state.last_query is None
    assert folded.chosen == [("a", 1.0, T0)]
    assert dict(folded.pairs) == {} and folded.repeats == {}
    assert folded.observed.items == [("a", T0, 1.0)]
    assert folded.observed.categories == [("Home > Kitchen", T0, 1.0)]


def test_a_second_click_half_a_short_half_life_later_decays_the_first() -> None:
    folded = run([Click("e1", "u", T0, "a", "click"), Click("e2", "u", T0 + 30 * MIN, "b", "view")])
    state = folded.states["u"]
    # Short term: a decayed by one half-life (0.5), b with the view's weight 0.5.
    assert state.short.total.tolist() == pytest.approx([0.5, 0.5, 0, 0])
    assert state.short.weight == pytest.approx(1.0)
    # Long term: 30 minutes of a 30-day half-life.
    f = 2 ** (-30 / (30 * 24 * 60))
    assert state.long.total.tolist() == pytest.approx([f, 0.5, 0, 0])
    assert state.long.weight == pytest.approx(f + 0.5)
    assert state.recent == (("a", T0), ("b", T0 + 30 * MIN))
    assert state.categories == pytest.approx({"Home > Kitchen": f + 0.5})
    # b is paired with a, weighted as the view that made the pair.
    assert dict(folded.pairs) == {("a", "b"): 0.5}
    assert folded.chosen == [("a", 1.0, T0), ("b", 0.5, T0 + 30 * MIN)]
    assert folded.last["u"].event_id == "e2"


def test_a_search_moves_only_the_short_term_interest() -> None:
    folded = run([Search("s1", "u", T0, "kettle")], queries={"kettle": Q})
    state = folded.states["u"]
    assert state.short.total.tolist() == [0, 0, 0, 1.5] and state.short.weight == 1.5
    assert state.long.weight == 0.0 and not state.long.total.any()
    assert state.last_query == ("kettle", T0) and state.recent == ()
    assert folded.observed.queries == [("kettle", T0)] and folded.chosen == []


def test_purchases_count_occasions_once_per_order_and_repeats_of_earlier_orders() -> None:
    first = run([Purchase("p1", "u", T0, "a", 1, 2.0), Purchase("p2", "u", T0, "a", 1, 2.0)])
    # Two lines of one order: one occasion, no repeat; the decayed count is 1 + 1 at one time.
    assert first.repeats == {"a": (1, 0)}
    assert first.states["u"].purchases == {"a": (2.0, T0)}
    later = run([Purchase("p3", "u", T0 + 60 * MIN, "a", 1, 2.0)], states=first.states)
    assert later.repeats == {"a": (1, 1)}
    assert later.chosen == [("a", 3.0, T0 + 60 * MIN)]


def test_seen_events_change_nothing_and_inputs_are_not_changed() -> None:
    first = run([Click("e1", "u", T0, "a", "click")])
    before = dict(first.states)
    again = run([Click("e1", "u", T0, "a", "click")], states=first.states)
    assert again.states == {} and again.chosen == [] and again.last == {}
    assert first.states == before


def test_the_trigger_is_the_latest_event_in_event_time_not_in_arrival_order() -> None:
    folded = run(
        [Click("late", "u", T0 + MIN, "a", "click"), Click("early", "u", T0, "b", "click")]
    )
    assert folded.last["u"].event_id == "late"
    assert folded.states["u"].recent == (("b", T0), ("a", T0 + MIN))


def test_moving_from_kitchen_to_candles_is_one_intent_shift() -> None:
    events = [
        Click("k1", "u", T0, "a", "click"),
        Click("k2", "u", T0 + MIN, "b", "click"),
        Click("c1", "u", T0 + 60 * MIN, "c", "click"),
        Click("c2", "u", T0 + 61 * MIN, "c", "add_to_cart"),
    ]
    # c twice is one recent item: the session category needs two items of it.
    assert run(events).observed.shifts == []
    # A second candles item makes candles the session category: the shift.
    events.append(Click("c3", "u", T0 + 62 * MIN, "d", "click"))
    index = shop()
    index.upsert(ItemInfo("d", "TEA LIGHT", "Home > Candles", True), C)
    users = {"u": UserState.new(4)}
    folded = fold(users, events, index, PROFILE, INTENT, {}, {})
    [shift] = folded.observed.shifts
    assert (shift.from_category, shift.to_category) == ("Home > Kitchen", "Home > Candles")
    assert folded.states["u"].intent == "Home > Candles"
