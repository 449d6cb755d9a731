"""The worker's start keeps its long-lived objects out of the collector's full passes."""

from __future__ import annotations

import gc
import weakref


class _Cycle:
    other: object


def _cycle() -> tuple[_Cycle, weakref.ref[_Cycle]]:
    a, b = _Cycle(), _Cycle()
    a.other, b.other = b, a
    return a, weakref.ref(a)


def test_settle_heap_freezes_what_exists_and_still_collects_what_comes_later() -> None:
    from tools.cli import settle_heap

    before, before_ref = _cycle()
    try:
        kept = settle_heap()
        assert kept == gc.get_freeze_count() > 1_000

        # A cycle that existed at the freeze is out of the collector's passes: dropped now,
        # it survives a full collection.
        del before
        gc.collect()
        assert before_ref() is not None

        # A cycle made after the freeze is still freed.
        after, after_ref = _cycle()
        del after
        gc.collect()
        assert after_ref() is None
    finally:
        gc.unfreeze()
    gc.collect()
    assert before_ref() is None  # unfrozen, the old cycle goes too
