"""The co-visit store's one-reply read (``feature_store.covisit.scored_rows``): what Redis
sends for each wanted item, ``[member, score, member, score, ...]`` as bytes, read back to the
members and scores that were stored, in their order; a row that is not pairs is an error."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feature_store.covisit import scored_rows

# Scores as Redis writes them: the shortest decimal that reads back to the double, or +-inf.
PAIRS = st.lists(st.tuples(st.text(max_size=10), st.floats(allow_nan=False)), max_size=8)


def _wire(score: float) -> bytes:
    return {math.inf: b"inf", -math.inf: b"-inf"}.get(score, repr(score).encode())


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), PAIRS, max_size=6))
def test_each_row_reads_back_to_its_members_and_scores(stored: dict) -> None:
    wanted = list(stored)
    rows = [[p for m, s in pairs for p in (m.encode(), _wire(s))] for pairs in stored.values()]
    got = scored_rows(wanted, rows)
    assert list(got) == [item for item in wanted if stored[item]]  # empty rows left out
    for item, pairs in got.items():
        assert [m for m, _ in pairs] == [m for m, _ in stored[item]]
        # the same doubles, bit for bit (a zero keeps its sign)
        assert [struct.pack("<d", s) for _, s in pairs] == [
            struct.pack("<d", s) for _, s in stored[item]
        ]


def test_a_row_that_is_not_pairs_or_a_missing_row_is_an_error() -> None:
    with pytest.raises(ValueError):
        scored_rows(["a"], [[b"x", b"1", b"y"]])
    with pytest.raises(ValueError):
        scored_rows(["a", "b"], [[b"x", b"1"]])


def test_an_example_by_hand() -> None:
    rows = [[b"x", b"2", b"y", b"0.5"], [], [b"z", b"-inf"]]
    assert scored_rows(["b", "a", "c"], rows) == {
        "b": [("x", 2.0), ("y", 0.5)],
        "c": [("z", -math.inf)],
    }
