"""The worker's garbage collector (``core.heap``): long-lived objects out of the full passes,
the youngest collected less often, every pause measured."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from core.heap import FOUND, PAUSE, BatchHeap, settle_heap, watch_collections
from core.metrics import Metrics


class _Cycle:
    other: object


def _cycle() -> tuple[_Cycle, weakref.ref[_Cycle]]:
    a, b = _Cycle(), _Cycle()
    a.other, b.other = b, a
    return a, weakref.ref(a)


def test_settle_heap_freezes_what_exists_and_still_collects_what_comes_later() -> None:
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


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    yield saved
    gc.set_threshold(*saved)
    gc.unfreeze()


def test_settle_heap_collects_the_youngest_after_the_threshold_and_keeps_the_older_ones(
    thresholds: tuple[int, int, int],
) -> None:
    gc.set_threshold(700, 10, 10)
    settle_heap(20_000)
    assert gc.get_threshold() == (20_000, 10, 10)
    gc.set_threshold(700, 7, 9)
    settle_heap(0)  # 0: as Python has it
    assert gc.get_threshold() == (700, 7, 9)


def _pauses(metrics: Metrics, generation: str) -> int:
    line = f'{PAUSE}_count{{generation="{generation}"}} '
    found = [row for row in metrics.render().splitlines() if row.startswith(line)]
    return int(found[0].removeprefix(line)) if found else 0


def test_every_collection_pause_is_observed_by_generation_until_unwatched() -> None:
    metrics = Metrics()
    unwatch = watch_collections(metrics)
    try:
        gc.collect()
        gc.collect()
        gc.collect(0)
        assert _pauses(metrics, "2") >= 2  # others may run meanwhile, never fewer
        assert _pauses(metrics, "0") >= 1
    finally:
        unwatch()
    seen = _pauses(metrics, "2")
    gc.collect()
    assert _pauses(metrics, "2") == seen


def test_a_collection_while_the_metrics_lock_is_held_neither_blocks_nor_loses_its_pause() -> None:
    metrics = Metrics()
    unwatch = watch_collections(metrics)
    try:

        def collect_under_the_lock() -> None:
            with metrics._lock:  # where an allocation inside observe() would set it off
                gc.collect()

        worker = threading.Thread(target=collect_under_the_lock, daemon=True)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the collector's callback waited for the metrics' lock"
        assert _pauses(metrics, "2") >= 1
    finally:
        unwatch()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_after_a_batch_what_it_left_alive_is_out_of_the_passes_until_the_full_pass() -> None:
    clock = _Clock()
    metrics = Metrics()
    heap = BatchHeap(60.0, clock=clock, metrics=metrics)
    try:
        left, left_ref = _cycle()
        heap.after_batch()  # the batch ends with the cycle alive: frozen
        del left
        gc.collect()
        assert left_ref() is not None  # a young or full collection does not walk it

        made, made_ref = _cycle()  # made during the next batch: collected as usual
        del made
        gc.collect()
        assert made_ref() is None

        clock.now = 59.9
        heap.after_batch()
        assert left_ref() is not None and heap.found == 0
        clock.now = 60.0
        heap.after_batch()  # the full pass: unfrozen, collected, frozen again
        assert left_ref() is None
        assert heap.found >= 2
        assert f"{FOUND} {heap.found}" in metrics.render().splitlines()
        assert gc.get_freeze_count() > 0  # what is alive after the pass is frozen again
    finally:
        gc.unfreeze()


def test_the_full_pass_comes_every_period_counted_from_the_last_one() -> None:
    clock = _Clock()
    heap = BatchHeap(10.0, clock=clock)
    try:
        steps = ((5.0, False), (10.0, True), (15.0, False), (19.9, False), (20.0, True))
        for at, collected in steps:
            garbage, garbage_ref = _cycle()
            heap.after_batch()  # a batch ends with the cycle alive
            del garbage
            clock.now = at
            heap.after_batch()  # the next one ends: the full pass if it is due
            assert (garbage_ref() is None) is collected, at
    finally:
        gc.unfreeze()


def test_a_period_of_zero_freezes_nothing() -> None:
    frozen = gc.get_freeze_count()
    heap = BatchHeap(0.0, clock=_Clock())
    _left, left_ref = _cycle()
    del _left
    heap.after_batch()
    assert gc.get_freeze_count() == frozen and heap.found == 0
    gc.collect()
    assert left_ref() is None
