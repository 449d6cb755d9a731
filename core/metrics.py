"""In-process counters, rendered in the Prometheus text format for ``GET /metrics``."""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager

# Upper bounds (seconds) of the histograms' buckets; +Inf is implied.
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters (``inc``) and gauges (``set``), with at most one label each; safe to update
    from the worker's ranking thread while the event loop renders them.

    >>> m = Metrics()
    >>> m.inc("pulse_events_processed_total", "kind", "click", 3)
    >>> print(m.render().splitlines()[-1])
    pulse_events_processed_total{kind="click"} 3
    """

    def __init__(self) -> None:
        self._values: dict[str, dict[tuple[str, str] | None, float]] = defaultdict(dict)
        self._help: dict[str, str] = {}
        self._gauges: set[str] = set()
        # name -> label value -> (count per bucket, the last one +Inf; sum of observations)
        self._histograms: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
        self._histogram_label: dict[str, str] = {}
        # observations handed over without the lock (``observe_later``), folded in under it
        self._later: deque[tuple[str, float, str, str]] = deque()
        self._lock = threading.Lock()

    def describe(self, name: str, help_text: str) -> None:
        self._help[name] = help_text

    def inc(
        self, name: str, label: str | None = None, value: str | None = None, n: float = 1
    ) -> None:
        series = (label, value) if label is not None and value is not None else None
        with self._lock:
            bucket = self._values[name]
            bucket[series] = bucket.get(series, 0) + n

    def set(
        self, name: str, value: float, label: str | None = None, label_value: str | None = None
    ) -> None:
        """Set a gauge (a value that goes up and down, such as a hit ratio)."""
        series = (label, label_value) if label is not None and label_value is not None else None
        with self._lock:
            self._gauges.add(name)
            self._values[name][series] = value

    def observe(self, name: str, seconds: float, label: str, value: str) -> None:
        """One observation of a histogram (Prometheus buckets ``BUCKETS_S``)."""
        with self._lock:
            self._fold_later()
            self._observe(name, seconds, label, value)

    def observe_later(self, name: str, seconds: float, label: str, value: str) -> None:
        """:meth:`observe` without taking the lock, for callers that must never wait for it
        (the garbage collector's callbacks, which may run while this thread holds it): the
        observation counts from the next ``observe`` or ``render`` on."""
        self._later.append((name, seconds, label, value))

    def _fold_later(self) -> None:
        later = self._later
        while later:
            self._observe(*later.popleft())

    def _observe(self, name: str, seconds: float, label: str, value: str) -> None:
        self._histogram_label[name] = label
        series = self._histograms.setdefault(name, {})
        counts, total = series.setdefault(value, ([0] * (len(BUCKETS_S) + 1), [0.0]))
        counts[bisect.bisect_left(BUCKETS_S, seconds)] += 1
        total[0] += seconds

    @contextmanager
    def timed(self, name: str, label: str, value: str) -> Iterator[None]:
        """Observe how long the block took (also when it raises)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe(name, time.perf_counter() - start, label, value)

    def get(self, name: str, label: str | None = None, value: str | None = None) -> float:
        series = (label, value) if label is not None and value is not None else None
        return self._values.get(name, {}).get(series, 0)

    def render(self) -> str:
        with self._lock:
            self._fold_later()
            return self._render()

    def _render(self) -> str:
        lines: list[str] = []
        for name in sorted(self._values):
            if name in self._help:
                lines.append(f"# HELP {name} {self._help[name]}")
            kind = "gauge" if name in self._gauges else "counter"
            lines.append(f"# TYPE {name} {kind}")
            for series, value in sorted(self._values[name].items(), key=lambda kv: str(kv[0])):
                labels = "" if series is None else f'{{{series[0]}="{_escape(series[1])}"}}'
                shown = int(value) if float(value).is_integer() else value
                lines.append(f"{name}{labels} {shown}")
        for name in sorted(self._histograms):
            if name in self._help:
                lines.append(f"# HELP {name} {self._help[name]}")
            lines.append(f"# TYPE {name} histogram")
            label = self._histogram_label[name]
            for label_value, (counts, total) in sorted(self._histograms[name].items()):
                tag = f'{label}="{_escape(label_value)}"'
                seen = 0
                for bound, n in zip((*BUCKETS_S, "+Inf"), counts, strict=True):
                    seen += n
                    lines.append(f'{name}_bucket{{{tag},le="{bound}"}} {seen}')
                lines.append(f"{name}_sum{{{tag}}} {total[0]}")
                lines.append(f"{name}_count{{{tag}}} {seen}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
