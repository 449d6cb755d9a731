from __future__ import annotations

import doctest

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
