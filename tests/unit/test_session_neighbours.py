"""Session-kNN for a whole batch of shoppers (``ranking.sessions.neighbours_of``): one call
of the compiled index, which releases the GIL once for the batch instead of once a shopper,
and a shopper-by-shopper fallback that keeps one shopper's error theirs. That the batch's
answers are the reference's is held, with the single queries', by the property test in
``test_session_sources``."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ranking.sessions import NativeSessionIndex, Neighbour, answer, neighbours_of
from tests.unit.test_session_sources import MINUTE, T0, clicked


def test_the_sessions_like_a_batch_s_are_found_in_one_call() -> None:
    """``neighbours_of`` asks the index once for the whole batch and gives each shopper the
    answer of their own query, from their current session only."""
    calls: list[int] = []

    class Counting(NativeSessionIndex):
        def neighbours_many(
            self, queries: Sequence[tuple[str, Sequence[str]]], n: int
        ) -> list[list[Neighbour]]:
            calls.append(len(queries))
            return super().neighbours_many(queries, n)

    sessions = Counting()
    sessions.observe("o1", ["a", "x"], T0)
    sessions.observe("o2", ["b", "y"], T0)
    states = {"u1": clicked(("b", 0), ("a", 100)), "u2": clicked(("b", 0))}
    got = neighbours_of(sessions, states, 30 * MINUTE, 10)
    assert calls == [2]
    assert got == {
        "u1": sessions.neighbours("u1", ["a"], 10),
        "u2": sessions.neighbours("u2", ["b"], 10),
    }
    assert [n.item_id for n in got["u1"]] == ["x"] and [n.item_id for n in got["u2"]] == ["y"]


def test_where_the_batch_s_session_query_fails_each_shopper_is_asked_alone() -> None:
    """A failed call for the batch costs no list by itself: every shopper is asked again alone,
    and only the one whose own query fails gets that error (their list fails, the rest not)."""

    class Failing(NativeSessionIndex):
        def neighbours_many(
            self, queries: Sequence[tuple[str, Sequence[str]]], n: int
        ) -> list[list[Neighbour]]:
            if len(queries) > 1:  # the batch's call; a shopper's own (one query) goes through
                raise RuntimeError("the batch's query failed")
            return super().neighbours_many(queries, n)

        def neighbours(self, shopper: str, session: Sequence[str], n: int) -> list[Neighbour]:
            if shopper == "bad":
                raise ValueError("this shopper's query failed")
            return super().neighbours(shopper, session, n)

    sessions = Failing()
    sessions.observe("o1", ["a", "x"], T0)
    states = {"u": clicked(("a", 0)), "bad": clicked(("a", 0))}
    got = neighbours_of(sessions, states, 30 * MINUTE, 10)
    assert [n.item_id for n in got["u"]] == ["x"]  # type: ignore[union-attr]
    assert isinstance(got["bad"], ValueError)
    # what the ranking reads of it: the list, or that shopper's error raised
    assert answer(got["u"]) is got["u"]
    with pytest.raises(ValueError, match="this shopper's query failed"):
        answer(got["bad"])
