"""Kafka administration: create Pulse's topics, look up partitions, open topic readers."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from core.errors import ServiceError
from core.events import EventKind
from core.settings import Settings
from core.topics import Topics

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings, *, timeout_s: float = 30.0) -> list[str]:
    """Create every Pulse topic that does not exist yet; return the names it created.

    The catalogue topic is compacted (key = item_id, a tombstone removes an item); the forget
    topic is compacted (key = user_id) and keeps a request ``forget_keep_days``.
    Retries until the broker answers or ``timeout_s`` passes.
    """
    topics = Topics.from_settings(settings)
    configs = {
        topics.for_kind(EventKind.CATALOG): {"cleanup.policy": "compact"},
        # The latest request per shopper, for as long as older events may still be read.
        topics.forget: {
            "cleanup.policy": "compact,delete",
            "retention.ms": str(int(settings.forget_keep_days * 86_400_000)),
        },
    }
    new = [
        NewTopic(
            name,
            settings.partitions,
            settings.replication_factor,
            topic_configs=configs.get(name, {}),
        )
        for name in topics.all
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await admin.start()
            break
        except KafkaError as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise ServiceError(
                    f"Kafka at {settings.kafka_bootstrap} did not answer within {timeout_s:.0f} s; "
                    "start it with `infra/stack.sh up` or set PULSE_KAFKA_BOOTSTRAP"
                ) from exc
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in new if t.name not in existing]
        if missing:
            try:
                response = await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                response = None
            for name, code, message in getattr(response, "topic_errors", []):
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise ServiceError(f"Kafka refused to create topic {name!r}: {message}")
        created = [t.name for t in missing]
        if created:
            log.info("created topics %s", ", ".join(created))
        return created
    finally:
        await admin.close()


async def topic_partitions(settings: Settings, topic: str, wait_s: float = 10.0) -> list[int]:
    """The partitions ``topic`` has on the broker (a topic made earlier may have a count other
    than ``PULSE_PARTITIONS``). A topic just made can be described without partitions for a
    moment: asked again for up to ``wait_s``, then a ServiceError."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            described = await admin.describe_topics([topic])
            found = sorted(p["partition"] for p in described[0]["partitions"])
            if found:
                return found
            if asyncio.get_running_loop().time() >= deadline:
                raise ServiceError(
                    f"Kafka describes topic {topic!r} without partitions after {wait_s:.0f} s "
                    "(does it exist?)"
                )
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def topic_reader(settings: Settings, topic: str, *, from_end: bool) -> AIOKafkaConsumer:
    """A started, group-less consumer of every partition of ``topic``, at its start or end.

    For tools that watch a topic (the demo, benchmarks, tests); workers use Faust's group.
    """
    partitions = await topic_partitions(settings, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    parts = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(parts)
    if from_end:
        await consumer.seek_to_end(*parts)
    else:
        await consumer.seek_to_beginning(*parts)
    return consumer


async def check_input_partitions(settings: Settings) -> None:
    """Refuse (ServiceError) when the shoppers' input topics have different partition counts.

    A shopper's events are keyed by user id on every topic, so they land on the same partition
    number in each, and the one worker that owns that number owns the shopper (their state, its
    cache). With different counts a shopper's clicks and purchases go to different workers.
    """
    topics = Topics.from_settings(settings)
    user_topics = [topics.for_kind(k) for k in EventKind if k is not EventKind.CATALOG]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(user_topics)
    finally:
        await admin.close()
    counts = {t["topic"]: len(t["partitions"]) for t in described}
    problem = partition_problem(counts)
    if problem is not None:
        raise ServiceError(problem)


def partition_problem(counts: dict[str, int]) -> str | None:
    """What is wrong with these partition counts, and the fix; None when they agree.

    >>> partition_problem({"p.events.clicks": 8, "p.events.searches": 8}) is None
    True
    """
    if len(set(counts.values())) <= 1:
        return None
    most = max(counts.values())
    listed = ", ".join(f"{t} {n}" for t, n in sorted(counts.items()))
    fewer = [t for t, n in sorted(counts.items()) if n < most]
    return (
        f"the input topics have different partition counts ({listed}): one shopper's events "
        "would reach different workers, which each keep that shopper's state. Give them all "
        f"{most} partitions before events flow, for example `kafka-topics.sh --bootstrap-server "
        f"<broker> --alter --partitions {most} --topic <topic>` for "
        f"{', '.join(fewer)} (adding partitions moves keys: do it on empty topics, or recreate "
        "them)"
    )
