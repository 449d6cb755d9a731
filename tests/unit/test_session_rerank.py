"""The re-ranker probe's pieces (bench/session_rerank.py): decayed popularity and its ranks,
and a candidate's features on a hand-computed example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.session_data import Event
from bench.session_rerank import ABSENT, FEATURES, Case, Decayed, Popularity, candidate_rows, fit
from core.errors import ConfigError

H = 3_600_000


def test_a_decayed_count_halves_every_half_life() -> None:
    d = Decayed(H)
    d.add("a", 0)
    d.add("a", 0)
    d.add("b", H)
    assert d.get("a", H) == pytest.approx(1.0)
    assert d.get("a", 3 * H) == pytest.approx(0.25)
    assert d.get("b", 3 * H) == pytest.approx(0.25)
    assert d.get("never", 3 * H) == 0.0


@given(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 10 * H)), min_size=1, max_size=40),
    st.sampled_from("abcdefg"),
)
def test_rank_counts_the_items_that_count_more_now(adds: list[tuple[str, int]], item: str) -> None:
    d = Decayed(H)
    adds.sort(key=lambda a: a[1])
    for name, ts in adds:
        d.add(name, ts)
    now = adds[-1][1]
    mine = d.get(item, now)
    # the lifted values may round differently from the decayed ones: near-ties either way
    above = sum(d.get(i, now) > mine * (1 + 1e-9) + 1e-12 for i in d.counts)
    at_least = sum(d.get(i, now) >= mine * (1 - 1e-9) - 1e-12 for i in d.counts if i != item)
    assert above <= d.rank(item) <= at_least


def test_candidate_rows_hold_each_sources_rank_and_share_and_the_sessions_evidence() -> None:
    popularity = Popularity()
    for n, item in enumerate("abab"):
        popularity.add(Event("s0", "s0", item, n * H, "click"))
    sources = {"covisit": {"b": (0, 0.75), "c": (1, 0.25)}, "recent": {"a": (0, 1.0)}}
    items, rows = candidate_rows(
        sources, ["a", "b"], ["a", "x", "a"], 4 * H, 4 * H + 9000, popularity
    )
    assert items == ["a", "b", "c"]  # the engine's list first, then what only sources proposed
    assert rows.shape == (3, len(FEATURES))
    row = {
        item: dict(zip(FEATURES, r.tolist(), strict=True))
        for item, r in zip(items, rows, strict=True)
    }
    assert row["b"]["covisit rank"] == 0 and row["b"]["covisit share"] == 0.75
    assert row["b"]["recent rank"] == ABSENT and row["b"]["recent share"] == 0.0
    assert row["c"]["covisit rank"] == 1 and row["c"]["place in the engine's list"] == ABSENT
    assert row["a"]["recent share"] == 1.0 and row["a"]["place in the engine's list"] == 0
    assert row["a"]["clicks in the session"] == 2 and row["b"]["clicks in the session"] == 0
    assert row["a"]["events since the session touched it"] == 0
    assert row["b"]["events since the session touched it"] == ABSENT
    assert row["a"]["log clicks so far"] == pytest.approx(math.log1p(2))
    # a: clicks at 0 h and 2 h, seen at 4 h + 9 s: 1/16 + 1/4, a little less
    assert row["a"]["clicks in the last hour (decayed)"] == pytest.approx(
        (1 / 16 + 1 / 4) * 0.5 ** (9000 / H)
    )
    assert row["c"]["log clicks so far"] == 0.0
    assert row["a"]["session length"] == 3 and row["a"]["distinct session items"] == 2
    assert row["a"]["sources proposing it"] == 1 and row["c"]["sources proposing it"] == 1
    assert row["a"]["log seconds since the session's last event"] == pytest.approx(math.log1p(9))


def test_a_shopper_without_candidates_has_no_rows() -> None:
    items, rows = candidate_rows({}, [], ["a"], 0, 1000, Popularity())
    assert items == [] and rows.shape == (0, len(FEATURES))


def test_fitting_without_a_usable_case_says_what_to_change() -> None:
    case = Case("s", "target", False, [], ["other"], np.zeros((1, len(FEATURES)), np.float32))
    with pytest.raises(ConfigError, match="learn-share"):
        fit([case], seed=0)
