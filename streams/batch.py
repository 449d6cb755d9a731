"""A worker's micro-batch: validate, dead-letter the bad, personalise the good, count both.

:class:`BatchProcessor` talks to two seams: a publisher (the worker's Kafka producer, or a fake)
for dead letters, and the stores' batch writer for the counts; with personalisation on, the
counts go with the batch's other writes through ``personalisation.pipeline.Personaliser.run``.
``process`` returns only after the dead letters are acknowledged by Kafka and the writes by
Redis, so the agent acks (and Faust commits) offsets after both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from core.deadletter import RawMessage, dead_letter_key, dead_letter_message, encode_dead_letter
from core.errors import InvalidEventError
from core.events import EventKind, UserEvent
from core.metrics import Metrics
from core.retry import Faults, until_done
from core.topics import Topics
from feature_store.counts import BatchCounts
from feature_store.offsets import AppliedOffsets
from feature_store.writes import BatchWriter, BatchWrites
from personalisation.messages import Publisher, publish_records
from personalisation.pipeline import Failed, Personaliser
from streams.triage import Triage, triage


class BatchProcessor:
    def __init__(
        self,
        topics: Topics,
        publisher: Publisher,
        writer: BatchWriter,
        metrics: Metrics,
        personaliser: Personaliser | None = None,
        *,
        max_ahead_ms: int | None = None,
        applied: AppliedOffsets | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topics = topics
        # Events dated more than this after the clock are refused (None: no bound).
        self.max_ahead_ms = max_ahead_ms
        self.clock = clock
        self.faults = faults
        # Where each partition's effects are in Redis up to: redelivered messages are skipped.
        self.applied = applied
        self.publisher = publisher
        self.writer = writer
        self.metrics = metrics
        self.personaliser = personaliser
        metrics.describe("pulse_events_processed_total", "Valid events processed, by kind.")
        metrics.describe("pulse_events_dead_lettered_total", "Messages dead-lettered, by code.")
        metrics.describe("pulse_batches_total", "Micro-batches processed.")
        metrics.describe(
            "pulse_redelivered_skipped_total", "Redelivered messages already applied, skipped."
        )

    async def process(self, messages: Sequence[RawMessage]) -> BatchCounts:
        messages = await self._not_applied(messages)
        offsets: dict[tuple[str, int], int] = {}
        for m in messages:
            offsets[(m.topic, m.partition)] = max(
                offsets.get((m.topic, m.partition), 0), m.offset + 1
            )
        latest = None
        if self.max_ahead_ms is not None:
            latest = int(self.clock() * 1000) + self.max_ahead_ms
        result = triage(messages, self.topics, latest)
        if result.dead_letters:
            payloads = [(dead_letter_key(m), encode_dead_letter(r)) for m, r in result.dead_letters]
            await self._dead_letter(payloads, "dead letters")
        if self.personaliser is None:
            await until_done(
                lambda: self.writer.write(BatchWrites(counts=result.counts, offsets=offsets)),
                "writing batch counts",
                transient=self.writer.transient,
                faults=self.faults,
                part="redis",
            )
        else:
            events: list[UserEvent] = [
                e  # type: ignore[misc]
                for kind, e in result.valid
                if kind is not EventKind.CATALOG
            ]

            # One event that cannot be processed goes to the dead-letter topic with the reason
            # (to be replayed once fixed); the rest of the batch goes on.
            async def on_failed(failed: Failed) -> None:
                await self._dead_letter_failed(result, failed)

            await self.personaliser.run(
                events,
                counts=result.counts,
                offsets=offsets,
                ingested_ms=result.ingested_ms,
                positions=result.positions,
                on_failed=on_failed,
            )
        for kind, n in result.counts.processed.items():
            self.metrics.inc("pulse_events_processed_total", "kind", kind, n)
        for code, n in result.counts.dead_lettered.items():
            self.metrics.inc("pulse_events_dead_lettered_total", "code", code, n)
        self.metrics.inc("pulse_batches_total")
        return result.counts

    async def _not_applied(self, messages: Sequence[RawMessage]) -> Sequence[RawMessage]:
        """The messages whose effects are not in Redis yet (all of them, without ``applied``)."""
        applied = self.applied
        if applied is None or not messages:
            return messages
        done = await until_done(
            lambda: applied.next_offsets({(m.topic, m.partition) for m in messages}),
            "reading applied offsets",
            transient=self.writer.transient,
            faults=self.faults,
            part="redis",
        )
        fresh = [m for m in messages if m.offset >= done.get((m.topic, m.partition), 0)]
        if len(fresh) < len(messages):
            self.metrics.inc("pulse_redelivered_skipped_total", n=len(messages) - len(fresh))
        return fresh

    async def _dead_letter_failed(self, result: Triage, failed: Failed) -> None:
        payloads = []
        for event, exc in failed:
            message = result.sources[id(event)]
            reason = f"{type(exc).__name__}: {exc}"[:500]
            error = InvalidEventError("processing_error", reason)
            payloads.append(dead_letter_message(message, error))
            kind = self.topics.kind_of(message.topic).value
            result.counts.processed[kind] -= 1
            if not result.counts.processed[kind]:
                del result.counts.processed[kind]
            result.counts.dead_lettered["processing_error"] += 1
        await self._dead_letter(payloads, "events that could not be processed")

    async def _dead_letter(self, payloads: list[tuple[bytes | None, bytes]], what: str) -> None:
        await publish_records(self.publisher, self.topics.dead_letter, payloads, what, self.faults)
