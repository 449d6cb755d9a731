"""What every data source yields: contract events in replay order, and what it skipped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.events import EventKind

Item = tuple[EventKind, dict[str, Any]]


@dataclass(slots=True)
class Skipped:
    """Rows a source could not turn into events, by reason; reported, never silently lost."""

    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, reason: str) -> None:
        self.reasons[reason] += 1

    @property
    def total(self) -> int:
        return sum(self.reasons.values())


@dataclass(slots=True)
class Source:
    name: str
    events: Iterator[Item]
    skipped: Skipped
