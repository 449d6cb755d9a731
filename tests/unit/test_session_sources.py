"""The click-stream candidate sources against hand-computed examples: the current session,
co-visits normalised per item, the session's own items, session-kNN, the blend that a flat
source cannot flood, weights learned from clicks and the content source after a search."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click, Purchase, Search
from feature_store.memory import memory_stores
from personalisation.pipeline import Personaliser
from ranking.blend import BlendConfig, Proposal, blend, weights_from_clicks
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig, apply
from ranking.recommend import search_aware
from ranking.recommend_config import RecommendConfig
from ranking.session_sources import covisited, popular_in_categories, session_items
from ranking.sessions import (
    NativeSessionIndex,
    SessionConfig,
    SessionIndex,
    current_session,
)
from ranking.state import UserState
from ranking.trending import CategoryPopularity
from tests.unit import session_oracle as oracle

T0 = 1_700_000_000_000
MINUTE = 60_000


def index(*items: str) -> ItemIndex:
    out = ItemIndex(2)
    for n, item in enumerate(items):
        angle = n / max(1, len(items))
        out.upsert(
            ItemInfo(item, item.upper(), None, True),
            np.array([math.cos(angle), math.sin(angle)], np.float32),
        )
    return out


def clicked(*steps: tuple[str, int]) -> UserState:
    """A shopper who clicked ``(item, minutes after T0)`` in order."""
    state = UserState.new(2)
    for n, (item, minute) in enumerate(steps):
        state = apply(state, Click(f"e{n}", "u", T0 + minute * MINUTE, item), ProfileConfig())
    return state


def test_the_current_session_starts_after_the_last_long_gap() -> None:
    state = clicked(("a", 0), ("b", 10), ("c", 100), ("d", 120), ("c", 125))
    assert current_session(state, 30 * MINUTE) == ["d", "c"]
    assert current_session(state, 115 * MINUTE) == ["a", "b", "d", "c"]
    assert current_session(UserState.new(2), 30 * MINUTE) == []


def test_covisits_are_normalised_per_session_item_and_weighted_by_recency() -> None:
    state = clicked(("a", 0), ("b", 1))
    neighbours = {"a": [("x", 2.0), ("y", 2.0)], "b": [("x", 1.0), ("z", 3.0)]}
    got = covisited(state, neighbours, index("a", "b", "x", "y", "z"), RecommendConfig())
    # each row over its sum plus the prior 1: b (latest, weight 1) x 1/5, z 3/5; a (weight
    # 1/2) x 2/5 * 1/2, y 2/5 * 1/2
    assert [(p.item_id, p.score) for p in got] == [("z", 0.6), ("x", 0.4), ("y", 0.2)]
    assert [p.reason for p in got] == [
        "often chosen with B",
        "often chosen with B",  # b and a gave x as much; the latest item is named
        "often chosen with A",
    ]
    plain = covisited(
        state, neighbours, index("a", "b", "x", "y", "z"), RecommendConfig(covisit_prior=0)
    )
    assert [(p.item_id, p.score) for p in plain] == [("z", 0.75), ("x", 0.5), ("y", 0.25)]


def test_covisits_of_an_earlier_session_do_not_count() -> None:
    state = clicked(("a", 0), ("b", 120))
    got = covisited(
        state, {"a": [("x", 5.0)], "b": [("z", 1.0)]}, index("a", "b", "x", "z"), RecommendConfig()
    )
    assert [p.item_id for p in got] == ["z"]


def test_the_session_items_come_back_latest_first() -> None:
    got = session_items(clicked(("a", 0), ("b", 1), ("c", 2), ("b", 3)), RecommendConfig())
    assert [(p.item_id, p.score, p.reason) for p in got] == [
        ("b", 1.0, "you looked at this earlier"),
        ("c", 0.5, "you looked at this earlier"),
        ("a", pytest.approx(1 / 3), "you looked at this earlier"),
    ]


def test_items_bought_in_the_session_are_left_to_the_purchase_history() -> None:
    state = clicked(("a", 0), ("b", 1))
    state = apply(state, Purchase("p", "u", T0 + 2 * MINUTE, "a", 1, 1.0), ProfileConfig())
    assert [p.item_id for p in session_items(state, RecommendConfig())] == ["b"]


def test_popular_items_of_the_session_categories_latest_category_first() -> None:
    idx = ItemIndex(2)
    for n, (item, category) in enumerate(
        [("m1", "mugs"), ("m2", "mugs"), ("m3", "mugs"), ("t1", "tea"), ("t2", "tea"), ("x", None)]
    ):
        idx.upsert(ItemInfo(item, item.upper(), category, True), np.array([1.0, n], np.float32))
    counts = CategoryPopularity(half_life_ms=3600e3)
    for item, times in (("m1", 3), ("m2", 1), ("m3", 4), ("t1", 1), ("t2", 3)):
        for _ in range(times):
            counts.add(idx.info(item).category, item, 1.0, T0)  # type: ignore[union-attr,arg-type]
    # the session: t1, then m1, then x (no category): mugs is the latest category, tea next
    state = clicked(("t1", 0), ("m1", 1), ("x", 2))
    got = popular_in_categories(state, idx, counts.top, RecommendConfig())
    # mugs without m1 (in the session): m3 4/5, m2 1/5; tea without t1, halved: t2 3/3 * 1/2
    assert [(p.item_id, p.reason) for p in got] == [
        ("m3", "popular in mugs"),
        ("t2", "popular in tea"),
        ("m2", "popular in mugs"),
    ]
    assert [p.score for p in got] == pytest.approx([0.8, 0.5, 0.2])
    # no session, or a session of items without a category: nothing
    assert popular_in_categories(UserState.new(2), idx, counts.top, RecommendConfig()) == []
    assert popular_in_categories(clicked(("x", 0)), idx, counts.top, RecommendConfig()) == []


def test_category_popularity_decays_and_keeps_the_most_popular() -> None:
    counts = CategoryPopularity(half_life_ms=MINUTE, per_category=2)
    counts.add("mugs", "old", 4.4, T0)
    counts.add("mugs", "new", 1.0, T0 + 2 * MINUTE)  # "old" has halved twice since: 1.1
    counts.add("mugs", "newer", 1.5, T0 + 2 * MINUTE)
    got = counts.top("mugs", 5)
    assert [item for item, _ in got] == ["newer", "old", "new"]
    assert [count for _, count in got] == pytest.approx([1.5, 1.1, 1.0])
    for n in range(5):  # past twice ``per_category`` items the least popular are pruned
        counts.add("mugs", f"more{n}", 2.0, T0 + 2 * MINUTE)
    assert len(counts.top("mugs", 100)) <= 4
    assert counts.top("tea", 5) == [] and len(counts) == 1


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(
                st.just("add"), st.sampled_from("ab"), st.sampled_from("vwxyz"), st.floats(0.1, 5)
            ),
            st.tuples(st.just("top"), st.sampled_from("abc"), st.integers(0, 6), st.just(0.0)),
        ),
        max_size=40,
    )
)
def test_the_top_items_of_a_category_are_those_of_a_fresh_count(
    steps: list[tuple[str, str, object, float]],
) -> None:
    """Between a category's events its top items are remembered: always what counting afresh
    from the same events gives."""
    counts = CategoryPopularity(half_life_ms=MINUTE, per_category=3)
    events: list[tuple[str, str, float, int]] = []
    for n, (op, category, arg, weight) in enumerate(steps):
        if op == "add":
            events.append((category, str(arg), weight, T0 + n * 1000))
            counts.add(category, str(arg), weight, T0 + n * 1000)
        else:
            again = CategoryPopularity(half_life_ms=MINUTE, per_category=3)
            for event in events:
                again.add(*event)
            assert counts.top(category, int(arg)) == again.top(category, int(arg))  # type: ignore[call-overload]


def test_session_knn_scores_items_by_the_similarity_of_the_sessions_holding_them() -> None:
    sessions = SessionIndex()
    sessions.observe("o1", ["a", "x"], T0)
    sessions.observe("o2", ["a", "b", "y"], T0 + 1)
    sessions.observe("o3", ["z"], T0 + 2)
    got = sessions.neighbours("u", ["a", "b"], 10)
    # weights of the shopper's items: b 1 (latest), a 1/2; |session| = 2
    # o1 shares a: 0.5 / sqrt(2 * 2); o2 shares a and b: 1.5 / sqrt(2 * 3); o3 shares nothing
    assert [(n.item_id, n.because) for n in got] == [("y", "b"), ("x", "a")]
    assert [n.score for n in got] == pytest.approx([1.5 / math.sqrt(6), 0.25])


def test_session_knn_ignores_the_shoppers_own_session_and_stays_bounded() -> None:
    sessions = SessionIndex(SessionConfig(max_sessions=2, postings=2))
    sessions.observe("u", ["a", "q"], T0)
    assert sessions.neighbours("u", ["a"], 5) == []
    for n in range(5):
        sessions.observe(f"o{n}", ["a", f"x{n}"], T0 + n)
    assert len(sessions) == 2 and len(sessions.postings["a"]) == 2
    # only the two latest sessions are left; equal scores are ordered by item
    assert [n.item_id for n in sessions.neighbours("u", ["a"], 5)] == ["x3", "x4"]


def test_a_source_that_scores_everything_alike_cannot_flood_the_blend() -> None:
    flat = [Proposal(f"s{n}", 0.96, "similar to A") for n in range(20)]
    ranked = blend(
        {"similar": flat, "covisit": [Proposal("c", 3.0, "often chosen with A")]},
        BlendConfig((("similar", 1.0), ("covisit", 1.0))),
    )
    assert ranked[0].item_id == "c" and ranked[0].score == 1.0
    assert ranked[1].score == pytest.approx(1 / 20)


def test_source_weights_follow_click_rates_within_bounds() -> None:
    weights = (("covisit", 1.0), ("similar", 0.5), ("trending", 0.2))
    got = dict(weights_from_clicks(weights, {"covisit": 0.001, "similar": 0.1, "trending": 0.2}))
    # mean rate 0.1003...: covisit would fall to 1%, trending rise to 2x: kept within 1/4 .. 4
    assert got["covisit"] == 0.25 and got["similar"] == pytest.approx(
        0.5 * 0.1 / (0.301 / 3), rel=1e-5
    )
    assert got["trending"] == pytest.approx(0.2 * 0.2 / (0.301 / 3), rel=1e-5)
    assert weights_from_clicks(weights, {}) == weights


def test_the_pipeline_learns_weights_only_after_enough_clicks() -> None:
    cfg = RecommendConfig(
        learn_min_clicks=10, blend=BlendConfig((("covisit", 1.0), ("similar", 1.0)))
    )
    p = Personaliser(index("a"), memory_stores(2), encoder=None, ranking=cfg)  # type: ignore[arg-type]
    p.sampler.set_counts({"covisit": 1000.0, "similar": 1000.0}, {"covisit": 8.0, "similar": 1.0})
    assert p.ranking_now() is p.ranking
    p.sampler.set_counts({"covisit": 1000.0, "similar": 1000.0}, {"covisit": 30.0, "similar": 10.0})
    learned = dict(p.ranking_now().blend.weights)
    assert learned["covisit"] > 1.0 > learned["similar"]


def test_right_after_a_search_the_content_source_weighs_more() -> None:
    cfg = RecommendConfig(blend=BlendConfig((("similar", 0.1), ("covisit", 1.0))))
    state = clicked(("a", 0))
    assert search_aware(state, cfg) is cfg.blend
    searched = apply(
        state,
        Search("s", "u", T0 + MINUTE, "tea"),
        ProfileConfig(),
        text_vector=np.ones(2, np.float32),
    )
    assert dict(search_aware(searched, cfg).weights) == {"similar": 1.0, "covisit": 1.0}
    again = apply(searched, Click("c", "u", T0 + 2 * MINUTE, "a"), ProfileConfig())
    assert search_aware(again, cfg) is cfg.blend


OPS = st.lists(
    st.tuples(
        st.sampled_from(["observe", "observe", "observe", "forget"]),
        st.integers(0, 11),  # shopper
        st.lists(st.integers(0, 14), min_size=1, max_size=6),  # session items
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    OPS,
    st.lists(st.integers(0, 14), min_size=0, max_size=8),
    st.integers(1, 4),  # sample
    st.integers(1, 5),  # k
    st.integers(1, 3),  # candidates_from
    st.integers(2, 6),  # postings kept per item
    st.integers(3, 10),  # sessions kept
)
def test_session_knn_gives_what_the_plain_reference_gives(
    ops: list[tuple[str, int, list[int]]],
    query: list[int],
    sample: int,
    k: int,
    candidates_from: int,
    postings: int,
    kept: int,
) -> None:
    """Same items, order, scores and reasons as ``tests/unit/session_oracle.py``, whatever the
    index went through (observations, forgetting, evictions at small bounds)."""
    cfg = SessionConfig(
        k=k, sample=sample, candidates_from=candidates_from, max_sessions=kept, postings=postings
    )
    index = SessionIndex(cfg)
    for n, (op, shopper, items) in enumerate(ops):
        if op == "observe":
            index.observe(f"s{shopper}", [f"i{i}" for i in items], T0 + n)
        else:
            index.forget(f"s{shopper}")
    session = [f"i{i}" for i in query]
    for shopper in ("s0", "s99"):
        assert index.neighbours(shopper, session, 10) == oracle.neighbours(
            index, shopper, session, 10
        )


@settings(max_examples=300, deadline=None)
@given(
    OPS,
    st.lists(st.lists(st.integers(0, 14), min_size=0, max_size=8), min_size=1, max_size=4),
    st.integers(1, 4),  # sample
    st.integers(1, 5),  # k
    st.integers(1, 3),  # candidates_from
    st.integers(2, 6),  # postings kept per item
    st.integers(3, 10),  # sessions kept
    st.integers(1, 12),  # n
)
def test_the_compiled_index_answers_exactly_what_the_python_reference_answers(
    ops: list[tuple[str, int, list[int]]],
    queries: list[list[int]],
    sample: int,
    k: int,
    candidates_from: int,
    postings: int,
    kept: int,
    n: int,
) -> None:
    """``NativeSessionIndex`` (Rust) against ``SessionIndex`` after the same observations,
    forgettings and evictions at small bounds: the same items in the same order with the same
    reasons and bit-identical scores, the same sessions held and the same postings."""
    cfg = SessionConfig(
        k=k, sample=sample, candidates_from=candidates_from, max_sessions=kept, postings=postings
    )
    reference, native = SessionIndex(cfg), NativeSessionIndex(cfg)
    for step, (op, shopper, items) in enumerate(ops):
        for index in (reference, native):
            if op == "observe":
                # a shopper's time may go back (late events): the session keeps its latest
                index.observe(f"s{shopper}", [f"i{i}" for i in items], T0 + step % 7)
            else:
                index.forget(f"s{shopper}")
    assert len(native) == len(reference)
    assert all((f"s{s}" in native) == (f"s{s}" in reference.sessions) for s in range(12))
    assert all(
        native.posting(f"i{i}") == list(reference.postings.get(f"i{i}", ())) for i in range(15)
    )
    for query in queries:
        session = [f"i{i}" for i in query]
        for shopper in ("s0", "s5", "s99"):
            assert native.neighbours(shopper, session, n) == reference.neighbours(
                shopper, session, n
            )
    # all the queries in one call: each answer the one a call of its own gives
    asked = [(s, [f"i{i}" for i in query]) for query in queries for s in ("s0", "s5", "s99")]
    assert native.neighbours_many(asked, n) == [reference.neighbours(s, q, n) for s, q in asked]


def test_the_compiled_index_on_a_larger_random_stream() -> None:
    """Thousands of sessions over hundreds of items at the default bounds: ties are rarer,
    sums longer; every answer still identical to the reference's."""
    rng = np.random.default_rng(7)
    reference, native = SessionIndex(), NativeSessionIndex()
    for step in range(5_000):
        shopper = f"s{rng.integers(2_000)}"
        items = [f"i{i}" for i in rng.zipf(1.3, size=rng.integers(1, 12)) % 400]
        reference.observe(shopper, items, T0 + step)
        native.observe(shopper, items, T0 + step)
    for _ in range(300):
        shopper = f"s{rng.integers(2_100)}"
        session = [f"i{i}" for i in rng.zipf(1.3, size=rng.integers(1, 20)) % 400]
        assert native.neighbours(shopper, session, 20) == reference.neighbours(shopper, session, 20)


async def test_a_batch_is_ranked_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ranking waits for the event loop to do something else meanwhile: were it run on the
    loop, the loop could not, and the wait would time out."""
    import asyncio
    import threading

    import personalisation.pipeline as pipeline

    loop_ran = threading.Event()
    threads: list[str] = []
    ranked = pipeline.recommend

    def waiting_recommend(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        assert loop_ran.wait(timeout=5), "the event loop was blocked while the batch was ranked"
        return ranked(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "recommend", waiting_recommend)
    p = Personaliser(index("a", "b"), memory_stores(2), encoder=None)  # type: ignore[arg-type]

    async def meanwhile() -> None:
        while not threads:
            await asyncio.sleep(0.001)
        loop_ran.set()

    writes, _ = await asyncio.gather(p.run([Click("c1", "u", T0, "a")]), meanwhile())
    assert threads == ["pulse-rank_0"] and len(writes.messages) == 1
