"""The compiled blend (``pulse_kernels.blend_head``, through ``ranking.recommend.blended_head``)
against its definition, the Python ``boost_categories(blend(...))``: for random sources,
weights, cuts, lifts and category affinities both give the same items in the same order with
the same scores (float for float, rounding ties included), sources and reasons."""

from __future__ import annotations

import numpy as np
import pulse_kernels
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking.blend import BlendConfig, Proposal, Recommendation, blend
from ranking.interest import DecayedVector
from ranking.item_index import ItemIndex, ItemInfo
from ranking.recommend import blended_head, boost_categories, compiled_head
from ranking.state import UserState

DIM = 4
# Ids whose order differs between naive byte and code point views would show a wrong order.
ITEMS = ["a", "b", "c", "d", "e", "f", "g", "h", "é", "z", "日本", "10", "9"]
CATEGORIES = ["Kitchen", "Garden", "Toys"]
SOURCES = ["similar", "covisit", "sessions", "recent", "history", "trending", "category"]
# Scores that tie after the blend or sit exactly on a rounding tie (k/128 has 7 decimals).
SCORES = [0.0, -1.0, 1.0, 0.5, 0.25, 1 / 128, 3 / 128, 1 / 3, 2.0, 7.0]


def index_with(categories: dict[str, str]) -> ItemIndex:
    index = ItemIndex(DIM, ann_from=None)
    for n, item in enumerate(ITEMS):
        vector = np.zeros(DIM, dtype=np.float32)
        vector[n % DIM] = 1.0
        index.upsert(ItemInfo(item, item.upper(), categories.get(item), True), vector)
    return index


def state_with(affinities: dict[str, float]) -> UserState:
    return UserState(DecayedVector.empty(DIM), DecayedVector.empty(DIM), categories=affinities)


proposals = st.lists(
    st.builds(
        Proposal,
        st.sampled_from(ITEMS),
        st.one_of(st.sampled_from(SCORES), st.floats(0, 5, allow_nan=False)),
        st.text(max_size=5),
    ),
    max_size=12,
)
weights = st.one_of(st.sampled_from([0.0, 0.1, 0.3, 1.0, 1.5]), st.floats(0, 3))


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(SOURCES), proposals, max_size=5),
    st.dictionaries(st.sampled_from(SOURCES), weights),
    st.one_of(st.none(), st.integers(0, 15)),
    st.sampled_from([0.0, 0.5, 1.0, 0.3]),
    # an empty category is none, as in Python's lift
    st.dictionaries(st.sampled_from(ITEMS), st.sampled_from([*CATEGORIES, ""])),
    st.dictionaries(
        st.sampled_from([*CATEGORIES, ""]),
        st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 4)),
    ),
)
def test_the_compiled_blend_gives_exactly_the_python_head(
    sources: dict[str, list[Proposal]],
    weights: dict[str, float],
    limit: int | None,
    boost: float,
    categories: dict[str, str],
    affinities: dict[str, float],
) -> None:
    cfg = BlendConfig(weights=tuple(weights.items()))
    index, state = index_with(categories), state_with(affinities)
    want = boost_categories(blend(sources, cfg, limit), state, index, boost)
    got = compiled_head(sources, cfg, limit, state, index, boost)
    assert got is not None  # finite inputs: the compiled blend answers
    assert [Recommendation(*row) for row in got] == want
    cut = 99 if limit is None else limit
    want = boost_categories(blend(sources, cfg, cut), state, index, boost)
    assert list(blended_head(sources, cfg, cut, state, index, boost)) == want


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.floats(1e-9, 1.0),
        st.integers(1, 2**20).map(lambda k: k / 2**21),
        st.integers(1, 128).map(lambda k: k / 128),  # the odd ones sit exactly on a tie
    )
)
def test_scores_are_rounded_to_six_decimals_as_python_rounds_them(score: float) -> None:
    # one candidate under the evidence floor of 1: its score is its part, only rounded
    got = pulse_kernels.blend_head(
        [("covisit", 1.0, [Proposal("a", score, "r")])], 1.0, None, 0.0, {}, {}, 0.0
    )
    assert got == [("a", round(score, 6), "covisit", "r")]


def test_input_the_compiled_blend_declines_takes_the_python_blend() -> None:
    index, state = index_with({"a": "Kitchen"}), state_with({"Kitchen": 1.0})
    cfg = BlendConfig(weights=(("covisit", 1.0), ("similar", 0.5)))
    for odd in (float("inf"), float("nan")):
        sources = {
            "covisit": [Proposal("a", 1.0, "x"), Proposal("b", odd, "y")],
            "similar": [Proposal("c", 0.5, "z")],
        }
        rows = [(name, dict(cfg.weights)[name], p) for name, p in sources.items()]
        assert pulse_kernels.blend_head(rows, 1.0, 10, 0.5, {}, {}, 1.0) is None
        want = boost_categories(blend(sources, cfg, 10), state, index, 0.5)
        got = list(blended_head(sources, cfg, 10, state, index, 0.5))
        assert [repr(r) for r in got] == [repr(r) for r in want]  # NaN is not NaN's equal
    # an item id that is not a str: declined too
    rows = [("covisit", 1.0, [Proposal(7, 1.0, "x")])]  # type: ignore[arg-type]
    assert pulse_kernels.blend_head(rows, 1.0, 10, 0.0, {}, {}, 0.0) is None
