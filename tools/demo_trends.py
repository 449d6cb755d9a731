"""The demo's view of ``pulse.trends``: signals as they fire, in words."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from core.settings import Settings
from core.topics import Topics
from tools.demo_recs import TopicWatcher


class TrendWatcher(TopicWatcher):
    """Keeps the signals not shown yet and a count per kind."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, Topics.from_settings(settings).trends)
        self.unseen: list[dict[str, Any]] = []
        self.by_kind: Counter[str] = Counter()

    def handle(self, message: dict[str, Any], now_ms: float) -> None:
        self.by_kind[message["kind"]] += 1
        self.unseen.append(message)
        del self.unseen[:-50]

    def take(self, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` of the newest signals not shown yet (the rest are dropped)."""
        taken, self.unseen = self.unseen[-n:], []
        return taken


def describe_signal(signal: dict[str, Any]) -> str:
    """One line a person reads: what fired, for what, how strongly."""
    kind, subject, details = signal["kind"], signal["subject"], signal["details"]
    when = datetime.fromtimestamp(signal["ts"] / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    if kind.startswith("trending_"):
        name = f"{subject} {details['title']}" if details.get("title") else subject
        return (
            f"  {kind} {name}: {details['count']:g} in the window from {when} UTC, "
            f"usually {details['baseline']:.1f} (z {signal['score']:.1f})"
        )
    if kind == "peak_time":
        return (
            f"  peak_time {subject}: a peak starts {details['hour_of_week']} ({when} UTC, "
            f"{signal['score']:.1f}x an average open hour); next {details['next_peak']}"
        )
    if details.get("trigger") == "drift":
        return (
            f"  intent_shift shopper {subject}: moved away from {details['from'] or 'their usual'}"
            f" interests, towards {details.get('item')} (drift {signal['score']:.2f})"
        )
    return (
        f"  intent_shift shopper {subject}: from {details['from']} to {details['to']} "
        f"(drift {signal['score']:.2f})"
    )
