"""The quality benchmark's engine, checked against the real path: Kafka, a worker, Redis.

    python -m bench.quality_kafka [--invoices 300]   (needs `infra/stack.sh up`)

Replays the first invoices of Online Retail twice: directly through the personalisation step
over in-memory stores (as ``bench.quality_bench`` does), and as purchase events through Kafka
into a real worker process with the same settings, one invoice at a time (each waits for the
list it triggers). Every list the worker publishes must be the direct run's list for that
invoice: the same items in the same order, from the same sources, scores equal to 1e-6.

Both sides encode the catalogue with the fp32 model (int8 quantises activations per batch, so
its vectors depend on which texts share a batch) and run without exploration (it is random).
An invoice whose lines the worker took in two batches gets two lists; it is counted, not
compared. Writes bench/results/quality-kafka.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis

from bench.common import machine, write_json
from bench.datasets import RETAIL
from bench.quality_bench import Engine, build_index, engine_settings
from bench.retail_invoices import Invoice, load
from core.events import EventKind
from core.settings import Settings
from core.topics import Topics
from personalisation.configs import ranking_configs
from streams.admin import ensure_topics, topic_reader
from streams.producer import EventProducer
from tools.harness import forget_run, isolated, start_worker, stop_worker, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
SCORE_TOLERANCE = 1e-6

Items = list[dict[str, Any]]


@dataclass
class SliceReport:
    invoices: int = 0
    compared: int = 0
    identical: int = 0
    split: int = 0
    items_per_list: float = 0.0
    differences: list[dict[str, Any]] = field(default_factory=list)
    split_invoices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.compared > 0 and self.identical == self.compared

    def as_dict(self) -> dict[str, Any]:
        return {
            "invoices": self.invoices,
            "compared": self.compared,
            "identical": self.identical,
            "split_across_batches": self.split,
            "split_invoices": self.split_invoices,
            "items_per_list": self.items_per_list,
            "differences": self.differences[:10],
        }


def slice_settings(models: Path, **overrides: Any) -> Settings:
    """A worker of its own (topics, keys, group, port) with the benchmark's engine settings."""
    values: dict[str, Any] = {
        **isolated("qk"),
        "partitions": 1,
        "batch_max_wait_ms": 100,
        "encoder_precision": "fp32",
        "model_path": models,
        **overrides,
    }
    return engine_settings(**values)


def line_events(invoice: Invoice) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{invoice.invoice}-{n}",
            "user_id": invoice.customer,
            "item_id": item,
            "quantity": quantity,
            "price": price,
            "order_id": invoice.invoice,
            "ts": invoice.ts_ms,
        }
        for n, (item, quantity, price) in enumerate(invoice.lines)
    ]


async def direct_lists(
    invoices: list[Invoice], titles: dict[str, str], settings: Settings
) -> dict[str, Items]:
    """Invoice number -> the list the personalisation step gives after it, in memory."""
    index = build_index(titles, settings.model_path, precision="fp32")
    engine = Engine(index, *ranking_configs(settings))
    out = {}
    for invoice in invoices:
        outcome = await engine.feed(invoice)
        ((_, message),) = outcome.messages
        out[invoice.invoice] = message["items"]
    return out


async def kafka_lists(
    invoices: list[Invoice], titles: dict[str, str], settings: Settings, log: Path
) -> tuple[dict[str, Items], set[str]]:
    """Invoice number -> the list the worker published after it; and the invoices it split."""
    await ensure_topics(settings, timeout_s=30)
    async with EventProducer(settings, client_id="quality-kafka") as producer:
        for item, title in sorted(titles.items()):
            await producer.send(EventKind.CATALOG, {"item_id": item, "title": title})
        await producer.flush()
    proc = start_worker(settings, log)
    try:
        await wait_healthy(f"http://127.0.0.1:{settings.web_port}/health", proc, timeout_s=120)
        await wait_for_catalogue(settings, titles)
        reader = await topic_reader(
            settings, Topics.from_settings(settings).recommendations, from_end=False
        )
        try:
            lists: dict[str, Items] = {}
            split: set[str] = set()
            async with EventProducer(settings, client_id="quality-kafka") as producer:
                for invoice in invoices:
                    events = line_events(invoice)
                    for event in events:
                        await producer.send(EventKind.PURCHASE, event)
                    await producer.flush()
                    triggers = await lists_until(reader, events[-1]["event_id"])
                    if len(triggers) > 1:
                        split.add(invoice.invoice)
                    lists[invoice.invoice] = triggers[events[-1]["event_id"]]
            return lists, split
        finally:
            await reader.stop()
    finally:
        stop_worker(proc)


async def lists_until(reader: Any, event_id: str, timeout_s: float = 60) -> dict[str, Items]:
    """Every list read until the one ``event_id`` triggered, by trigger event id."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, Items] = {}
    while event_id not in seen:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no list triggered by {event_id} within {timeout_s:.0f} s")
        batch = await reader.getmany(timeout_ms=200)
        for records in batch.values():
            for record in records:
                message = orjson.loads(record.value)
                seen[message["trigger_event_id"]] = message["items"]
    return seen


async def wait_for_catalogue(settings: Settings, titles: dict[str, str]) -> None:
    client = aioredis.from_url(settings.redis_url)
    try:
        deadline = time.monotonic() + 180
        while True:
            async with client.pipeline(transaction=False) as pipe:
                for item in titles:
                    pipe.exists(f"{settings.redis_prefix}:i:{{{item}}}")
                stored = sum(await pipe.execute())
            if stored == len(titles):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker stored {stored} of {len(titles)} items")
            await asyncio.sleep(0.5)
    finally:
        await client.aclose()


def compare(direct: dict[str, Items], kafka: dict[str, Items], split: set[str]) -> SliceReport:
    report = SliceReport(invoices=len(direct), split=len(split), split_invoices=sorted(split))
    report.items_per_list = sum(map(len, direct.values())) / max(1, len(direct))
    for invoice, expected in direct.items():
        if invoice in split:
            continue
        report.compared += 1
        got = kafka[invoice]
        if same_list(got, expected):
            report.identical += 1
        else:
            report.differences.append(
                {
                    "invoice": invoice,
                    "direct": [i["item_id"] for i in expected],
                    "kafka": [i["item_id"] for i in got],
                }
            )
    return report


def same_list(got: Items, expected: Items) -> bool:
    """The same items in the same order, from the same sources and reasons, scores to 1e-6."""
    if len(got) != len(expected):
        return False
    return all(
        (a["item_id"], a["source"], a["reason"]) == (b["item_id"], b["source"], b["reason"])
        and abs(a["score"] - b["score"]) <= SCORE_TOLERANCE
        for a, b in zip(got, expected, strict=True)
    )


async def check_slice(n_invoices: int, data: Path, models: Path) -> SliceReport:
    invoices, titles = load(data)
    chosen = invoices[:n_invoices]
    settings = slice_settings(models)
    direct = await direct_lists(chosen, titles, settings)
    log = ROOT / "var" / "log" / f"quality-kafka-{settings.app_id}.log"
    try:
        kafka, split = await kafka_lists(chosen, titles, settings, log)
    finally:
        await forget_run(settings)
    return compare(direct, kafka, split)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default=str(RETAIL))
    p.add_argument("--models", default="onnx_models")
    p.add_argument("--invoices", type=int, default=300)
    args = p.parse_args()
    started = time.perf_counter()
    report = asyncio.run(check_slice(args.invoices, Path(args.data), Path(args.models)))
    print(
        f"{report.invoices} invoices: {report.identical} of {report.compared} lists identical "
        f"through Kafka and the worker ({report.split} split across batches, not compared; "
        f"{report.items_per_list:.1f} items a list)"
    )
    for diff in report.differences[:3]:
        print(f"  differs: {diff}")
    path = write_json(
        "quality-kafka",
        {
            "machine": machine(),
            "seconds": time.perf_counter() - started,
            **report.as_dict(),
        },
    )
    print(f"wrote {path}")
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
