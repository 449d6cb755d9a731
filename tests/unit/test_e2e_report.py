"""The end-to-end benchmark's spread over repeated runs, on hand-made rows."""

from __future__ import annotations

from typing import Any

from bench.e2e_report import medians, spread


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
