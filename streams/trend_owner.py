"""A worker as the owner of trend subjects: it applies the shipments of the observations topic's
partitions it holds (``trends.exchange``), publishes the signals that fire, and keeps each
partition's state in Redis with the input offsets it covers (``feature_store.trend_state``).

Per partition and batch: the shipments are applied in order, the signals published to
``pulse.trends`` (at least once: a batch applied again after a crash before its write fires the
same signals, byte for byte, keyed by kind), then the partition's changes, its signals for
``GET /trends`` and its applied offsets are written in one transaction. A worker that takes a
partition over (a rebalance, a restart) reads its state back from Redis before applying
anything, so baselines, open windows and flagged bursts carry over. A shipment Pulse cannot read
goes to the dead-letter topic with the reason, alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from core.deadletter import RawMessage, dead_letter_message
from core.errors import InvalidEventError
from core.metrics import Metrics
from core.retry import Faults, until_done
from core.topics import Topics
from feature_store.stores import TrendSignals
from feature_store.trend_state import TrendStateStore
from feature_store.writes import redis_transient
from personalisation.messages import Publisher, publish_records, signal_records
from trends.exchange import InvalidShipment, decode
from trends.owner import TrendPartition
from trends.peaks import HourOfWeekProfile
from trends.snapshot import changes, load_profile, restore
from trends.tracker import BURSTS, TrendTracker, describe_profiles

log = logging.getLogger(__name__)
DELAY = "pulse_trend_shipment_delay_seconds"


class TrendOwner:
    def __init__(
        self,
        store: TrendStateStore,
        new_tracker: Callable[[], TrendTracker],
        publisher: Publisher,
        topics: Topics,
        partitions: int,
        *,
        metrics: Metrics | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.store = store
        self.new_tracker = new_tracker
        self.publisher = publisher
        self.topics = topics
        self.partitions = partitions  # of the observations topic
        self.metrics = metrics or Metrics()
        self.faults = faults
        self.parts: dict[int, TrendPartition] = {}  # the partitions loaded, by number
        self._lock = asyncio.Lock()
        self.metrics.describe("pulse_trend_shipments_total", "Trend shipments applied.")
        self.metrics.describe(
            "pulse_trend_entries_skipped_total", "Trend observations of events applied before."
        )
        self.metrics.describe(
            DELAY, "From a trend shipment's publication (its Kafka timestamp) to its owner."
        )

    async def process(self, messages: Sequence[RawMessage]) -> None:
        """Apply a batch of the observations topic; returns once it is published and written."""
        by_partition: dict[int, list[RawMessage]] = defaultdict(list)
        for m in messages:
            by_partition[m.partition].append(m)
        async with self._lock:
            for partition, batch in sorted(by_partition.items()):
                try:
                    await self._apply(partition, batch)
                except BaseException:
                    # Its state in memory may be ahead of Redis: read it again next time.
                    self.parts.pop(partition, None)
                    raise

    async def _apply(self, partition: int, batch: list[RawMessage]) -> None:
        part = self.parts.get(partition)
        if part is None:
            stored = await self._redis(
                lambda: self.store.load(partition), f"reading trend partition {partition}"
            )
            part = restore(self.new_tracker(), stored)
            self.parts[partition] = part
        signals: list[dict[str, Any]] = []
        refused: list[tuple[bytes | None, bytes]] = []
        skipped = part.skipped
        received = time.time() * 1000
        for m in batch:
            if m.timestamp_ms:
                self.metrics.observe(
                    DELAY, max(0.0, received - m.timestamp_ms) / 1000, "topic", "observations"
                )
            try:
                shipment = decode(m.value)
            except InvalidShipment as exc:
                refused.append(
                    dead_letter_message(m, InvalidEventError("invalid_trend_shipment", str(exc)))
                )
                continue
            signals += part.apply(shipment)
        delta = changes(part)
        topics, faults = self.topics, self.faults
        await asyncio.gather(
            publish_records(
                self.publisher, topics.dead_letter, refused, "refused trend shipments", faults
            ),
            publish_records(
                self.publisher, topics.trends, signal_records(signals), "trend signals", faults
            ),
        )
        await self._redis(
            lambda: self.store.save(partition, delta, signals),
            f"writing trend partition {partition}",
        )
        self.metrics.inc("pulse_trend_shipments_total", n=len(batch) - len(refused))
        self.metrics.inc("pulse_trend_entries_skipped_total", n=part.skipped - skipped)
        for signal in signals:
            self.metrics.inc("pulse_trend_signals_total", "kind", signal["kind"])

    def revoked(self) -> None:
        """Partitions may have moved: read each again from Redis before applying to it."""
        self.parts.clear()

    async def summary(
        self, kind: str, limit: int, local: TrendTracker, shifts: TrendSignals | None
    ) -> dict[str, Any]:
        """``GET /trends?kind=``: every owner's latest signals of ``kind`` (intent shifts: every
        worker's, about their own shoppers), the shop's peak profiles, and for intent shifts
        the categories this worker's shoppers move towards (``local``)."""
        out = local.summary(kind, limit)
        every = range(self.partitions)
        if kind in BURSTS or kind == "peak_time":
            out["signals"] = await self.store.latest(kind, limit, every)
        elif shifts is not None:
            out["signals"] = await shifts.latest(kind, limit)
        if kind == "peak_time":
            out["profiles"] = peak_profiles(await self.store.profiles(every), local, limit)
        return out

    async def _redis(self, step: Callable[[], Any], what: str) -> Any:
        return await until_done(
            step, what, transient=redis_transient, faults=self.faults, part="redis"
        )


def peak_profiles(
    stored: dict[str, bytes], local: TrendTracker, limit: int
) -> list[dict[str, Any]]:
    """The stored profiles of every owner, as ``GET /trends?kind=peak_time`` shows them."""
    profiles: dict[str, HourOfWeekProfile] = {}
    for scope, raw in stored.items():
        profiles[scope] = local.new_profile()
        load_profile(profiles[scope], raw)
    latest = max((p.last_ms or 0 for p in profiles.values()), default=0)
    return describe_profiles(profiles, latest, limit)
