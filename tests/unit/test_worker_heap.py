"""The worker's start keeps its long-lived objects out of the collector's full passes."""

from __future__ import annotations

import gc

from tools.cli import settle_heap


def test_settle_heap_freezes_what_exists_and_still_collects_what_comes_later() -> None:
    try:
        kept = settle_heap()
        assert kept == gc.get_freeze_count() > 1_000

        class Cycle:
            other: object

        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2  # a cycle made after the freeze is still freed
        assert gc.get_freeze_count() == kept
    finally:
        gc.unfreeze()
