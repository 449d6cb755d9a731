"""The next-click benchmark's protocol pieces: the spans, the baselines on hand-computed
examples, the session bootstrap, and the engine's learn-only path."""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
import pytest

from bench.session_baselines import AssociationRules, Popularity, SessionKNN, SessionPopularity
from bench.session_bench import bootstrap
from bench.session_data import Event, Stream, add_stream_arguments, chosen_streams
from core.events import Click
from feature_store.memory import memory_stores
from personalisation.pipeline import Personaliser
from ranking.item_index import ItemIndex, ItemInfo

H = 3_600_000


def ev(session: str, item: str, hour: float) -> Event:
    return Event(session, session, item, int(hour * H), "click")


def test_spans_split_by_the_sessions_first_event_and_drop_what_training_never_saw() -> None:
    stream = Stream(
        "t",
        [
            ev("old", "a", 0),
            ev("old", "b", 0.5),
            ev("val", "a", 1.2),  # validation span: [1, 2) for a span of 1 h ending at 3 h
            ev("old", "c", 1.3),  # a history session's later event stays history
            ev("val", "z", 1.4),  # never seen before the span: dropped
            ev("val", "b", 1.5),
            ev("short", "a", 1.6),  # one event left: no case
            ev("short", "y", 1.7),
            ev("test", "a", 2.2),
            ev("test", "c", 2.5),
            ev("test", "last", 2.9999),
        ],
        span_ms=H,
    )
    history, evaluation = stream.split("validation")
    assert [e.session for e in history] == ["old", "old", "old"]
    assert [(e.session, e.item) for e in evaluation] == [("val", "a"), ("val", "b")]
    history, evaluation = stream.split("test")
    assert {e.session for e in history} == {"old", "val", "short"}
    # "last" was never seen before the test span: dropped
    assert [(e.session, e.item) for e in evaluation] == [("test", "a"), ("test", "c")]


def learned(*models: object, events: list[Event]) -> None:
    for e in events:
        for m in models:
            m.update(e)  # type: ignore[attr-defined]


def test_session_popularity_ranks_the_sessions_items_then_the_popular_ones() -> None:
    pop = Popularity()
    learned(pop, events=[ev("s", i, 0) for i in "aabbbcd"])
    spop = SessionPopularity(pop)
    # c twice in the session; a and d once, a more popular overall; then b, the most popular
    assert spop.recommend(["d", "c", "a", "c"], "x", 4) == ["c", "a", "d", "b"]
    assert pop.recommend([], "x", 2) == ["b", "a"]


def test_association_rules_count_pairs_within_sessions_for_the_last_item() -> None:
    ar = AssociationRules()
    learned(ar, events=[ev("1", "a", 0), ev("1", "b", 0), ev("1", "c", 0), ev("2", "a", 0)])
    learned(ar, events=[ev("2", "c", 0), ev("3", "b", 0)])
    assert ar.recommend(["x", "a"], "s", 5) == ["c", "b"]  # c with a in 2 sessions, b in 1
    assert ar.recommend(["b"], "s", 5) == ["a", "c"]
    assert ar.recommend(["unknown"], "s", 5) == []


def test_session_knn_sums_the_cosines_of_the_neighbours_holding_an_item() -> None:
    knn = SessionKNN(k=2, sample=10)
    learned(
        knn,
        events=[
            ev("1", "a", 0),
            ev("1", "x", 0.1),
            ev("2", "a", 0.2),
            ev("2", "b", 0.3),
            ev("2", "y", 0.4),
            ev("3", "a", 0.5),
            ev("3", "b", 0.6),
            ev("3", "c", 0.7),
            ev("3", "d", 0.8),
            ev("me", "a", 0.9),
        ],
    )
    # current session {a, b}: cosines 1/sqrt(2*2) = 0.5, 2/sqrt(2*3) = 0.82, 2/sqrt(2*4) = 0.71;
    # k = 2 keeps sessions 2 and 3 (x of session 1 is left out): a and b 1.53, y 0.82, c, d 0.71
    assert knn.recommend(["a", "b"], "me", 10) == ["a", "b", "y", "c", "d"]


def test_the_bootstrap_interval_covers_the_difference_and_is_zero_when_models_agree() -> None:
    sessions = [f"s{n // 3}" for n in range(300)]
    same = bootstrap([1.0, 0.0, 0.5] * 100, [1.0, 0.0, 0.5] * 100, sessions)
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0}
    rng = np.random.default_rng(1)
    engine = list(rng.random(300) < 0.6)
    best = list(rng.random(300) < 0.4)
    got = bootstrap([float(x) for x in engine], [float(x) for x in best], sessions)
    assert got["low"] < got["difference"] < got["high"]
    assert got["difference"] == pytest.approx((sum(engine) - sum(best)) / 300)


async def test_the_learn_only_path_updates_states_and_builds_no_list() -> None:
    index = ItemIndex(2)
    for item in "ab":
        index.upsert(ItemInfo(item, item, None, True), np.array([1.0, 0.0], np.float32))
    p = Personaliser(index, memory_stores(2), encoder=None)  # type: ignore[arg-type]
    writes = await p.run([Click("e1", "u", 0, "a"), Click("e2", "u", 1000, "b")], rank=False)
    assert writes.messages == [] and [i for i, _ in writes.states["u"].recent] == ["a", "b"]
    assert writes.pairs == {("a", "b"): 1.0} and len(p.sessions) == 1
    writes = await p.run([Click("e3", "u", 2000, "a")])
    assert [m["user_id"] for _, m in writes.messages] == ["u"]


def test_stream_options_name_known_streams_and_existing_files(tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    add_stream_arguments(p)
    assert p.parse_args([]).streams == ["yoochoose", "taobao"]
    clicks = tmp_path / "clicks.tsv.gz"
    with gzip.open(clicks, "wt") as handle:
        handle.write("SessionId\tItemId\tTime\n1\ta\t10.5\n1\tb\t11.0\n")
    args = p.parse_args(["--streams", "yoochoose", "--yoochoose", str(clicks)])
    [stream] = list(chosen_streams(args))
    assert stream.name == "yoochoose" and [e.item for e in stream.events] == ["a", "b"]
    for bad in (["--streams", "yoochoose,nope"], ["--streams", ","], ["--taobao", "/no/file"]):
        with pytest.raises(SystemExit):
            p.parse_args(bad)
