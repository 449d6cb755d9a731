"""Every topic name Pulse uses, derived from one prefix. Pure naming, no Kafka client."""

from __future__ import annotations

from dataclasses import dataclass

from core.events import EventKind
from core.settings import Settings

_SUFFIX = {
    EventKind.CLICK: "events.clicks",
    EventKind.SEARCH: "events.searches",
    EventKind.PURCHASE: "events.purchases",
    EventKind.REVIEW: "events.reviews",
    EventKind.CATALOG: "catalog",
}


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic name Pulse uses, derived from one prefix (``pulse.`` by default)."""

    prefix: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(settings.topic_prefix)

    def for_kind(self, kind: EventKind) -> str:
        return self.prefix + _SUFFIX[kind]

    def kind_of(self, topic: str) -> EventKind:
        for kind in EventKind:
            if self.for_kind(kind) == topic:
                return kind
        raise KeyError(f"{topic!r} is not an input topic of prefix {self.prefix!r}")

    @property
    def inputs(self) -> list[str]:
        return [self.for_kind(kind) for kind in EventKind]

    @property
    def dead_letter(self) -> str:
        return self.prefix + "dead-letter"

    @property
    def recommendations(self) -> str:
        return self.prefix + "recommendations"

    @property
    def trends(self) -> str:
        return self.prefix + "trends"

    @property
    def forget(self) -> str:
        """Requests to forget a shopper (``core.forget``), compacted, read by every worker."""
        return self.prefix + "forget"

    @property
    def trend_observations(self) -> str:
        """Trend observations on their way to the worker that owns each subject
        (``trends.exchange``)."""
        return self.prefix + "trend-observations"

    @property
    def all(self) -> list[str]:
        return [
            *self.inputs,
            self.dead_letter,
            self.recommendations,
            self.trends,
            self.forget,
            self.trend_observations,
        ]
