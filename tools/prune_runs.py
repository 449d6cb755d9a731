"""Delete what killed test and benchmark runs left on the local Kafka and Redis.

    python -m tools.prune_runs [--dry-run]        (make prune)

Tests and benchmarks each work in a run of their own (``tools.harness.isolated``): topics named
``<run>.…`` and, Faust's, ``pulse-<run>-…``, and Redis keys ``<run>:…``, where ``<run>`` is one
of ``RUN_LABELS`` and 8 hex digits. A run that ends deletes them (``forget_run``); one that is
killed leaves them, and hundreds of leftover partitions slow the broker's start. This finds
every run's leftovers by that shape and deletes them; the shop's own topics and keys (any other
name) are never touched. Run it when no test or benchmark is running: it would delete theirs
too. (The runs' consumer groups are left: the client cannot delete them, and Kafka drops their
offsets after ``offsets.retention.minutes``, 7 days by default.) Kafka and Redis are the ones
the ``PULSE_*`` settings name.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient

from core.settings import Settings
from feature_store.clients import redis_client
from tools.harness import RUN_LABELS, forget_run, run_names

RUN = re.compile(rf"(?:{'|'.join(RUN_LABELS)})[0-9a-f]{{8}}")


def run_of_topic(name: str) -> str | None:
    """The run a topic belongs to, or None for any other topic.

    >>> run_of_topic("it0123abcd.events.clicks"), run_of_topic("pulse-it0123abcd-__assignor")
    ('it0123abcd', 'it0123abcd')
    >>> run_of_topic("pulse.events.clicks"), run_of_topic("it0123abcd"), run_of_topic("x1.y")
    (None, None, None)
    """
    head, dot, _ = name.partition(".")
    if name.startswith("pulse-"):
        head = name.removeprefix("pulse-").partition("-")[0]
    elif not dot:
        return None
    return head if RUN.fullmatch(head) else None


def run_of_key(key: str) -> str | None:
    """The run a Redis key belongs to, or None.

    >>> run_of_key("bench0123abcd:i:{42}"), run_of_key("pulse:i:{42}")
    ('bench0123abcd', None)
    """
    head, colon, _ = key.partition(":")
    return head if colon and RUN.fullmatch(head) else None


@dataclass
class Leftovers:
    topics: dict[str, list[str]] = field(default_factory=dict)  # run -> its topics
    keys: dict[str, list[str]] = field(default_factory=dict)  # run -> its Redis keys

    @property
    def runs(self) -> set[str]:
        return set(self.topics) | set(self.keys)


async def find(settings: Settings, runs: Collection[str] | None = None) -> Leftovers:
    """Every run's leftovers, or those of ``runs`` only."""
    found = Leftovers()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        for topic in await admin.list_topics():
            run = run_of_topic(topic)
            if run and (runs is None or run in runs):
                found.topics.setdefault(run, []).append(topic)
    finally:
        await admin.close()
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        async for raw in client.scan_iter(count=1000):
            key = raw.decode() if isinstance(raw, bytes) else raw
            run = run_of_key(key)
            if run and (runs is None or run in runs):
                found.keys.setdefault(run, []).append(key)
    finally:
        await client.aclose()
    return found


async def delete(settings: Settings, found: Leftovers) -> None:
    """Each found run's topics and keys, as the run itself deletes them when it ends."""
    for run in sorted(found.runs):
        await forget_run(settings.model_copy(update=run_names(run)))


async def prune(settings: Settings, dry_run: bool) -> Leftovers:
    found = await find(settings)
    for run in sorted(found.runs):
        topics, keys = len(found.topics.get(run, [])), len(found.keys.get(run, []))
        print(f"{run}: {topics} topics, {keys} Redis keys")
    if not dry_run:
        await delete(settings, found)
    topics = sum(len(t) for t in found.topics.values())
    keys = sum(len(k) for k in found.keys.values())
    verb = "would delete" if dry_run else "deleted"
    print(f"{verb} {topics} topics and {keys} Redis keys of {len(found.runs)} runs")
    return found


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    args = p.parse_args()
    asyncio.run(prune(Settings(), args.dry_run))


if __name__ == "__main__":
    main()
