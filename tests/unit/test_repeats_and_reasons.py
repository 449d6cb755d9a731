"""Repeat-purchase rates, the history source they scale, and the truth of every reason."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.quality_kafka import same_list
from core.events import Click, Purchase, Search
from core.settings import CANDIDATE_SOURCES
from feature_store.memory import MemoryCovisitStore, MemoryRepeatStore, memory_stores
from feature_store.repeats import repeat_rate
from personalisation.pipeline import Personaliser
from ranking.blend import BlendConfig
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig, apply
from ranking.recommend import history, recommend, similar_reason
from ranking.recommend_config import RecommendConfig
from ranking.sessions import SessionIndex, current_session
from ranking.state import UserState
from ranking.trending import CategoryPopularity

T0 = 1_700_000_000_000
DAY = 86_400_000
ITEMS = [f"i{n}" for n in range(12)]


def index() -> ItemIndex:
    rng = np.random.default_rng(3)
    out = ItemIndex(4)
    for item in ITEMS:
        v = rng.standard_normal(4).astype(np.float32)
        category = f"c{int(item[1:]) % 3}"  # three categories of four items
        out.upsert(ItemInfo(item, item.upper(), category, True), v / np.linalg.norm(v))
    return out


def test_repeat_rate_starts_at_the_prior_and_follows_the_counts() -> None:
    assert repeat_rate(0, 0) == 0.25
    assert repeat_rate(96, 95) == 0.96
    assert repeat_rate(96, 0) == 0.01


async def test_the_step_counts_occasions_and_repeats_once_per_order() -> None:
    stores = memory_stores(4, repeats=True)
    repeats = stores.repeats
    assert isinstance(repeats, MemoryRepeatStore)
    p = Personaliser(index(), stores, encoder=None)  # type: ignore[arg-type]

    async def feed(*events: Purchase) -> None:
        await p.run(list(events))

    # One order with i1 on two lines: one occasion, no repeat.
    await feed(Purchase("a1", "u", T0, "i1", 1, 1.0), Purchase("a2", "u", T0, "i1", 2, 1.0))
    # A later order: i1 again (a repeat), i2 new; redelivered a1 changes nothing.
    await feed(
        Purchase("a1", "u", T0, "i1", 1, 1.0),
        Purchase("b1", "u", T0 + DAY, "i1", 1, 1.0),
        Purchase("b2", "u", T0 + DAY, "i2", 1, 1.0),
    )
    # Another shopper's first i1 is not a repeat.
    await feed(Purchase("c1", "v", T0 + DAY, "i1", 1, 1.0))
    assert repeats.occasions == {"i1": 3, "i2": 1}
    assert repeats.repeats == {"i1": 1, "i2": 0}
    assert await repeats.rates(["i1", "i9"]) == {"i1": 2 / 7, "i9": 0.25}


def test_items_bought_again_by_others_rank_above_one_off_buys() -> None:
    state = UserState.new(4)
    for n, item in enumerate(["i1", "i2"]):
        state = apply(state, Purchase(f"e{n}", "u", T0, item, 1, 1.0), ProfileConfig())
    cfg = RecommendConfig()
    plain = {p.item_id: p.score for p in history(state, T0 + DAY, cfg)}
    assert plain["i1"] == plain["i2"]
    rated = history(state, T0 + DAY, cfg, {"i1": 0.05, "i2": 0.6})
    assert max(rated, key=lambda p: p.score).item_id == "i2"
    assert {p.reason for p in rated} == {"you bought this before"}


def test_similar_reasons_name_the_latest_evidence() -> None:
    idx = index()
    cfg = RecommendConfig()
    state = UserState.new(4)
    assert similar_reason(state, idx, cfg, T0) == "matches your interests"
    state = apply(state, Click("e1", "u", T0, "i3", "click"), ProfileConfig())
    assert similar_reason(state, idx, cfg, T0) == "similar to I3"
    state = apply(state, Search("e2", "u", T0 + 1, "red candles"), ProfileConfig())
    assert similar_reason(state, idx, cfg, T0 + 2) == "because you searched 'red candles'"
    # A search older than the session half-life is no longer the reason.
    later = T0 + 1 + int(cfg.short_half_life_ms) + 1
    assert similar_reason(state, idx, cfg, later) == "similar to I3"


event = st.one_of(
    st.tuples(st.just("click"), st.sampled_from(ITEMS)),
    st.tuples(st.just("purchase"), st.sampled_from(ITEMS)),
    st.tuples(st.just("search"), st.sampled_from(["candles", "tea towels"])),
)


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(event, min_size=1, max_size=12),
    pairs=st.dictionaries(
        st.sampled_from(ITEMS),
        st.lists(
            st.tuples(st.sampled_from(ITEMS), st.floats(0.5, 9)),
            max_size=4,
            unique_by=lambda t: t[0],
        ),
        max_size=6,
    ),
    trending=st.lists(st.sampled_from(ITEMS), max_size=5, unique=True),
    others=st.lists(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=5), max_size=8),
    gaps=st.lists(st.sampled_from([1000, 2 * 3600 * 1000]), min_size=12, max_size=12),
    popular=st.lists(st.sampled_from(ITEMS), max_size=8, unique=True),
)
def test_every_reason_is_backed_by_its_evidence(
    events: list[tuple[str, str]],
    pairs: dict[str, list[tuple[str, float]]],
    trending: list[str],
    others: list[list[str]],
    gaps: list[int],
    popular: list[str],
) -> None:
    idx = index()
    rng = np.random.default_rng(0)
    state = UserState.new(4)
    ts = T0
    for n, (kind, value) in enumerate(events):
        ts += gaps[n]  # some gaps start a new session
        if kind == "search":
            v = rng.standard_normal(4).astype(np.float32)
            state = apply(state, Search(f"e{n}", "u", ts, value), ProfileConfig(), text_vector=v)
        elif kind == "click":
            e = Click(f"e{n}", "u", ts, value, "click")
            state = apply(state, e, ProfileConfig(), item_vector=idx.vector(value))
        else:
            e = Purchase(f"e{n}", "u", ts, value, 1, 1.0)  # type: ignore[assignment]
            state = apply(state, e, ProfileConfig(), item_vector=idx.vector(value))
    now = ts + 1000
    # Every source weighs alike, so each of them gets into the lists.
    cfg = RecommendConfig(k=8, blend=BlendConfig(tuple((s, 1.0) for s in CANDIDATE_SOURCES)))
    sessions = SessionIndex()
    for n, items in enumerate(others):
        sessions.observe(f"other{n}", items, T0)
    session = current_session(state, cfg.session_gap_ms)
    found = sessions.neighbours("u", session, cfg.per_source)
    trend = [(i, 5.0 - n) for n, i in enumerate(trending)]
    counts = CategoryPopularity(half_life_ms=3600e3)
    for n, item in enumerate(popular):
        counts.add(idx.info(item).category, item, 1.0 + n, T0)  # type: ignore[union-attr,arg-type]
    recs = recommend(state, idx, pairs, trend, cfg, now, sessions=found, popular=counts.top)
    latest = session[-cfg.recent_for_covisit :]
    for rec in recs:
        if rec.source == "history":
            assert rec.item_id in state.purchases and rec.reason == "you bought this before"
        elif rec.source == "trending":
            assert rec.item_id in trending and rec.reason == "trending now"
        elif rec.source == "covisit":
            because = [i for i in latest if rec.item_id in {n for n, _ in pairs.get(i, [])}]
            assert rec.reason in {f"often chosen with {i.upper()}" for i in because}
        elif rec.source == "category":
            # popular in the category of one of the session's items, and not one of them
            category = idx.info(rec.item_id).category  # type: ignore[union-attr]
            assert rec.item_id in popular and rec.item_id not in session
            assert category in {idx.info(i).category for i in session}  # type: ignore[union-attr]
            assert rec.reason == f"popular in {category}"
        elif rec.source == "recent":
            assert rec.item_id in session and rec.item_id not in state.purchases
            assert rec.reason == "you looked at this earlier"
        elif rec.source == "sessions":
            # another shopper's session holds both the item and the named item of this session
            because = {
                mine
                for items in others
                for mine in session
                if mine in items and rec.item_id in items and rec.item_id not in session
            }
            assert rec.reason in {
                f"shoppers who chose {i.upper()} also chose this" for i in because
            }
        else:
            assert rec.source == "similar"
            assert rec.reason == similar_reason(state, idx, cfg, now)


async def test_the_memory_fake_orders_ties_as_redis_does() -> None:
    store = MemoryCovisitStore(max_neighbours=2)
    store.add({("a", "b"): 1.0, ("a", "c"): 1.0, ("a", "d"): 2.0})
    # ZREVRANGE: highest score first, equal scores in reverse member order.
    assert (await store.neighbours(["a"], n=3))["a"] == [("d", 2.0), ("c", 1.0), ("b", 1.0)]
    assert Counter(dict((await store.neighbours(["a"], n=2))["a"])) == {"d": 2.0, "c": 1.0}


def test_lists_are_the_same_only_with_equal_items_sources_reasons_and_scores() -> None:
    a = [{"item_id": "x", "source": "history", "reason": "r", "score": 1.0}]
    assert same_list(a, [dict(a[0])])
    assert same_list(a, [{**a[0], "score": 1.0 + 1e-9}])
    assert not same_list(a, [{**a[0], "score": 1.001}])
    assert not same_list(a, [{**a[0], "source": "similar"}])
    assert not same_list(a, [{**a[0], "item_id": "y"}])
    assert not same_list(a, a + a)
