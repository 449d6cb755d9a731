"""What a shop integrates against, on hand-made shops: dismissals (contract, profile, codec,
ranking), similar items, request-time filters, lists of many shoppers, and any batch body
giving 200 or a 400 with a reason."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click, EventKind
from core.validation import validate_dict
from feature_store.memory import memory_stores
from feature_store.state_codec import decode, encode
from personalisation.fold import fold
from personalisation.pipeline import Personaliser
from personalisation.serving import ListFilter, recommendations, similar_items
from ranking.intent import IntentConfig
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig, apply
from ranking.recommend import recommend
from ranking.recommend_config import RecommendConfig
from ranking.state import UserState
from streams.api import Api
from tests.unit.test_api import FakeWorker

T0 = 1_700_000_000_000

# Angles on the unit circle: a and a2 nearly alike (cosine 0.995), b and c far from both.
ITEMS = {
    "a": (0.0, "Home > Kitchen"),
    "a2": (0.1, "Home > Kitchen > Mugs"),
    "b": (1.2, "Home > Kitchen"),
    "c": (2.0, "Garden"),
    "d": (2.6, "Garden"),
}


def index() -> ItemIndex:
    out = ItemIndex(2)
    for item, (angle, category) in ITEMS.items():
        vector = np.array([math.cos(angle), math.sin(angle)], np.float32)
        out.upsert(ItemInfo(item, item.upper(), category, True), vector)
    return out


class NoText:
    async def encode(self, texts: list[str]) -> list[np.ndarray]:
        raise AssertionError("no texts here")


def shop() -> Personaliser:
    return Personaliser(index(), memory_stores(2), NoText())  # type: ignore[arg-type]


def click(n: int, item: str, action: str = "click", user: str = "u", **kw: Any) -> Click:
    return Click(f"e{n}", user, T0 + n * 1000, item, action, **kw)  # type: ignore[arg-type]


def test_dismiss_is_a_click_action_of_the_contract() -> None:
    event = validate_dict(
        EventKind.CLICK,
        {"event_id": "e", "user_id": "u", "ts": T0, "item_id": "a", "action": "dismiss"},
    )
    assert isinstance(event, Click) and event.action == "dismiss"


def test_a_dismissal_is_remembered_moves_interest_away_and_is_no_recent_item() -> None:
    cfg, items = ProfileConfig(), index()
    state = apply(UserState.new(2), click(1, "b"), cfg, items.vector("b"), None, "Home > Kitchen")
    after = apply(state, click(2, "a", "dismiss"), cfg, items.vector("a"), None, "Home > Kitchen")
    assert after.dismissed == (("a", T0 + 2000),)
    assert after.recent == state.recent and after.categories == state.categories
    assert after.long == state.long and after.events == state.events + 1
    a = items.vector("a")
    assert a is not None
    # The short-term interest turned away from a: its cosine with a went down.
    cos = lambda v: float(v @ a / np.linalg.norm(v))  # noqa: E731
    assert cos(after.short.total) < cos(state.short.total)
    assert decode(encode(after)).dismissed == after.dismissed


def test_dismissals_arriving_in_any_order_give_one_state() -> None:
    cfg, items = ProfileConfig(), index()
    events = [click(1, "a", "dismiss"), click(2, "c", "dismiss"), click(3, "a", "dismiss")]
    states = []
    for order in (events, events[::-1]):
        state = UserState.new(2)
        for e in order:
            state = apply(state, e, cfg, items.vector(e.item_id))
        states.append(state)
    assert states[0].dismissed == states[1].dismissed == (("c", T0 + 2000), ("a", T0 + 3000))


def test_a_dismissal_chooses_nothing_pairs_nothing_and_trends_nothing() -> None:
    items = index()
    states = {"u": UserState.new(2)}
    folded = fold(
        states,
        [click(1, "b"), click(2, "a", "dismiss")],
        items,
        ProfileConfig(),
        IntentConfig(),
        {},
        {},
    )
    assert [c[0] for c in folded.chosen] == ["b"]
    assert dict(folded.pairs) == {}
    assert [i for i, *_ in folded.observed.items] == ["b"]


def test_dismissed_items_leave_the_list_and_their_near_neighbours_go_down() -> None:
    items = index()
    cfg = RecommendConfig(k=5)
    state = apply(UserState.new(2), click(1, "c"), ProfileConfig(), items.vector("c"))
    neighbours = {"c": [("a", 3.0), ("a2", 2.0), ("b", 1.5)]}
    before = recommend(state, items, neighbours, [], cfg, T0 + 2000)
    # covisit (weights over their sum plus the prior 1): a 3/7.5 = 0.4, a2 2/7.5 = 0.2667, b
    # 1.5/7.5 + its content share; they sum to less than 1, so the blend keeps them as they are
    assert [r.item_id for r in before] == ["c", "a", "a2", "b", "d"]
    state = apply(state, click(2, "a", "dismiss"), ProfileConfig(), items.vector("a"))
    after = recommend(state, items, neighbours, [], cfg, T0 + 3000)
    # a is gone; a2 (cosine 0.995 with a) lost half its score: 0.2667 / 2, below b.
    assert [r.item_id for r in after] == ["c", "b", "a2", "d"]
    assert next(r.score for r in after if r.item_id == "a2") == pytest.approx(2 / 7.5 / 2, 1e-5)


async def test_similar_items_blend_covisits_and_content_with_reasons() -> None:
    p = shop()
    await p.run([click(1, "a", user="x"), click(2, "c", user="x"), click(3, "a", user="y")])
    await p.run([click(4, "c", user="y")])
    got = await similar_items(p, "a", 3)
    assert got[0]["item_id"] == "c" and got[0]["reason"] == "often chosen with A"
    assert {"a2", "b"} & {g["item_id"] for g in got}
    assert all(g["item_id"] != "a" for g in got)
    content = next(g for g in got if g["source"] == "similar")
    assert content["reason"] == "similar to A"
    with pytest.raises(KeyError):
        await similar_items(p, "nope", 3)


async def test_filters_apply_at_read_time_and_narrowing_ranks_afresh() -> None:
    p = shop()
    await p.run([click(1, "a"), click(2, "a2"), click(3, "c")])
    whole = await recommendations(p, "u", 10, ListFilter())
    assert whole["cold_start"] is False and whole["items"]
    kitchen = await recommendations(p, "u", 10, ListFilter(category="home > kitchen"))
    assert kitchen["items"] and all(
        ITEMS[i["item_id"]][1].startswith("Home > Kitchen") for i in kitchen["items"]
    )
    first = whole["items"][0]["item_id"]
    without = await recommendations(p, "u", 10, ListFilter(exclude=frozenset({first})))
    assert first not in {i["item_id"] for i in without["items"]}
    # An item out of stock since the list was made is not served, unless asked for.
    vector = p.index.vector(first)
    assert vector is not None
    p.index.upsert(ItemInfo(first, first.upper(), ITEMS[first][1], False), vector)
    served = await recommendations(p, "u", 10, ListFilter())
    assert first not in {i["item_id"] for i in served["items"]}
    anyway = await recommendations(p, "u", 10, ListFilter(in_stock_only=False))
    assert first in {i["item_id"] for i in anyway["items"]}


async def test_the_batch_answers_each_shopper_in_order() -> None:
    worker = FakeWorker()
    worker.many: list[list[str]] = []  # type: ignore[misc]

    async def many(user_ids: list[str], k: int, rules: ListFilter) -> list[dict[str, Any]]:
        worker.many.append(user_ids)  # type: ignore[attr-defined]
        return [{"user_id": u, "items": [], "cold_start": True} for u in user_ids]

    worker.recommendations_many = many  # type: ignore[method-assign]
    body = orjson.dumps({"user_ids": ["u2", "u1", "u2"], "k": 3, "exclude": ["a"]})
    reply = await Api(worker).post_batch(lambda: _bytes(body))
    assert reply.status == 200
    assert [r["user_id"] for r in reply.body["results"]] == ["u2", "u1", "u2"]
    too_many = orjson.dumps({"user_ids": [f"u{n}" for n in range(101)]})
    refused = await Api(worker).post_batch(lambda: _bytes(too_many))
    assert (refused.status, refused.body["error"]["code"]) == (400, "out_of_range")


async def _bytes(body: bytes) -> bytes:
    return body


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSONISH.map(orjson.dumps),
    st.fixed_dictionaries(
        {"user_ids": st.lists(st.text(max_size=140), max_size=120)},
        optional={"k": JSONISH, "category": JSONISH, "exclude": JSONISH, "in_stock_only": JSONISH},
    ).map(orjson.dumps),
)


@settings(max_examples=300, deadline=None)
@given(BODIES)
async def test_any_batch_body_gets_200_or_a_400_with_a_reason(body: bytes) -> None:
    reply = await Api(FakeWorker()).post_batch(lambda: _bytes(body))
    assert reply.status in (200, 400)
    if reply.status == 400:
        assert reply.body is not None
        assert reply.body["error"]["code"] and reply.body["error"]["message"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.dictionaries(st.sampled_from(["k", "x"]), st.text(max_size=8)))
async def test_any_similar_query_gets_200_404_or_400(item_id: str, query: dict[str, str]) -> None:
    reply = await Api(FakeWorker()).get_similar(item_id, query)
    assert reply.status in (200, 400, 404)
