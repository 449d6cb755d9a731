"""Trend statistics against numpy references, and on synthetic traffic with known answers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click, Search
from feature_store.memory import memory_stores
from feature_store.state_codec import decode, encode
from personalisation.pipeline import Personaliser
from ranking.intent import IntentConfig, drift, session_category
from ranking.item_index import ItemIndex, ItemInfo
from ranking.state import UserState
from trends.bursts import BurstDetector
from trends.peaks import HOUR_MS, SLOTS, HourOfWeekProfile, hour_of_week
from trends.tracker import Observations, TrendConfig, TrendTracker

W = 60_000
MONDAY = int(datetime(2024, 6, 3, tzinfo=UTC).timestamp() * 1000)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 40), st.integers(0, W - 1)),
        min_size=1,
        max_size=200,
    ),
    st.floats(0.05, 0.5),
)
def test_baselines_are_exponential_means_of_counts_per_window(
    events: list[tuple[str, int, int]], alpha: float
) -> None:
    d = BurstDetector(W, alpha=alpha)
    events.sort(key=lambda e: (e[1], e[2]))
    for key, window, offset in events:
        d.add(key, window * W + offset)
    last = events[-1][1]
    d.add("tick", (last + 1) * W)  # closes every window up to ``last``
    counts = np.zeros((3, last + 1))
    for key, window, _ in events:
        counts["abc".index(key), window] += 1
    first = events[0][1]
    for k, key in enumerate("abc"):
        mean = 0.0
        for window in range(first, last + 1):
            mean = (1 - alpha) * mean + alpha * counts[k, window]
        # as of the open window last + 1, weights normalised over the windows seen
        seen = last - first + 1
        assert np.isclose(d.baseline(key), mean / (1 - (1 - alpha) ** seen), atol=1e-12)
    assert d.closed == last - first + 1


def steady_traffic(
    d: BurstDetector, rng: np.random.Generator, rates: np.ndarray, window: int
) -> list[str]:
    """One window of Poisson traffic for keys k0..kn at ``rates``; the keys flagged."""
    events = [
        (f"k{k}", window * W + int(rng.integers(0, W)))
        for k, rate in enumerate(rates)
        for _ in range(rng.poisson(rate))
    ]
    events.sort(key=lambda e: e[1])
    flagged = []
    for key, ts in events:
        d.add(key, ts)
        flagged += [b.key for b in d.bursts()]
    return flagged


def test_steady_traffic_raises_no_alarm_and_a_burst_is_flagged_in_its_first_window() -> None:
    rng = np.random.default_rng(7)
    rates = rng.uniform(2, 60, size=300)  # best-sellers and slow movers, all steady
    d = BurstDetector(W)  # the defaults: support 10, ratio 3, z 4, 10 windows to learn
    alarms = [key for window in range(40) for key in steady_traffic(d, rng, rates, window)]
    assert alarms == []
    # Key k3 takes off: ten times its usual rate from window 40 on.
    burst_rates = rates.copy()
    burst_rates[3] *= 10
    flagged = steady_traffic(d, rng, burst_rates, 40)
    assert flagged == ["k3"]  # in the first window of the burst, once
    assert steady_traffic(d, rng, burst_rates, 41) == ["k3"]  # once more per window


def test_nothing_trends_while_the_baseline_is_learned_and_late_events_are_counted() -> None:
    d = BurstDetector(W, min_support=2, warmup_windows=3)
    for n in range(10):
        d.add("new", n)
    assert d.bursts() == []  # no window closed yet: no baseline
    d.add("x", 4 * W)
    d.add("new", 0)  # its window closed
    assert d.late == 1.0
    for n in range(10):
        d.add("new", 4 * W + n)
    assert [b.key for b in d.bursts()] == ["new"]


def test_hour_of_week_profile_is_the_decayed_share_of_each_hour() -> None:
    rng = np.random.default_rng(1)
    stamps = np.sort(rng.integers(MONDAY, MONDAY + 30 * 24 * HOUR_MS, size=3000))
    profile = HourOfWeekProfile(UTC, half_life_days=10, min_events=100, min_days=7)
    for ts in stamps:
        profile.add(int(ts))
    h = 10 * 24 * HOUR_MS
    expected = np.zeros(SLOTS)
    for ts in stamps:
        expected[hour_of_week(int(ts), UTC)] += 2.0 ** (-(stamps[-1] - ts) / h)
    assert np.allclose(profile.rates(), expected / expected.sum())
    assert profile.ready


def test_a_busy_hour_is_a_peak_and_the_next_one_is_found() -> None:
    profile = HourOfWeekProfile(UTC, min_events=100, min_days=7)
    for day in range(21):
        for hour in range(24):
            busy = day % 7 == 4 and hour in (18, 19)  # Fridays 18:00-19:59
            for minute in range(20 if busy else 2):
                profile.add(MONDAY + (day * 24 + hour) * HOUR_MS + minute * 60_000)
    assert profile.peak_slots() == {4 * 24 + 18, 4 * 24 + 19}
    assert profile.peak_starts() == [4 * 24 + 18]
    slot, when = profile.next_peak(MONDAY + 21 * 24 * HOUR_MS)  # type: ignore[misc]
    assert slot == 4 * 24 + 18 and when == datetime(2024, 6, 28, 18, tzinfo=UTC)


def test_the_tracker_announces_a_peak_as_it_starts() -> None:
    tracker = TrendTracker(TrendConfig(peak_min_events=100), UTC)
    signals = []
    for day in range(15):
        for hour in range(24):
            obs = Observations()
            for minute in range(30 if hour == 9 else 3):
                ts = MONDAY + (day * 24 + hour) * HOUR_MS + minute * 60_000
                obs.activity.append(("Home > Candles", ts))
            signals += [s for s in tracker.observe(obs) if s["kind"] == "peak_time"]
    # Once a week of history is learned, every 09:00 starts a peak, shop-wide and for candles.
    days = sorted({datetime.fromtimestamp(s["ts"] / 1000, UTC).day for s in signals})
    assert len(days) == 8 and all(s["details"]["hour_of_week"].endswith("09:00") for s in signals)
    assert {s["subject"] for s in signals} == {"all", "Home > Candles"}
    summary = tracker.summary("peak_time", 5)
    assert summary["profiles"][0]["subject"] == "all"
    assert summary["profiles"][0]["next_peak"].endswith("09:00:00+00:00")


def index() -> ItemIndex:
    rng = np.random.default_rng(2)
    idx = ItemIndex(8)
    for item, category in [
        ("c1", "Home > Candles"),
        ("c2", "Home > Candles"),
        ("c3", "Home > Candles"),
        ("k1", "Home > Kitchen"),
        ("k2", "Home > Kitchen"),
        ("k3", "Home > Kitchen"),
    ]:
        v = rng.standard_normal(8).astype(np.float32)
        idx.upsert(ItemInfo(item, f"{item} title", category, True), v / np.linalg.norm(v))
    return idx


async def test_a_shopper_moving_from_candles_to_tea_towels_raises_one_intent_shift() -> None:
    tracker = TrendTracker(TrendConfig(), UTC)
    p = Personaliser(index(), memory_stores(8), encoder=None, trends=tracker)  # type: ignore[arg-type]
    t = MONDAY
    signals = []
    steps = [("mover", "c1"), ("mover", "c2"), ("stayer", "c1"), ("mover", "c3")]
    steps += [("stayer", "c2"), ("mover", "k1"), ("mover", "k2"), ("mover", "k3")]
    steps += [("stayer", "c3"), ("mover", "k1"), ("mover", "k2")]
    for n, (user, item) in enumerate(steps):
        event = Click(f"e{n}", user, t + n * 60_000, item, "click")
        outcome = await p.run([event])
        signals += [s for s in outcome.trends if s["kind"] == "intent_shift"]
    assert [(s["subject"], s["details"]) for s in signals] == [
        ("mover", {"from": "Home > Candles", "to": "Home > Kitchen", "trigger": "category"})
    ]
    assert 0 <= signals[0]["score"] <= 2
    assert tracker.summary("intent_shift", 3)["towards"][0]["category"] == "Home > Kitchen"
    state = (await p.stores.users.load(["mover"]))["mover"]
    assert state.intent == "Home > Kitchen" and decode(encode(state)).intent == "Home > Kitchen"


def test_session_category_needs_a_majority_of_recent_weight() -> None:
    cfg = IntentConfig(half_life_ms=60_000)
    category = {"a": "A", "b": "B"}.get
    recent = (("a", 0), ("a", 1), ("b", 2), ("b", 3), ("x", 4))
    assert session_category(recent, category, 4, cfg) is None  # 2 A, 2 B, 1 unknown: no majority
    assert session_category(recent[2:], category, 4, cfg) == "B"
    # Older items weigh less: two fresh B outweigh three A from an hour ago.
    old = (("a", 0), ("a", 1), ("a", 2), ("b", 3_600_000), ("b", 3_600_001))
    assert session_category(old, category, 3_600_001, cfg) == "B"
    assert drift(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0
    assert drift(np.zeros(2), np.array([0.0, 1.0])) == 0.0


def test_observations_count_items_categories_and_normalised_queries() -> None:
    obs = Observations()
    obs.add(Click("e1", "u", 5, "i1", "view"), "Home")
    obs.add(Search("e2", "u", 6, "  Red   Candles "), None)
    assert obs.items == [("i1", 5, 1.0)] and obs.categories == [("Home", 5, 1.0)]
    assert obs.queries == [("red candles", 6)] and obs.activity == [("Home", 5), (None, 6)]
    assert UserState.new(2).intent is None


def test_the_demo_describes_every_kind_of_signal() -> None:
    from tools.demo_trends import describe_signal

    base = {"score": 4.2, "window": None, "ts": MONDAY}
    lines = [
        describe_signal(
            {
                **base,
                "kind": "trending_item",
                "subject": "K1",
                "details": {"count": 12.0, "baseline": 1.5, "ratio": 8.0, "title": "TEA TOWEL"},
            }
        ),
        describe_signal(
            {
                **base,
                "kind": "trending_query",
                "subject": "red",
                "details": {"count": 10.0, "baseline": 0.0, "ratio": None},
            }
        ),
        describe_signal(
            {
                **base,
                "kind": "peak_time",
                "subject": "all",
                "details": {"hour_of_week": "Mon 00:00", "next_peak": "x"},
            }
        ),
        describe_signal(
            {**base, "kind": "intent_shift", "subject": "u1", "details": {"from": "A", "to": "B"}}
        ),
    ]
    assert lines == [
        "  trending_item K1 TEA TOWEL: 12 in the window from 2024-06-03 00:00 UTC, usually 1.5"
        " (z 4.2)",
        "  trending_query red: 10 in the window from 2024-06-03 00:00 UTC, usually 0.0 (z 4.2)",
        "  peak_time all: a peak starts Mon 00:00 (2024-06-03 00:00 UTC, 4.2x an average open"
        " hour); next x",
        "  intent_shift shopper u1: from A to B (drift 4.20)",
    ]


def test_a_key_first_seen_late_is_measured_against_the_whole_history() -> None:
    tracker = TrendTracker(TrendConfig(window_ms=1000, grace_ms=0), UTC)
    for start in range(0, 15_000, 5_000):  # batches of clicks spanning five windows each
        obs = Observations()
        for ts in range(start, start + 5_000, 100):
            obs.add(Click(f"c{ts}", "u", MONDAY + ts, "i1", "click"), None)
        tracker.observe(obs)
    searches = Observations()
    for n in range(12):
        searches.add(Search(f"s{n}", "u", MONDAY + 15_000 + n, "watering can"), None)
    # Windows 0-13 have closed for every detector, queries included (warm-up is ten).
    assert tracker.detectors["trending_query"].closed == 14
    assert [s["subject"] for s in tracker.observe(searches)] == ["watering can"]


async def test_without_categories_a_move_away_from_long_term_interest_is_one_shift() -> None:
    idx = ItemIndex(4)
    for item, vector in [("a1", [1, 0.1, 0, 0]), ("a2", [1, 0, 0.1, 0]), ("a3", [1, 0, 0, 0.1])]:
        idx.upsert(ItemInfo(item, item.upper(), None, True), np.array(vector, np.float32))
    for item, vector in [("b1", [0, 1, 0, 0.1]), ("b2", [0.1, 1, 0, 0]), ("b3", [0, 1, 0.1, 0])]:
        idx.upsert(ItemInfo(item, item.upper(), None, True), np.array(vector, np.float32))
    p = Personaliser(
        idx,
        memory_stores(4),
        encoder=None,  # type: ignore[arg-type]
        trends=TrendTracker(TrendConfig(), UTC),
    )
    day = 24 * HOUR_MS
    clicks = [(n * 60_000, f"a{n % 3 + 1}") for n in range(6)]  # a week of "a" interest
    clicks += [(day + n * 60_000, f"b{n % 3 + 1}") for n in range(8)]  # a day later, "b"
    shifts = []
    for n, (offset, item) in enumerate(clicks):
        outcome = await p.run([Click(f"e{n}", "u", MONDAY + offset, item, "click")])
        shifts += [s for s in outcome.trends if s["kind"] == "intent_shift"]
    assert [s["details"] for s in shifts] == [
        {"from": None, "to": None, "trigger": "drift", "item": "B1"}
    ]
    assert shifts[0]["score"] >= 0.5
    state = (await p.stores.users.load(["u"]))["u"]
    assert decode(encode(state)).drifted == state.drifted


def test_the_demo_describes_a_drift() -> None:
    from tools.demo_trends import describe_signal

    signal = {
        "kind": "intent_shift",
        "subject": "u1",
        "score": 0.8,
        "window": None,
        "ts": MONDAY,
        "details": {"from": None, "to": None, "trigger": "drift", "item": "B1"},
    }
    assert describe_signal(signal) == (
        "  intent_shift shopper u1: moved away from their usual interests, towards B1 (drift 0.80)"
    )


def test_windows_still_open_within_a_long_grace_do_not_pull_the_baseline_down() -> None:
    # Grace of 15 windows: the newest 15 windows are open, their counts not final yet. The
    # baseline is the mean of the closed ones (7), not diluted by the open ones as zeros.
    d = BurstDetector(1000, min_support=10, min_ratio=2, min_z=2, warmup_windows=3, grace_ms=15_000)
    for window in range(40):
        for n in range(7):
            d.add("steady", window * 1000 + n * 100)
        assert d.bursts() == []
    assert d.closed == 40 - 15 - 1
    assert abs(d.baseline("steady") - 7.0) < 1e-9
    for n in range(13):  # 13 in window 40: under twice the baseline (a diluted one: 1.4)
        d.add("steady", 40_000 + n)
    assert d.bursts() == []
    for n in range(10):
        d.add("steady", 40_500 + n)
    assert [b.key for b in d.bursts()] == ["steady"]
