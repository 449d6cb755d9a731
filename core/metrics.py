"""In-process counters, rendered in the Prometheus text format for ``GET /metrics``."""

from __future__ import annotations

import threading
from collections import defaultdict


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

    def get(self, name: str, label: str | None = None, value: str | None = None) -> float:
        series = (label, value) if label is not None and value is not None else None
        return self._values.get(name, {}).get(series, 0)

    def render(self) -> str:
        with self._lock:
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
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
