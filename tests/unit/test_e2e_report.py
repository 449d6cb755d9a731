"""The end-to-end benchmark's spread over repeated runs, and which rates it counts as sustained,
on hand-made rows."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from bench.e2e_bench import sustained
from bench.e2e_report import medians, print_spread, spread
from bench.e2e_setups import SETUPS, setup_settings, variant
from core.settings import Settings
from tools.harness import isolated


def row(rate: float, achieved: float, p99: float) -> dict[str, Any]:
    return {
        "offered_per_s": rate,
        "achieved_per_s": achieved,
        "p50_ms": 1.0,
        "p95_ms": 2.0,
        "p99_ms": p99,
    }


def run(engine: list[dict[str, Any]], best: float) -> dict[str, Any]:
    return {"engine": {"clicks": engine, "highest_sustained_click_rate": best}}


def with_ceiling(engine: list[dict[str, Any]], ceiling: list[dict[str, Any]]) -> dict[str, Any]:
    return run(engine, 0) | {"ceiling": {"clicks": ceiling, "highest_sustained_click_rate": 0}}


def test_spread_gives_median_lowest_and_highest_per_rate() -> None:
    runs = [
        run([row(500, 500, 20), row(1000, 900, 300)], 500),
        run([row(500, 498, 25), row(1000, 1000, 90)], 1000),
        run([row(500, 501, 18), row(1000, 950, 120)], 1000),
    ]
    table = spread(runs)["engine"]
    low, high = table["rates"]
    assert low["offered_per_s"] == 500 and high["offered_per_s"] == 1000
    assert low["achieved_per_s"] == {"median": 500, "min": 498, "max": 501}
    assert high["p99_ms"] == {"median": 120, "min": 90, "max": 300}
    assert high["p50_ms"] == {"median": 1.0, "min": 1.0, "max": 1.0}
    assert table["highest_sustained"] == [500, 1000, 1000]
    rows = medians(spread(runs)["engine"])
    assert [(r["offered_per_s"], r["achieved_per_s"], r["p99_ms"]) for r in rows] == [
        (500, 500, 20),
        (1000, 950, 120),
    ]


def test_the_share_of_the_ceiling_is_taken_within_each_run() -> None:
    runs = [
        with_ceiling([row(1000, 900, 1)], [row(1000, 1000, 0)]),
        with_ceiling([row(1000, 600, 1)], [row(1000, 500, 0)]),  # a slow run for both
        with_ceiling([row(1000, 800, 1)], [row(1000, 1000, 0)]),
    ]
    table = spread(runs)
    (engine,) = table["engine"]["rates"]
    # per run 0.9, 1.2, 0.8: not the ratio of the medians (800 / 1000)
    assert engine["share_of_ceiling"] == {"median": 0.9, "min": 0.8, "max": 1.2}
    assert "share_of_ceiling" not in table["ceiling"]["rates"][0]


def carried(
    rate: float, *, achieved: float, lists: int, p99: float, drain: float = 0.5
) -> dict[str, Any]:
    sent = int(rate * 12)
    return row(rate, achieved, p99) | {"sent": sent, "lists": lists, "drain_after_load_s": drain}


def test_a_rate_whose_lists_never_arrived_is_not_sustained() -> None:
    """Events processed but no list seen (the follower missed them, or the worker made none)
    leaves no latency to judge: such a rate is not carried, though its p99 reads 0."""
    clicks = [
        carried(500, achieved=499, lists=6_000, p99=40.0),
        carried(1000, achieved=998, lists=11_900, p99=80.0),
        carried(2000, achieved=1990, lists=0, p99=0.0),  # nothing matched: no latency
        carried(3000, achieved=2990, lists=20_000, p99=90.0),  # lists for 56 % of the events
    ]
    assert sustained(clicks, lists=True) == 1000
    # the ceiling makes no lists: achieved and drained are what count there
    assert sustained(clicks, lists=False) == 3000
    slow = [carried(500, achieved=499, lists=6_000, p99=1_000.0)]
    assert sustained(slow, lists=True) == 0
    assert sustained([carried(500, achieved=470, lists=6_000, p99=40.0)], lists=True) == 0
    assert (
        sustained([carried(500, achieved=499, lists=6_000, p99=40.0, drain=5.0)], lists=True) == 0
    )


def test_a_follower_that_could_not_start_stops_the_run_that_would_measure_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Kafka not answering yet when the benchmark starts: the run fails with the reason instead
    of reporting a rate with no list seen."""
    import bench.e2e_load as e2e_load

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Unable connect to 127.0.0.1:9092")

    monkeypatch.setattr(e2e_load, "topic_reader", unreachable)
    follower = e2e_load.ListFollower(Settings())
    follower.check()  # nothing wrong yet
    with pytest.raises(ConnectionError):
        asyncio.run(follower.run())
    with pytest.raises(RuntimeError, match=r"following the lists failed.*9092"):
        follower.check()


def test_the_spread_of_a_setup_without_lists_prints_no_latency(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ceiling = [row(500, 497, 0.0) | {"lists": 0}, row(1000, 994, 0.0) | {"lists": 0}]
    engine = [row(500, 498, 40.0) | {"lists": 6000}, row(1000, 993, 55.0) | {"lists": 11999}]
    table = spread([with_ceiling(engine, ceiling), with_ceiling(engine, ceiling)])
    print_spread({"ceiling": table["ceiling"]})
    out = capsys.readouterr().out
    assert "no lists made, no latency" in out and "p99" not in out
    print_spread({"engine": table["engine"]})
    out = capsys.readouterr().out
    assert "p99     55.0 ms (55.0-55.0)" in out and "no lists" not in out


def test_a_variant_is_an_engine_whose_workers_get_its_settings() -> None:
    setup = variant("one-batch:batch_max_size=100,gc_threshold=0")
    assert (setup.name, setup.workers, setup.personalise) == ("one-batch", 1, True)
    settings = setup_settings(setup, isolated("t"), partitions=4, port=6100)
    assert (settings.batch_max_size, settings.gc_threshold) == (100, 0)
    assert settings.personalise and settings.partitions == 4 and settings.web_port == 6100
    # the engine itself keeps the defaults
    plain = setup_settings(SETUPS["engine"], isolated("t"), partitions=4, port=6100)
    assert (plain.batch_max_size, plain.gc_threshold) == (
        Settings().batch_max_size,
        Settings().gc_threshold,
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("engine:batch_max_size=100", "not one of"),  # a setup's name
        ("x y:batch_max_size=100", "a variant's name"),
        ("x:", "give NAME:FIELD=VALUE"),
        ("x:batch_max_size", "give NAME:FIELD=VALUE"),
        ("x:no_such_field=1", "no such setting: no_such_field"),
        ("x:batch_max_size=0", "batch_max_size"),  # below its bound
        ("x:batch_max_size=many", "batch_max_size"),
    ],
)
def test_a_variant_that_cannot_run_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        variant(text)


def test_a_variants_rows_are_spread_and_shared_like_the_engines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ceiling = [row(5000, 4800, 0)]
    runs = [
        {"ceiling": {"clicks": ceiling, "highest_sustained_click_rate": 8000}}
        | {
            name: {"clicks": [row(5000, achieved, 900)], "highest_sustained_click_rate": 2000}
            for name in ("engine", "b")
        }
        for achieved in (2400, 2500, 2600)
    ]
    table = spread(runs)
    assert table["b"]["rates"][0]["share_of_ceiling"]["median"] == pytest.approx(2500 / 4800)
    print_spread(table)
    assert "b: median (lowest-highest)" in capsys.readouterr().out
