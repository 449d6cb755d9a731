"""What the personalisation pipeline counts and times, into the worker's metrics (if any)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from core.metrics import Metrics
from feature_store.writes import BatchWrites
from ranking.blend import Recommendation
from ranking.explore import ThompsonSampler

STEP_SECONDS = "pulse_batch_step_seconds"
METRICS = {
    "pulse_recommendation_impressions_total": "Items shown, by source.",
    "pulse_recommendation_clicks_total": "Clicks on shown items, by source.",
    "pulse_exploration_share": "Share of shown items that explore.",
    "pulse_recommendations_published_total": "Lists published.",
    "pulse_trend_signals_total": "Trend signals published, by kind.",
    "pulse_step_errors_total": "Defects caught in a step, by step.",
    "pulse_events_forgotten_total": "Events of forgotten shoppers up to their deletion, dropped.",
    STEP_SECONDS: "Time of each step of a batch (read includes encode: the batch's new texts).",
}


class Tally:
    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics
        self._shown = 0
        self._explored = 0
        if metrics is not None:
            for name, text in METRICS.items():
                metrics.describe(name, text)

    def step(self, step: str) -> AbstractContextManager[None]:
        """Times a step of the batch into ``pulse_batch_step_seconds{step}``."""
        metrics = self.metrics
        return nullcontext() if metrics is None else metrics.timed(STEP_SECONDS, "step", step)

    def count(
        self, name: str, label: str | None = None, value: str | None = None, n: int = 1
    ) -> None:
        if self.metrics is not None:
            self.metrics.inc(name, label, value, n=n)

    def published(self, writes: BatchWrites) -> None:
        self.count("pulse_recommendations_published_total", n=len(writes.messages))
        for signal in writes.trends:
            self.count("pulse_trend_signals_total", "kind", signal["kind"])

    def impressions(
        self, sampler: ThompsonSampler, recs: Sequence[Recommendation], writes: BatchWrites
    ) -> None:
        """A list is shown: its items count as impressions of their arms (the sampler's and
        the batch's, for the shared counts) and of their sources (the metrics)."""
        by_source: dict[str, int] = {}
        for rec in recs:
            sampler.record_impression(rec.arm or rec.source)
            writes.impressions[rec.arm or rec.source] += 1
            by_source[rec.source] = by_source.get(rec.source, 0) + 1
        for source, n in by_source.items():  # the metrics' lock taken once a source
            self.count("pulse_recommendation_impressions_total", "source", source, n=n)
        self._shown += len(recs)
        self._explored += by_source.get("explore", 0)
        if self.metrics is not None and self._shown:
            self.metrics.set("pulse_exploration_share", self._explored / self._shown)
