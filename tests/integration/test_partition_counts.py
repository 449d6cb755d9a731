"""A worker refuses to start when the shoppers' input topics have different partition counts,
and says which and how to fix it (on the real broker)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.events import EventKind
from core.topics import Topics
from tests.integration.stack import ROOT, check_services, new_settings
from tools.harness import forget_run, settings_env

pytestmark = pytest.mark.integration


async def test_mismatched_partition_counts_refuse_to_start() -> None:
    settings = new_settings(partitions=3)
    topics = Topics.from_settings(settings)
    searches = topics.for_kind(EventKind.SEARCH)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        # The searches topic made first, by hand, with 2 partitions; the others get 3.
        await admin.create_topics([NewTopic(searches, 2, 1)])
    finally:
        await admin.close()
    try:
        await check_services(settings)  # creates the missing topics with 3 partitions
        done = subprocess.run(
            [sys.executable, "-m", "tools.cli", "worker"],
            env={**settings_env(settings), "PATH": "/usr/bin:/bin"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        await forget_run(settings)
    assert done.returncode == 1
    assert "different partition counts" in done.stderr
    assert f"{searches} 2" in done.stderr and "--partitions 3" in done.stderr
