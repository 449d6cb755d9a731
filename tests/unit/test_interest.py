"""Interest maths against numpy references computed from the whole history."""

from __future__ import annotations

import doctest

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ranking.interest
import ranking.trending
from ranking.interest import DecayedVector, reference
from ranking.trending import DecayedCounter

H = 30 * 60 * 1000.0


def test_doctests() -> None:
    assert doctest.testmod(ranking.interest).failed == 0
    assert doctest.testmod(ranking.trending).failed == 0


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.integers(0, 10 * 3600 * 1000), st.floats(0.1, 3.0)), min_size=1, max_size=40
    ),
    st.randoms(use_true_random=False),
)
def test_decayed_sum_matches_reference_in_any_arrival_order(events: list, rng) -> None:  # type: ignore[no-untyped-def,type-arg]
    dim = 8
    xs = np.random.default_rng(len(events)).standard_normal((len(events), dim)).astype(np.float32)
    order = list(range(len(events)))
    rng.shuffle(order)
    state = DecayedVector.empty(dim)
    for i in order:
        state = state.add(xs[i], events[i][1], events[i][0], H)
    latest = max(t for t, _ in events)
    total, weight = reference(xs, [w for _, w in events], [t for t, _ in events], latest, H)
    assert state.ref_ms == latest
    assert np.allclose(state.total, total, rtol=1e-4, atol=1e-4)
    assert np.isclose(state.weight, weight, rtol=1e-6)
    later = state.at(latest + 3_600_000, H)
    total2, weight2 = reference(
        xs, [w for _, w in events], [t for t, _ in events], latest + 3_600_000, H
    )
    assert np.allclose(later.total, total2, rtol=1e-4, atol=1e-4)
    assert np.isclose(later.weight, weight2, rtol=1e-6)


def test_half_life_halves() -> None:
    state = DecayedVector.empty(2).add(np.array([2.0, 0.0]), 1.0, 0, H)
    assert np.allclose(state.at(int(H), H).total, [1.0, 0.0])
    assert state.at(-5, H) is state  # never decays backwards


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.integers(0, 10**7), st.floats(0.1, 5)), max_size=60
    )
)
def test_decayed_counter_matches_reference(events: list[tuple[str, int, float]]) -> None:
    counter = DecayedCounter(half_life_ms=3_600_000)
    for key, ts, w in events:
        counter.add(key, w, ts)
    if not events:
        assert counter.top(3, at_ms=0) == []
        return
    at = max(ts for _, ts, _ in events)
    expected: dict[str, float] = {}
    for key, ts, w in events:
        expected[key] = expected.get(key, 0.0) + w * 2 ** (-(at - ts) / 3_600_000)
    got = dict(counter.top(10, at_ms=at))
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert np.isclose(got[key], value, rtol=1e-9)


def test_decayed_counter_survives_a_long_time() -> None:
    counter = DecayedCounter(half_life_ms=1000)
    counter.add("old", 1.0, 0)
    counter.add("new", 1.0, 1000 * 200)  # 200 half-lives later: rescaled, no overflow
    top = counter.top(2, at_ms=1000 * 200)
    assert top[0] == ("new", 1.0)


def test_decayed_counter_ranks_at_times_long_before_its_landmark() -> None:
    counter = DecayedCounter(half_life_ms=3_600_000)
    counter.add("new", 2.0, 1_704_067_200_000)  # 2024
    counter.add("old", 1.0, 1_306_918_800_000)  # 2011: decays to nothing against 2024
    top = counter.top(2, at_ms=1_306_918_800_000)
    assert top[0][0] == "new" and all(np.isfinite(score) for _, score in top)


@settings(max_examples=300)
@given(
    st.sampled_from([np.float32, np.float64]),
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=32) | st.sampled_from([0.0, -0.0]),
        min_size=0,
        max_size=400,
    ),
)
def test_norm_is_numpys_norm_to_the_bit(dtype: type, values: list[float]) -> None:
    x = np.array(values, dtype=dtype)
    with np.errstate(over="ignore"):  # float32 squares past 3.4e38: inf, both ways
        want = float(np.linalg.norm(x))
        got = ranking.interest.norm(x)
    assert np.float64(got).tobytes() == np.float64(want).tobytes()


@settings(max_examples=300)
@given(
    st.sampled_from([np.float32, np.float64]),
    st.lists(
        st.tuples(
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
        ),
        min_size=0,
        max_size=400,
    ),
)
def test_dot_is_numpys_dot_to_the_bit_but_for_the_sign_of_zero(
    dtype: type, pairs: list[tuple[float, float]]
) -> None:
    x = np.array([a for a, _ in pairs], dtype=dtype)
    y = np.array([b for _, b in pairs], dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        want = float(np.dot(x, y))
        got = ranking.interest.dot(x, y)
    if want == 0:  # a sum of signed zeros may come out +0 one way and -0 the other
        assert got == 0
    else:  # otherwise the same bits (NaN from inf - inf included)
        assert np.float64(got).tobytes() == np.float64(want).tobytes()
