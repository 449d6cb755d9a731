"""Follow a whole topic in every worker: the catalogue, the forget requests.

The Faust agent consumes only the partitions the group assigns to its worker; some topics every
worker must read in full. A :class:`TopicFollower` reads all partitions of one topic from the
beginning with a group-less consumer, hands each poll's messages to :meth:`apply`, and sets
``ready`` once it has applied what the topic held at its first start. Run it under the worker's
supervisor (``core.supervisor``): after an error it goes on from the first message not applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from core.settings import Settings
from streams.admin import topic_partitions

log = logging.getLogger(__name__)


class TopicFollower:
    def __init__(self, settings: Settings, topic: str, client_id: str) -> None:
        self.settings = settings
        self.topic = topic
        self.client_id = client_id
        self.ready = asyncio.Event()
        # Per partition, the next offset to apply; and the ends to reach before being ready.
        self._positions: dict[TopicPartition, int] = {}
        self._ends: dict[TopicPartition, int] | None = None

    async def apply(self, messages: Sequence[Any]) -> None:
        """Apply one poll's messages, in order; raise only what a restart should retry."""
        raise NotImplementedError

    def on_ready(self) -> None:
        """Called once, when the topic as it was at the first start is applied."""

    async def run(self) -> None:
        """Follow the topic until cancelled."""
        consumer = await self._open()
        try:
            await self._follow(consumer)
        finally:
            await consumer.stop()

    async def _open(self) -> AIOKafkaConsumer:
        partitions = await topic_partitions(self.settings, self.topic)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            client_id=self.client_id,
        )
        await consumer.start()
        try:
            parts = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(parts)
            for tp in parts:
                if tp in self._positions:
                    consumer.seek(tp, self._positions[tp])
                else:
                    await consumer.seek_to_beginning(tp)
            if self._ends is None:
                self._ends = await consumer.end_offsets(parts)
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        assert self._ends is not None
        ends = self._ends
        pending = {tp for tp, end in ends.items() if self._positions.get(tp, 0) < end}
        while True:
            if not pending and not self.ready.is_set():
                self.on_ready()
                self.ready.set()
            batch = await consumer.getmany(timeout_ms=200, max_records=2_000)
            messages = [m for records in batch.values() for m in records]
            if messages:
                await self.apply(messages)
            for tp, records in batch.items():
                if records:
                    self._positions[tp] = records[-1].offset + 1
            for tp in list(pending):
                # The position skips offsets compaction removed; the records do not.
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
