"""Events through the real Kafka into a real worker; counts and dead letters in real Redis/Kafka.

produced = processed + dead-lettered, exactly; each valid event is on its topic exactly as
sent; each invalid one is in the dead-letter topic with the right code and its original bytes.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
from collections import Counter
from typing import Any

import aiohttp
import orjson
import pytest

from core.deadletter import original_payload
from core.errors import InvalidEventError
from core.events import EventKind
from core.settings import Settings
from core.topics import Topics
from replay import synthetic
from replay.corrupt import corrupt
from streams.producer import EventProducer, complete
from tests.integration.stack import read_topic, wait_for_totals
from tests.unit.examples import VALID
from tools.harness import input_lag
from tools.stats import read_totals

pytestmark = pytest.mark.integration

# Deliberately broken messages: (kind, key, value, expected code)
POISON: list[tuple[EventKind, bytes | None, bytes | None, str]] = [
    (EventKind.CLICK, b"u1", b"\x80\x81\x00", "not_utf8"),
    (EventKind.CLICK, b"u1", b"\x00\x01\x02", "not_json"),
    (EventKind.CLICK, b"u1", None, "null_value"),
    (EventKind.SEARCH, None, b"{", "not_json"),
    (EventKind.SEARCH, None, b"[1, 2]", "not_object"),
    (
        EventKind.PURCHASE,
        None,
        orjson.dumps({**VALID[EventKind.PURCHASE], "quantity": 0}),
        "out_of_range",
    ),
    (
        EventKind.REVIEW,
        None,
        orjson.dumps({**VALID[EventKind.REVIEW], "rating": "5"}),
        "wrong_type",
    ),
    (EventKind.REVIEW, b"x" * 5, b"x" * (64 * 1024 + 1), "oversize"),
    (EventKind.CATALOG, b"", None, "missing_field"),
    (EventKind.CLICK, b"someone-else", orjson.dumps(VALID[EventKind.CLICK]), "key_mismatch"),
    (
        EventKind.CLICK,
        None,
        orjson.dumps({**VALID[EventKind.CLICK], "ts": "2011-06-01"}),
        "bad_timestamp",
    ),
]


async def test_producer_path_counts_exactly(
    settings: Settings, worker: subprocess.Popen[bytes]
) -> None:
    topics = Topics.from_settings(settings)
    before = await read_totals(settings)
    rng = random.Random(5)
    sent: dict[EventKind, list[bytes]] = {kind: [] for kind in EventKind}
    poison: list[tuple[str, bytes | None]] = []
    async with EventProducer(settings, client_id="it-producer") as producer:
        # Poison first: the worker must go on to process what follows it.
        for kind, key, value, code in POISON:
            await producer.send_raw(topics.for_kind(kind), key, value)
            poison.append((code, value))
        for index, (kind, event) in enumerate(synthetic.source(600, seed=11).events):
            if kind is not EventKind.CATALOG and index % 10 == 0:
                code, data = corrupt(complete(kind, event), rng)
                await producer.send_raw(topics.for_kind(kind), None, data)
                poison.append((code, data))
                continue
            key, value, _ = producer.prepare(kind, event)
            await producer.send_raw(topics.for_kind(kind), key, value)
            sent[kind].append(value)
        with pytest.raises(InvalidEventError):
            await producer.send(EventKind.SEARCH, {"user_id": "u", "query": ""})
        await producer.flush()

    n_valid = sum(len(v) for v in sent.values())
    totals = await wait_for_totals(settings, before, n_valid + len(poison))
    assert totals.processed == Counter({k.value: len(v) for k, v in sent.items() if v})
    assert totals.dead_lettered == Counter(code for code, _ in poison)

    for kind, values in sent.items():
        on_topic = [value for _, value in await read_topic(settings, topics.for_kind(kind))]
        valid_on_topic = [v for v in on_topic if v in set(values)]
        assert sorted(valid_on_topic) == sorted(values)

    dead = [orjson.loads(v) for _, v in await read_topic(settings, topics.dead_letter) if v]
    got = sorted((r["error"]["code"], original_payload(r) or b"") for r in dead)
    assert got == sorted((code, value or b"") for code, value in poison)
    for record in dead:
        assert set(record) >= {"source_topic", "partition", "offset", "key", "error", "payload"}
        assert record["source_topic"] in topics.inputs
        assert record["error"]["message"]


async def post(settings: Settings, body: bytes) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{settings.web_port}/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": "application/json"}) as response,
    ):
        return response.status, await response.json()


async def test_http_ingest(settings: Settings, worker: subprocess.Popen[bytes]) -> None:
    before = await read_totals(settings)
    batch = [{"type": kind.value, **event} for kind, event in VALID.items()]
    batch.append({"type": "search", "user_id": "http-user", "query": "candles"})
    status, body = await post(settings, orjson.dumps({"events": batch}))
    assert status == 202, body
    assert body["accepted"] == 6
    assert body["by_type"] == {"click": 1, "search": 2, "purchase": 1, "review": 1, "catalog": 1}
    assert body["event_ids"][5] and len(body["event_ids"][5]) == 32

    bad = [batch[0], {**batch[2], "quantity": -1}, {"type": "wave", "user_id": "u"}]
    status, body = await post(settings, orjson.dumps(bad))
    assert status == 400
    assert body["accepted"] == 0
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "out_of_range"),
        (2, "bad_choice"),
    ]

    status, body = await post(settings, b"{not json")
    assert (status, body["error"]["code"]) == (400, "not_json")
    status, body = await post(settings, b"[" + b"1," * (settings.http_max_body_bytes // 2) + b"1]")
    assert (status, body["error"]["code"]) == (413, "oversize")

    # Only the first request's six events reach the worker: the refused batch sent nothing.
    totals = await wait_for_totals(settings, before, 6)
    assert sum(totals.processed.values()) == 6
    assert sum(totals.dead_lettered.values()) == 0


async def test_health_and_metrics(settings: Settings, worker: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{settings.web_port}/health") as response:
            assert response.status == 200
            health = await response.json()
            # One worker in its group: every input partition is its own.
            assert health["redis"] is True
            assert (
                health["partitions"]
                == len(Topics.from_settings(settings).inputs) * settings.partitions
            )
        async with session.get(f"http://127.0.0.1:{settings.web_port}/metrics") as response:
            text = await response.text()
    totals = await read_totals(settings)
    for kind, n in totals.processed.items():
        assert f'pulse_events_processed_total{{kind="{kind}"}} {n}' in text


async def test_the_worker_collects_everything_between_batches_once_a_period(
    settings: Settings, worker: subprocess.Popen[bytes]
) -> None:
    """The command line's worker keeps the collector's heap (``core.heap.BatchHeap``): a batch
    that ends a period after the last full pass runs one, and counts what it found."""
    await asyncio.sleep(settings.gc_full_pass_seconds + 0.5)
    before = await read_totals(settings)
    async with EventProducer(settings, client_id="it-producer") as producer:
        await producer.send(EventKind.CLICK, VALID[EventKind.CLICK])
        await producer.flush()
    await wait_for_totals(settings, before, 1)
    url = f"http://127.0.0.1:{settings.web_port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    assert re.search(r"^pulse_gc_full_pass_found_total \d+$", text, re.MULTILINE), text[-2000:]


async def test_offsets_are_committed_once_processed(
    settings: Settings, worker: subprocess.Popen[bytes]
) -> None:
    lagging = await input_lag(settings, wait_s=30)
    assert not lagging, f"uncommitted partitions: {lagging}"
