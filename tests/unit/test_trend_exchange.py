"""Trends repartitioned by subject: routed shipments, applied by one owner per partition, give
the signals one tracker of every event gives; each event counts once however often it is
delivered; a partition stored after any batch and restored goes on as if never stopped."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click, Search
from feature_store.memory import MemoryTrendStateStore
from trends.exchange import InvalidShipment, Router, Shipment, decode, partition_of, route
from trends.owner import TrendPartition
from trends.snapshot import changes, restore
from trends.tracker import Observations, TrendConfig, TrendTracker

CFG = TrendConfig(
    window_ms=1_000,
    min_support=4,
    min_ratio=2,
    min_z=2,
    warmup_windows=3,
    grace_ms=200,
    peak_min_events=20,
    peak_min_days=0,
)
T0 = 1_717_372_800_000  # a Monday, 00:00 UTC
ITEMS = [f"i{n}" for n in range(6)]
CATEGORIES = ["Home", "Garden", None]
QUERIES = ["red candle", "tea towel"]

# One batch: [(user, item index or query, ms after the previous event)]; skewed so that bursts
# and busy hours (peaks) happen often.
batches = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["u1", "u2", "u3"]),
            st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4, 5, "red candle", "red candle", "tea towel"]),
            st.sampled_from([0, 10, 40, 80, 150, 300, 900, 1_500_000]),
        ),
        min_size=1,
        max_size=30,
    ),
    min_size=1,
    max_size=25,
)


def observations(spec: list[list[tuple[str, Any, int]]]) -> list[tuple[Observations, dict]]:
    """Batches of events in event-time order, with their input positions."""
    out, ts, offset = [], T0, 0
    for batch in spec:
        obs, positions = Observations(), {}
        for user, what, gap in batch:
            ts += gap
            offset += 1
            eid = f"e{offset}"
            if isinstance(what, int):
                category = CATEGORIES[what % len(CATEGORIES)]
                obs.add(Click(eid, user, ts, ITEMS[what], "click"), category)
            else:
                obs.add(Search(eid, user, ts, what), None)
            positions[eid] = ("pulse.events.clicks:0", offset)
        out.append((obs, positions))
    return out


def canonical(signals: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(s, option=orjson.OPT_SORT_KEYS) for s in signals)


def tracker() -> TrendTracker:
    return TrendTracker(CFG, UTC)


@settings(max_examples=150, deadline=None)
@given(batches, st.integers(1, 5))
def test_owners_of_routed_shipments_signal_what_one_tracker_signals(spec: Any, parts: int) -> None:
    single = tracker()
    owners = [TrendPartition(tracker()) for _ in range(parts)]
    expected: list[dict[str, Any]] = []
    got: list[dict[str, Any]] = []
    for obs, positions in observations(spec):
        expected += single.observe(obs)
        for p, message in route(obs, positions, parts).items():
            got += owners[p].apply(decode(message))
    assert canonical(got) == canonical(expected)


@settings(max_examples=100, deadline=None)
@given(batches, st.integers(1, 4), st.data())
def test_an_event_delivered_again_counts_once(spec: Any, parts: int, data: Any) -> None:
    once = [TrendPartition(tracker()) for _ in range(parts)]
    twice = [TrendPartition(tracker()) for _ in range(parts)]
    signals_once: list[dict[str, Any]] = []
    signals_twice: list[dict[str, Any]] = []
    for obs, positions in observations(spec):
        for p, message in route(obs, positions, parts).items():
            signals_once += once[p].apply(decode(message))
            signals_twice += twice[p].apply(decode(message))
            if data.draw(st.booleans()):  # published again after a crash before the write
                assert twice[p].apply(decode(message)) == []
    assert canonical(signals_twice) == canonical(signals_once)
    for a, b in zip(once, twice, strict=True):
        assert b.tracker.detectors["trending_item"].baselines == (
            a.tracker.detectors["trending_item"].baselines
        )


@settings(max_examples=100, deadline=None)
@given(batches, st.data())
def test_a_partition_restored_after_any_batch_goes_on_the_same(spec: Any, data: Any) -> None:
    batches_seen = observations(spec)
    cut = data.draw(st.integers(0, len(batches_seen)))
    straight, store = TrendPartition(tracker()), MemoryTrendStateStore()
    signals_straight, signals_restarted = [], []
    part = TrendPartition(tracker())
    for n, (obs, positions) in enumerate(batches_seen):
        shipment = decode(route(obs, positions, 1)[0])
        signals_straight += straight.apply(shipment)
        if n == cut:  # the worker restarted: the state as the store has it
            part = restore(tracker(), asyncio.run(store.load(0)))
        signals_restarted += part.apply(shipment)
        asyncio.run(store.save(0, changes(part), []))
    assert canonical(signals_restarted) == canonical(signals_straight)
    for kind, detector in straight.tracker.detectors.items():
        restored = part.tracker.detectors[kind]
        assert restored.baselines == detector.baselines and restored.windows == detector.windows
        assert (restored.closed, restored.watermark, restored.fired) == (
            detector.closed,
            detector.watermark,
            detector.fired,
        )
    assert part.seen == straight.seen
    stored = store.parts[0]
    opened = {(kind, w) for kind, w in orjson.loads(stored.meta["open"])}
    assert set(stored.windows) == opened  # closed windows' tables deleted, open ones kept


def test_a_burst_of_one_item_over_many_input_partitions_is_flagged_once() -> None:
    owners = [TrendPartition(tracker()) for _ in range(3)]
    signals: list[dict[str, Any]] = []
    ts = T0
    for second in range(8):  # steady traffic: one click of each item per second
        obs, positions = Observations(), {}
        for n, item in enumerate(ITEMS):
            ts = T0 + second * 1_000 + n
            obs.add(Click(f"s{second}-{n}", "u", ts, item, "click"), None)
            positions[f"s{second}-{n}"] = (f"pulse.events.clicks:{n % 4}", second)
        for p, message in route(obs, positions, 3).items():
            signals += owners[p].apply(decode(message))
    assert signals == []
    for worker in range(2):  # then i0 bursts, its clicks on every input partition, two workers
        obs, positions = Observations(), {}
        for n in range(6):
            eid = f"b{worker}-{n}"
            obs.add(Click(eid, f"u{n}", ts + 10 + n, "i0", "click"), None)
            positions[eid] = (f"pulse.events.clicks:{(n + worker) % 4}", 100 + worker * 10 + n)
        for p, message in route(obs, positions, 3).items():
            signals += owners[p].apply(decode(message))
    assert [(s["kind"], s["subject"]) for s in signals] == [("trending_item", "i0")]
    assert signals[0]["details"]["count"] >= CFG.min_support


def test_every_partition_gets_the_clock_and_subjects_go_to_one_owner() -> None:
    obs = Observations()
    obs.add(Click("e1", "u", T0, "i1", "click"), "Home")
    routed = route(obs, {"e1": ("t:0", 3)}, 4)
    assert sorted(routed) == [0, 1, 2, 3]
    shipments = {p: decode(m) for p, m in routed.items()}
    assert all(s.clock == (T0, T0) for s in shipments.values())
    placed = {(e.what, e.subject): p for p, s in shipments.items() for e in s.entries}
    assert placed == {
        ("activity", "all"): partition_of("activity", "all", 4),
        ("activity", "Home"): partition_of("activity", "Home", 4),
        ("trending_item", "i1"): partition_of("trending_item", "i1", 4),
        ("trending_category", "Home"): partition_of("trending_category", "Home", 4),
    }
    assert route(Observations(), {}, 4) == {}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not JSON"),
        (b"[]", "version"),
        (b'{"v": 1, "clock": [2, 1], "sources": [], "entries": []}', "starts after"),
        (b'{"v": 1, "clock": [1, 2], "sources": [], "entries": [[1]]}', "an entry must"),
        (b'{"v": 1, "clock": [1, 2], "sources": [], "entries": [["x", "a", -1, 0, 1, 1]]}', "kind"),
        (
            b'{"v": 1, "clock": [1, 2], "sources": [], "entries": [["activity", "a", 0, 0, 1, 1]]}',
            "source",
        ),
    ],
)
def test_unreadable_shipments_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidShipment, match=reason):
        decode(raw)


scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=5)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
near_shipments = st.fixed_dictionaries(
    {
        "v": st.sampled_from([1, 1, 2, "1"]),
        "clock": st.lists(scalars, max_size=3) | st.just([T0, T0 + 5]),
        "sources": st.lists(st.text(max_size=4) | scalars, max_size=3),
        "entries": st.lists(
            st.lists(scalars | st.sampled_from(["activity", "trending_item"]), max_size=7)
            | st.tuples(
                st.sampled_from(["activity", "trending_query", "nope"]),
                st.text(max_size=4),
                st.integers(-2, 3),
                st.integers(-5, 5) | scalars,
                st.integers(0, 10),
                st.floats() | st.integers(-3, 3),
            ).map(list),
            max_size=5,
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | json_values.map(orjson.dumps) | near_shipments.map(orjson.dumps))
def test_any_bytes_decode_to_a_shipment_or_a_clear_error(raw: bytes) -> None:
    try:
        shipment = decode(raw)
    except InvalidShipment as exc:
        assert str(exc)
    else:
        assert isinstance(shipment, Shipment)
        assert all(isinstance(e.offset, int) and e.weight == e.weight for e in shipment.entries)


def test_a_worker_sends_a_quiet_partition_the_clock_once_per_second_of_event_time() -> None:
    router = Router(4, clock_every_ms=1_000)
    item_partition = partition_of("trending_item", "i1", 4)
    activity = {partition_of("activity", "all", 4), partition_of("activity", "Home", 4)}
    busy = {item_partition, partition_of("trending_category", "Home", 4)} | activity
    assert busy != set(range(4))  # a quiet partition

    def batch(ts: int) -> dict[int, bytes]:
        obs = Observations()
        obs.add(Click(f"e{ts}", "u", ts, "i1", "click"), "Home")
        return router.route(obs, {f"e{ts}": ("t:0", ts - T0)})

    assert set(batch(T0)) == set(range(4))  # the first batch: every partition gets the clock
    assert set(batch(T0 + 500)) == busy  # half a second later: only those with observations
    assert set(batch(T0 + 1_000)) == set(range(4))  # a second since the quiet ones' last clock
    fourth = batch(T0 + 1_100)  # the quiet ones wait again; each message has the clock
    assert set(fourth) == busy
    assert all(decode(m).clock == (T0 + 1_100, T0 + 1_100) for m in fourth.values())
