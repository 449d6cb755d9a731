from __future__ import annotations

import doctest

import pytest

import core.metrics
from core.metrics import Metrics


def test_doctests() -> None:
    assert doctest.testmod(core.metrics).failed == 0


def test_prometheus_text() -> None:
    m = Metrics()
    m.describe("pulse_batches_total", "Micro-batches processed.")
    m.inc("pulse_batches_total")
    m.inc("pulse_batches_total", n=2)
    m.inc("pulse_dead_total", "code", 'we"ird\n')
    lines = m.render().splitlines()
    assert "# HELP pulse_batches_total Micro-batches processed." in lines
    assert "pulse_batches_total 3" in lines
    assert 'pulse_dead_total{code="we\\"ird\\n"} 1' in lines


def test_histograms_count_each_observation_in_its_bucket_and_render_cumulatively() -> None:
    m = Metrics()
    m.describe("pulse_batch_step_seconds", "Time of each step.")
    for seconds in (0.0004, 0.001, 0.003, 0.003, 0.2, 30.0):
        m.observe("pulse_batch_step_seconds", seconds, "step", "rank")
    with m.timed("pulse_batch_step_seconds", "step", "write"):
        pass
    text = m.render()
    assert "# TYPE pulse_batch_step_seconds histogram" in text
    # le is "less than or equal": 0.001 falls in the 0.001 bucket
    assert 'pulse_batch_step_seconds_bucket{step="rank",le="0.001"} 2' in text
    assert 'pulse_batch_step_seconds_bucket{step="rank",le="0.005"} 4' in text
    assert 'pulse_batch_step_seconds_bucket{step="rank",le="10.0"} 5' in text
    assert 'pulse_batch_step_seconds_bucket{step="rank",le="+Inf"} 6' in text
    assert 'pulse_batch_step_seconds_count{step="rank"} 6' in text
    assert 'pulse_batch_step_seconds_count{step="write"} 1' in text
    total = next(
        line
        for line in text.splitlines()
        if line.startswith('pulse_batch_step_seconds_sum{step="rank"}')
    )
    assert float(total.split()[-1]) == pytest.approx(30.2074)


def test_the_benchmark_reads_step_quantiles_off_the_rendered_histograms() -> None:
    """``bench.steps`` parses what ``render`` writes, and interpolates quantiles within buckets
    as Prometheus's ``histogram_quantile`` does."""
    from bench import steps

    m = Metrics()
    for _ in range(99):
        m.observe(steps.NAME, 0.004, "step", "rank")  # (0.0025, 0.005]
    m.observe(steps.NAME, 0.3, "step", "rank")  # (0.25, 0.5]
    took = steps.difference({}, steps.parse(m.render()))["rank"]
    assert took["batches"] == 100
    assert took["mean_ms"] == pytest.approx((99 * 4 + 300) / 100, abs=0.01)
    # the 50th observation is in the middle of the (2.5, 5] ms bucket's 99
    assert took["p50_ms"] == pytest.approx(2.5 + 2.5 * 50 / 99, abs=0.01)
    assert took["p99_ms"] == pytest.approx(5.0, abs=0.01)  # the 99th is the bucket's last


def test_observations_handed_over_later_count_from_the_next_render_or_observation() -> None:
    m = Metrics()
    m.observe_later("pulse_x_seconds", 0.002, "part", "a")
    m.observe_later("pulse_x_seconds", 0.5, "part", "a")
    text = m.render()
    assert 'pulse_x_seconds_count{part="a"} 2' in text
    assert 'pulse_x_seconds_bucket{part="a",le="0.0025"} 1' in text
    assert 'pulse_x_seconds_sum{part="a"} 0.502' in text
    m.observe_later("pulse_x_seconds", 0.001, "part", "b")
    m.observe("pulse_x_seconds", 0.001, "part", "a")
    text = m.render()
    assert 'pulse_x_seconds_count{part="a"} 3' in text
    assert 'pulse_x_seconds_count{part="b"} 1' in text


def test_the_benchmark_reads_the_collector_pauses_apart_from_the_steps() -> None:
    from bench import steps

    m = Metrics()
    m.observe(steps.NAME, 0.004, "step", "rank")
    m.observe_later(steps.GC, 0.0002, "generation", "0")
    m.observe_later(steps.GC, 0.0003, "generation", "0")
    m.observe_later(steps.GC, 0.03, "generation", "2")
    text = m.render()
    assert set(steps.parse(text)) == {"rank"}
    collected = steps.pauses(steps.difference({}, steps.parse(text, steps.GC, "generation")))
    assert collected == {
        "0": {"pauses": 2, "total_ms": 0.5, "p99_ms": pytest.approx(0.99, abs=0.01)},
        "2": {"pauses": 1, "total_ms": 30.0, "p99_ms": pytest.approx(49.75, abs=0.01)},
    }
    assert steps.pauses_line(collected) == "generation 0 2 (0.00 s), generation 2 1 (0.03 s)"
