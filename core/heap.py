"""The worker's garbage collector: its long-lived objects kept out of the full passes,
collections made rarer, and every pause measured (``pulse_gc_pause_seconds{generation}``).

A worker makes and drops objects by the hundred per event (candidates, list entries, decoded
states), nearly all freed by their reference counts rather than by the collector. With Python's
default thresholds (700, 10, 10) one worker at 5,000 clicks/s offered (`bench/e2e_bench.py`, 32
s until drained) collected its youngest objects 10,614 times, the middle generation 964 times
and everything 88 times, about 25 ms a full pass: 3.1 s of pauses in all, each stopping both of
the worker's threads. Collecting the youngest after 10,000 allocations instead: 378, 35 and 3
times, 1.2 s in all (README "Recommendations").
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from core.metrics import Metrics

PAUSE = "pulse_gc_pause_seconds"
FOUND = "pulse_gc_full_pass_found_total"
_GENERATIONS = ("0", "1", "2")


def settle_heap(young_threshold: int = 0) -> int:
    """Keep what the worker has built so far (modules, app, settings: about 100,000 objects)
    out of the garbage collector's full passes: they live as long as the worker does, and each
    full pass over them stopped the event loop for 52-68 ms (8-12 ms without them; searches at
    200/s, README "Search"). Objects made later are collected as before, the youngest after
    ``young_threshold`` allocations (0: Python's default, 700). Returns the objects kept out."""
    gc.collect()
    gc.freeze()
    if young_threshold > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, older, oldest)
    return gc.get_freeze_count()


def watch_collections(metrics: Metrics) -> Callable[[], None]:
    """Observe every collection's pause into ``pulse_gc_pause_seconds{generation}``; returns
    the function that stops watching.

    The collector calls back from inside whatever allocation set it off, which may hold the
    metrics' lock: the pause is handed over with ``observe_later``, which takes no lock.
    """
    metrics.describe(PAUSE, "Pauses of the garbage collector, by generation.")
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pause = time.perf_counter() - started[0]
            metrics.observe_later(PAUSE, pause, "generation", _GENERATIONS[info["generation"]])

    gc.callbacks.append(callback)
    return lambda: gc.callbacks.remove(callback)


class BatchHeap:
    """What a worker's batch leaves alive goes out of the collector's passes when the batch
    ends, and everything is looked at again every ``full_every_s`` seconds.

    At saturation the collector's passes walked mostly objects alive for a while only: the
    batch under way and the messages fetched for the next ones. Each young pass moved them to
    an older generation, whose passes walked them again until their reference counts freed them
    (0.98-1.28 s of pauses in a run of the engine alone at 5,000 clicks/s offered, README
    "Recommendations").
    ``after_batch`` freezes whatever is alive (``gc.freeze`` moves the generations' lists, it
    walks nothing), so a pass walks only what was made since the last batch ended, and with the
    youngest generation's threshold above what one batch makes (``PULSE_GC_THRESHOLD``) none
    runs at all. Frozen objects are still freed by their reference counts; cycles among them
    wait for the full pass (``gc.unfreeze``, ``gc.collect``, ``gc.freeze``), whose finds are
    counted in ``pulse_gc_full_pass_found_total`` (the pipeline itself makes none: 20,000 events
    in process with the collector off left nothing for it, one-off). ``full_every_s`` 0: no
    freezing, ``after_batch`` does nothing (``PULSE_GC_FULL_PASS_SECONDS=0``).
    """

    def __init__(
        self,
        full_every_s: float,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.full_every_s = full_every_s
        self.clock = clock
        self.metrics = metrics
        if metrics is not None:
            metrics.describe(FOUND, "Unreachable objects the periodic full collections found.")
        self._last_full = clock()
        # Unreachable objects found by the full passes so far: cycles the freezes held back.
        self.found = 0

    def after_batch(self) -> None:
        if self.full_every_s <= 0:
            return
        now = self.clock()
        if now - self._last_full >= self.full_every_s:
            self._last_full = now
            gc.unfreeze()
            found = gc.collect()
            self.found += found
            if self.metrics is not None:
                self.metrics.inc(FOUND, n=found)
        gc.freeze()
