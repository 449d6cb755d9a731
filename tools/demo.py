"""The README's demo: a worker in a child process, a replay into it, live per-second counts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from core.settings import Settings
from feature_store.counts import BatchCounts
from replay.run import ReplayReport, replay
from replay.source import Source
from streams.admin import ensure_topics
from tools.demo_recs import RecommendationWatcher, describe
from tools.demo_search import show_searches
from tools.demo_trends import TrendWatcher, describe_signal
from tools.harness import start_worker, stop_worker, wait_healthy
from tools.stats import read_totals

LOG_DIR = Path("var/log")


async def run_demo(
    settings: Settings, source: Source, *, seconds: float, rate: float, invalid_share: float
) -> None:
    await ensure_topics(settings)
    log_path = LOG_DIR / "demo-worker.log"
    print(f"starting a worker (log: {log_path}) ...", flush=True)
    proc = start_worker(settings, log_path)
    try:
        await wait_healthy(f"http://{settings.web_host}:{settings.web_port}/health", proc)
        before = await read_totals(settings)
        print(
            f"worker ready; replaying {source.name} at {rate:,.0f} events/s for {seconds:.0f} s "
            f"({invalid_share:.0%} deliberately invalid)",
            flush=True,
        )
        watcher = RecommendationWatcher(settings)
        await watcher.start()
        trends = TrendWatcher(settings)
        await trends.start()
        task = asyncio.create_task(
            replay(
                settings,
                source,
                rate=rate,
                duration_s=seconds,
                invalid_share=invalid_share,
                progress=False,
            )
        )
        try:
            report = await _print_live(settings, before, task, watcher, trends)
            print(report.summary(), flush=True)
            await _drain(settings, before, report)
            print(
                f"recommendation lists published: {watcher.count:,}; {watcher.percentiles()}",
                flush=True,
            )
            kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(trends.by_kind.items()))
            print(f"trend signals published: {trends.count:,} ({kinds or 'none'})", flush=True)
            shoppers = list(dict.fromkeys(m["user_id"] for m in reversed(watcher.latest)))[:2]
            if len(shoppers) == 2:
                await show_searches(settings, shoppers)
        finally:
            await watcher.stop()
            await trends.stop()
    finally:
        code = stop_worker(proc)
        print(f"worker stopped (exit code {code})", flush=True)


async def _print_live(
    settings: Settings,
    before: BatchCounts,
    task: asyncio.Task[ReplayReport],
    watcher: RecommendationWatcher,
    trends: TrendWatcher,
) -> ReplayReport:
    started = time.monotonic()
    last_done = 0
    header = f"{'time':>6} {'processed':>10} {'dead-lettered':>14} {'per second':>11} {'lists':>8}"
    print(header, flush=True)
    tick = 0
    while not task.done():
        await asyncio.wait({task}, timeout=1.0)
        tick += 1
        done, processed, dead = await _progress(settings, before)
        print(
            f"{time.monotonic() - started:5.0f}s {processed:>10,} {dead:>14,} "
            f"{done - last_done:>11,} {watcher.count:>8,}",
            flush=True,
        )
        for fired in trends.take(3):
            print(describe_signal(fired), flush=True)
        last_done = done
        if tick % 5 == 0 and watcher.latest:
            print(await describe(settings, watcher.latest[-1]), flush=True)
            print(f"  ({watcher.percentiles()})", flush=True)
            print(header, flush=True)
    return task.result()


async def _progress(settings: Settings, before: BatchCounts) -> tuple[int, int, int]:
    totals = await read_totals(settings)
    processed = sum(totals.processed.values()) - sum(before.processed.values())
    dead = sum(totals.dead_lettered.values()) - sum(before.dead_lettered.values())
    return processed + dead, processed, dead


async def _drain(settings: Settings, before: BatchCounts, report: ReplayReport) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, processed, dead = await _progress(settings, before)
        if done >= report.total_sent:
            break
        await asyncio.sleep(0.5)
    print(
        f"worker totals: {processed:,} processed + {dead:,} dead-lettered = {done:,} "
        f"of {report.total_sent:,} sent",
        flush=True,
    )
