"""Profile updates, the user-state codec, blending, rules and whole recommendations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click, Purchase, Review, Search
from feature_store.state_codec import decode, encode
from ranking.blend import BlendConfig, Proposal, apply_rules, blend
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig, apply, review_sign, top_category
from ranking.recommend import recommend
from ranking.recommend_config import RecommendConfig
from ranking.state import MAX_SEEN, UserState

CFG = ProfileConfig()
T0 = 1_700_000_000_000


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def click(eid: str, item: str, ts: int, action: str = "click") -> Click:
    return Click(eid, "u1", ts, item, action)  # type: ignore[arg-type]


def test_events_move_the_vectors_by_weight_and_type() -> None:
    s = UserState.new(3)
    s = apply(s, click("e1", "a", T0, "view"), CFG, item_vector=unit(1, 0, 0), category="Home")
    s = apply(
        s, Purchase("e2", "u1", T0, "b", 2, 1.0), CFG, item_vector=unit(0, 1, 0), category="Garden"
    )
    s = apply(s, Search("e3", "u1", T0, "tea towels"), CFG, text_vector=unit(0, 0, 1))
    # view 0.5, purchase 3, search 1.5 (short-term only)
    assert np.allclose(s.short.total, [0.5, 3.0, 1.5])
    assert np.allclose(s.long.total, [0.5, 3.0, 0.0])
    assert s.purchases == {"b": (1.0, T0)}
    assert [i for i, _ in s.recent] == ["a", "b"]
    assert s.last_query == ("tea towels", T0)
    assert top_category(s) == "Garden"
    assert s.events == 3


def test_reviews_are_signed_by_rating() -> None:
    assert [review_sign(r) for r in (1, 2, 3, 4, 5)] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    s = apply(
        UserState.new(2),
        Review("e1", "u1", T0, "a", 1, "awful"),
        CFG,
        item_vector=unit(1, 0),
        text_vector=unit(1, 0),
    )
    assert s.long.total[0] < 0
    neutral = apply(
        UserState.new(2),
        Review("e2", "u1", T0, "a", 3, "ok"),
        CFG,
        item_vector=unit(1, 0),
        text_vector=unit(1, 0),
    )
    assert not np.any(neutral.long.total)


def test_a_seen_event_id_changes_nothing() -> None:
    s = apply(UserState.new(2), click("e1", "a", T0), CFG, item_vector=unit(1, 0))
    again = apply(s, click("e1", "a", T0), CFG, item_vector=unit(1, 0))
    assert again is s


def test_late_events_land_in_event_time_order() -> None:
    s = UserState.new(2)
    s = apply(s, click("e2", "b", T0 + 1000), CFG, item_vector=unit(0, 1))
    s = apply(s, click("e1", "a", T0), CFG, item_vector=unit(1, 0))
    assert [i for i, _ in s.recent] == ["a", "b"]
    assert s.short.ref_ms == T0 + 1000


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=12), st.integers(T0, T0 + 10**9)), max_size=30),
    st.dictionaries(st.text(min_size=1, max_size=20), st.floats(0, 100), max_size=12),
    st.integers(0, 60),
)
def test_user_state_codec_round_trips(
    recent: list[tuple[str, int]], cats: dict[str, float], n: int
) -> None:
    s = UserState.new(384)
    s = apply(
        s,
        click("x", "i", T0),
        CFG,
        item_vector=np.random.default_rng(1).standard_normal(384).astype(np.float32),
    )
    from dataclasses import replace

    s = replace(
        s,
        recent=tuple(recent),
        categories={k: round(v, 4) for k, v in cats.items()},
        purchases={r[0]: (2, r[1]) for r in recent[:5]},
        last_query=("q", T0),
    )
    for i in range(n):
        s = s.mark_seen(f"e{i}")
    d = decode(encode(s))
    assert d.recent == s.recent and d.purchases == s.purchases and d.last_query == s.last_query
    assert d.seen == s.seen and len(d.seen) == min(n + 1, MAX_SEEN)
    assert d.categories == s.categories
    assert np.allclose(d.short.total, s.short.total, atol=np.abs(s.short.total).max() / 100)
    assert encode(d) == encode(decode(encode(d)))  # stable after one round


def test_states_stored_by_the_first_codec_are_still_read() -> None:
    import struct

    import orjson

    from feature_store.state_codec import _HEADER

    vector = bytes([1, 255]) + bytes(382)
    v1 = (
        _HEADER.pack(1, 2.0, T0, 0.5, 3.0, T0, 0.25, 1, 7)
        + struct.pack("<H", 384)
        + vector
        + vector
        + struct.pack("<Q", 42)
        + orjson.dumps(
            {
                "r": [["a", T0], ["b", T0 + 1]],
                "c": {"Home": 1.5},
                "cr": T0,
                "p": {"b": [1.8909, T0 + 1]},
                "q": ["tea", T0],
            }
        )
    )
    s = decode(v1)
    assert s.recent == (("a", T0), ("b", T0 + 1)) and s.purchases == {"b": (1.8909, T0 + 1)}
    assert s.categories == {"Home": 1.5} and s.last_query == ("tea", T0) and s.seen == (42,)
    assert s.events == 7 and s.short.total[:2].tolist() == [0.5, -0.5]
    assert decode(encode(s)).purchases == s.purchases  # written back in the current version


def test_blend_normalises_sources_and_keeps_the_strongest_reason() -> None:
    ranked = blend(
        {
            "similar": [Proposal("a", 0.9, "because you searched 'tea'"), Proposal("b", 0.45, "x")],
            "covisit": [Proposal("b", 10.0, "often chosen with MUG"), Proposal("c", 5.0, "y")],
            "trending": [Proposal("d", 100.0, "trending now")],
        },
        BlendConfig(),
    )
    # Each source's scores divided by their sum: similar a 2/3, b 1/3; covisit b 2/3, c 1/3;
    # trending d 1, times the default weights (similar 0.1, covisit 1, trending 0.1).
    assert [r.item_id for r in ranked] == ["b", "c", "d", "a"]
    assert ranked[0].source == "covisit" and ranked[0].reason == "often chosen with MUG"
    assert ranked[0].score == pytest.approx(0.1 / 3 + 2 / 3, abs=1e-6)
    assert [r.score for r in ranked[1:]] == pytest.approx([1 / 3, 0.1, 0.2 / 3], abs=1e-6)


def test_rules_drop_unavailable_and_optionally_purchased_items() -> None:
    ranked = blend(
        {"similar": [Proposal(i, 1.0 - n / 10, "r") for n, i in enumerate("abcde")]}, BlendConfig()
    )
    kept = apply_rules(
        ranked,
        available=lambda i: i != "b",
        purchased={"c"},
        cfg=BlendConfig(exclude_purchased=True),
        k=2,
    )
    assert [r.item_id for r in kept] == ["a", "d"]
    kept = apply_rules(ranked, available=lambda i: True, purchased={"c"}, cfg=BlendConfig(), k=3)
    assert [r.item_id for r in kept] == ["a", "b", "c"]


def make_index() -> ItemIndex:
    index = ItemIndex(3, capacity=2)
    for item, vec, cat in [
        ("towel", unit(1, 0.1, 0), "Kitchen"),
        ("apron", unit(1, 0.2, 0), "Kitchen"),
        ("teapot", unit(0.9, 0.3, 0), "Kitchen"),
        ("candle", unit(0, 1, 0), "Candles"),
        ("lantern", unit(0, 1, 0.2), "Candles"),
        ("trowel", unit(0, 0, 1), "Garden"),
    ]:
        index.upsert(ItemInfo(item, item.upper(), cat, True), vec)
    return index


def test_index_search_masks_out_of_stock_and_removed_items() -> None:
    index = make_index()
    assert [i for i, _ in index.search(unit(1, 0, 0), 2)] == ["towel", "apron"]
    index.upsert(ItemInfo("towel", "TOWEL", "Kitchen", False), unit(1, 0.1, 0))
    index.remove("apron")
    assert [i for i, _ in index.search(unit(1, 0, 0), 2)] == ["teapot", "candle"]
    assert len(index) == 6 and not index.available("apron") and not index.available("nope")


def test_a_kitchen_shopper_gets_kitchen_items_with_reasons() -> None:
    index = make_index()
    s = UserState.new(3)
    s = apply(s, Search("e1", "u1", T0, "tea towels"), CFG, text_vector=unit(1, 0.05, 0))
    s = apply(
        s,
        click("e2", "towel", T0 + 1000),
        CFG,
        item_vector=index.vector("towel"),
        category="Kitchen",
    )
    cfg = RecommendConfig(
        k=3, hide_latest=1, blend=BlendConfig(weights=(("similar", 1.0), ("trending", 0.3)))
    )
    recs = recommend(s, index, {}, [("trowel", 9.0)], cfg, now_ms=T0 + 2000)
    assert [r.item_id for r in recs][:2] == ["apron", "teapot"]
    assert recs[0].reason == "because you searched 'tea towels'"
    assert "towel" not in [r.item_id for r in recs]  # just clicked, and hidden: not shown back


def test_a_new_shopper_gets_trending_items() -> None:
    recs = recommend(
        UserState.new(3),
        make_index(),
        {},
        [("candle", 5.0), ("trowel", 3.0)],
        RecommendConfig(k=5),
        now_ms=T0,
    )
    assert [(r.item_id, r.source, r.reason) for r in recs] == [
        ("candle", "trending", "trending now"),
        ("trowel", "trending", "trending now"),
    ]


def test_covisitation_reasons_name_the_source_item() -> None:
    index = make_index()
    s = apply(UserState.new(3), click("e1", "candle", T0), CFG, item_vector=index.vector("candle"))
    recs = recommend(
        s,
        index,
        {"candle": [("lantern", 4.0), ("trowel", 1.0)]},
        [],
        RecommendConfig(k=2, blend=BlendConfig(weights=(("covisit", 1.0),))),
        now_ms=T0,
    )
    assert [(r.item_id, r.reason) for r in recs] == [
        ("lantern", "often chosen with CANDLE"),
        ("trowel", "often chosen with CANDLE"),
    ]


def test_favourite_categories_lift_their_items() -> None:
    from ranking.blend import Recommendation
    from ranking.recommend import boost_categories

    index = make_index()
    s = apply(
        UserState.new(3),
        click("e1", "towel", T0),
        CFG,
        item_vector=index.vector("towel"),
        category="Kitchen",
    )
    ranked = [
        Recommendation("candle", 1.0, "similar", "r"),
        Recommendation("apron", 0.8, "similar", "r"),
    ]
    lifted = boost_categories(ranked, s, index, boost=0.5)
    assert [(r.item_id, r.score) for r in lifted] == [("apron", 1.2), ("candle", 1.0)]


def test_purchase_occasions_decay_and_ignore_arrival_order() -> None:
    h = CFG.purchase_half_life_ms
    first = apply(UserState.new(2), Purchase("p1", "u1", T0, "x", 1, 1.0), CFG)
    later = apply(first, Purchase("p2", "u1", T0 + int(h), "x", 5, 1.0), CFG)
    assert later.purchases["x"] == (1.5, T0 + int(h))  # one half-life: 1 -> 0.5, plus 1
    swapped = apply(
        apply(UserState.new(2), Purchase("p2", "u1", T0 + int(h), "x", 5, 1.0), CFG),
        Purchase("p1", "u1", T0, "x", 1, 1.0),
        CFG,
    )
    assert swapped.purchases == later.purchases


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32),  # seed
    st.integers(1, 40),  # items
    st.integers(1, 6),  # queries
    st.integers(1, 12),  # k
)
def test_batch_search_gives_each_query_its_plain_nearest_items(
    seed: int, n_items: int, n_queries: int, k: int
) -> None:
    """``search_many`` against scoring every item one by one, per query: as many items as
    allowed up to ``k``, best first, each with its own cosine (to float32 rounding of the
    matrix product), none below the plain k-th best, never an excluded or unavailable item;
    items that share a vector tie."""
    rng = np.random.default_rng(seed)
    index = ItemIndex(4, capacity=2)
    shared = rng.standard_normal(4).astype(np.float32)
    for i in range(n_items):
        v = shared if i % 4 == 0 else rng.standard_normal(4).astype(np.float32)
        index.upsert(ItemInfo(f"i{i}", "", None, i % 5 != 3), v / np.linalg.norm(v))
    queries = rng.standard_normal((n_queries, 4)).astype(np.float32)
    excludes = [{f"i{j}" for j in rng.integers(0, n_items, rng.integers(0, 5))} for _ in queries]
    for query, exclude, found in zip(
        queries, excludes, index.search_many(queries, k, excludes), strict=True
    ):
        allowed = [f"i{i}" for i in range(n_items) if index.available(f"i{i}")]
        cosine = {
            item: float(query @ index.vector(item))  # type: ignore[operator]
            for item in allowed
            if item not in exclude
        }
        plain = sorted(cosine.values(), reverse=True)[:k]
        assert len(found) == len(plain) == len({item for item, _ in found})
        scores = [s for _, s in found]
        assert scores == sorted(scores, reverse=True)
        for (item, s), best in zip(found, plain, strict=True):
            assert item in cosine and s == pytest.approx(cosine[item], abs=1e-5)
            assert s == pytest.approx(best, abs=1e-5)
