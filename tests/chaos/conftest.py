"""Chaos tests: faults injected on the real stack (Kafka, Redis, worker processes), each test
bounded in time and traffic, on 127.0.0.1 only, stopping only the processes it started."""

from __future__ import annotations

import pytest

from tests.cluster import cluster, cluster_port  # noqa: F401  (fixtures)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.chaos)
