"""Produce a source's events to Kafka at a fixed rate (open loop) or as fast as possible."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from core.events import EventKind
from core.settings import Settings
from replay.corrupt import corrupt
from replay.source import Source
from streams.producer import EventProducer, complete


@dataclass(slots=True)
class ReplayReport:
    sent: Counter[str] = field(default_factory=Counter)
    corrupted: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values()) + sum(self.corrupted.values())

    def summary(self) -> str:
        rate = self.total_sent / self.seconds if self.seconds else 0.0
        lines = [f"sent {self.total_sent} messages in {self.seconds:.1f} s ({rate:,.0f}/s)"]
        lines += [f"  {kind}: {n}" for kind, n in sorted(self.sent.items())]
        if self.corrupted:
            lines.append(
                f"  deliberately invalid: {sum(self.corrupted.values())} ({dict(self.corrupted)})"
            )
        if self.skipped:
            lines.append(f"  rows skipped by the source: {dict(self.skipped)}")
        return "\n".join(lines)


async def replay(
    settings: Settings,
    source: Source,
    *,
    rate: float | None = None,
    limit: int | None = None,
    duration_s: float | None = None,
    invalid_share: float = 0.0,
    seed: int = 1,
    progress: bool = True,
) -> ReplayReport:
    """Send ``source``'s events; stop after ``limit`` events or ``duration_s`` seconds.

    ``rate`` is events per second, offered on a fixed schedule (open loop); ``None`` sends as
    fast as the producer goes. ``invalid_share`` of the events are replaced by broken bytes.
    """
    report = ReplayReport()
    rng = random.Random(seed)
    started = time.perf_counter()
    bar = tqdm(total=limit, unit="ev", disable=not progress, desc=f"replay {source.name}")
    async with EventProducer(settings, client_id=f"pulse-replay-{source.name}") as producer:
        for index, (kind, event) in enumerate(source.events):
            if limit is not None and index >= limit:
                break
            elapsed = time.perf_counter() - started
            if duration_s is not None and elapsed >= duration_s:
                break
            if rate:
                ahead = index / rate - elapsed
                if ahead > 0.002:
                    await asyncio.sleep(ahead)
            if invalid_share and kind is not EventKind.CATALOG and rng.random() < invalid_share:
                code, data = corrupt(complete(kind, event), rng)
                await producer.send_raw(producer.topics.for_kind(kind), None, data)
                report.corrupted[code] += 1
            else:
                await producer.send(kind, event)
                report.sent[kind.value] += 1
            if index % 500 == 499:
                bar.update(index + 1 - bar.n)
                await asyncio.sleep(0)
        await producer.flush()
    bar.update(report.total_sent - bar.n)
    bar.close()
    report.seconds = time.perf_counter() - started
    report.skipped = Counter(source.skipped.reasons)
    return report
