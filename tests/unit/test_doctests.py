"""The examples in module docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "bench.session_rerank",
    "core.metrics",
    "core.retry",
    "encoders.pooling",
    "feature_store.periodic",
    "feature_store.users",
    "ranking.blend",
    "ranking.explore",
    "ranking.intent",
    "ranking.trending",
    "trends.bursts",
    "trends.exchange",
    "trends.peaks",
    "tools.prune_runs",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    if name != "ranking.blend":
        assert result.attempted > 0
