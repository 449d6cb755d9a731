"""Forgetting a shopper in one process: the request's record, the events dropped (those up to
the deletion) and kept (those after), the state, session, signals and lists that go, and what a
data access request shows."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidEventError
from core.events import Click
from core.forget import MAX_USER_ID, Forget, decode_forget, encode_forget
from core.metrics import Metrics
from feature_store.memory import memory_stores
from personalisation.forget import Forgotten, erase, stored_about
from personalisation.pipeline import Personaliser
from ranking.item_index import ItemIndex, ItemInfo
from ranking.sessions import NativeSessionIndex, SessionIndex
from trends.tracker import TrendConfig, TrendTracker

T0 = 1_700_000_000_000


class NoText:
    dim = 2

    async def encode(self, texts: list[str]) -> list[np.ndarray]:
        raise AssertionError("no texts here")


def shop() -> Personaliser:
    index = ItemIndex(2)
    for n, item in enumerate("abcd"):
        angle = n / 4
        index.upsert(
            ItemInfo(item, item.upper(), "Home", True),
            np.array([math.cos(angle), math.sin(angle)], np.float32),
        )
    return Personaliser(index, memory_stores(2), NoText(), metrics=Metrics())  # type: ignore[arg-type]


def click(n: int, user: str, item: str, ts: int) -> Click:
    return Click(f"e{n}", user, ts, item)


@given(st.text(min_size=1, max_size=MAX_USER_ID), st.integers(0, 2**62))
def test_a_forget_record_reads_back_as_written(user_id: str, at_ms: int) -> None:
    key, value = encode_forget(Forget(user_id, at_ms))
    assert key == user_id.encode()
    assert decode_forget(value) == Forget(user_id, at_ms)


@given(st.one_of(st.binary(max_size=200), st.none()))
def test_any_other_value_is_refused_with_a_code(value: bytes | None) -> None:
    try:
        got = decode_forget(value)
    except InvalidEventError as exc:
        assert exc.code in {"not_json", "not_object", "wrong_type", "out_of_range"}
    else:  # the rare bytes that happen to be a valid request
        assert 1 <= len(got.user_id) <= MAX_USER_ID and got.at_ms >= 0


async def test_events_up_to_the_deletion_are_dropped_and_later_ones_start_afresh() -> None:
    p = shop()
    await p.run([click(1, "u1", "a", T0), click(2, "u1", "b", T0 + 1000), click(3, "u2", "a", T0)])
    users = p.stores.users
    p.forget("u1", T0 + 1000)
    await erase(p.stores, "u1")
    assert await users.stored("u1") == (None, None)
    # Replayed (older) events of u1 bring nothing back; u2 is untouched.
    await p.run([click(1, "u1", "a", T0), click(4, "u1", "c", T0 + 1000)])
    assert await users.stored("u1") == (None, None)
    assert (await users.stored("u2"))[0] is not None
    assert "pulse_events_forgotten_total 2" in p.metrics.render()  # type: ignore[union-attr]
    # An event after the deletion starts a new profile, holding only itself.
    await p.run([click(5, "u1", "d", T0 + 1001)])
    state, listed = await users.stored("u1")
    assert state is not None and [i for i, _ in state.recent] == ["d"] and state.events == 1
    assert listed is not None and listed["user_id"] == "u1"


async def test_a_later_deletion_of_the_same_shopper_moves_the_line_forward_only() -> None:
    p = shop()
    p.forget("u1", T0 + 5000)
    p.forget("u1", T0 + 1000)  # an older request read late changes nothing
    assert p.forgotten.at["u1"] == T0 + 5000
    await p.run([click(1, "u1", "a", T0 + 5000), click(2, "u1", "b", T0 + 5001)])
    state, _ = await p.stores.users.stored("u1")
    assert state is not None and [i for i, _ in state.recent] == ["b"]


async def test_the_data_access_request_shows_what_is_held_and_nothing_after_erasure() -> None:
    p = shop()
    await p.run([click(1, "u1", "a", T0), click(2, "u1", "b", T0 + 1000)])
    held = await stored_about(p.stores, "u1")
    assert [r["item_id"] for r in held["state"]["recent_items"]] == ["a", "b"]
    assert held["state"]["events"] == 2 and held["state"]["categories"] == {"Home": 2.0}
    assert held["recommendations"]["user_id"] == "u1" and held["signals"] == []
    p.forget("u1", T0 + 1000)
    await erase(p.stores, "u1")
    assert await stored_about(p.stores, "u1") == {
        "state": None,
        "recommendations": None,
        "signals": [],
    }


def test_a_forgotten_session_is_no_ones_neighbour_and_its_number_names_no_one() -> None:
    index = SessionIndex()
    index.observe("u1", ["a", "b"], T0)
    index.observe("u2", ["a", "c"], T0 + 1)
    assert [n.item_id for n in index.neighbours("u3", ["a"], 5)] == ["b", "c"]
    index.forget("u1")
    assert [n.item_id for n in index.neighbours("u3", ["a"], 5)] == ["c"]
    assert "u1" not in index.sessions and "u1" not in index.shopper_of.values()
    assert all(isinstance(n, int) for posting in index.postings.values() for n in posting)
    index.forget("nobody")  # forgetting someone never seen is fine


def test_the_compiled_index_forgets_the_same_way() -> None:
    index = NativeSessionIndex()
    index.observe("u1", ["a", "b"], T0)
    index.observe("u2", ["a", "c"], T0 + 1)
    index.forget("u1")
    assert [n.item_id for n in index.neighbours("u3", ["a"], 5)] == ["c"]
    assert "u1" not in index and len(index) == 1
    assert index.posting("a") == [0, 1]  # numbers only; 0 names no one any more
    index.forget("nobody")


def test_the_tracker_drops_its_latest_intent_shifts_of_the_shopper() -> None:
    tracker = TrendTracker(TrendConfig(), ZoneInfo("UTC"))
    shift = {"kind": "intent_shift", "subject": "u1", "score": 1.0, "window": None, "ts": T0}
    other = {**shift, "subject": "u2"}
    tracker.recent["intent_shift"] = [shift, other, shift]
    tracker.forget("u1")
    assert tracker.summary("intent_shift", 10)["signals"] == [other]


@pytest.mark.parametrize("user_id", ["", "x" * (MAX_USER_ID + 1)])
def test_a_request_with_an_impossible_user_id_is_refused(user_id: str) -> None:
    with pytest.raises(InvalidEventError):
        decode_forget(encode_forget(Forget(user_id, T0))[1])


def test_deletions_older_than_the_topic_keeps_them_are_let_go() -> None:
    day = 86_400_000
    forgotten = Forgotten(keep_ms=7 * day)
    for n in range(2047):
        forgotten.add(f"old{n}", T0 + n)
    forgotten.add("new", T0 + 8 * day)  # the 2,048th: a prune, the old ones past a week
    assert forgotten.at == {"new": T0 + 8 * day}
    kept = forgotten.kept([click(1, "old1", "a", T0), click(2, "new", "a", T0)])
    assert [e.user_id for e in kept] == ["old1"]
