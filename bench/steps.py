"""Where a batch's time goes, read off a worker: the ``pulse_batch_step_seconds`` histograms
of ``GET /metrics`` before and after a run, and their difference per step (batches, mean, and
p50/p99 interpolated within the Prometheus buckets, as ``histogram_quantile`` does); the same
for the garbage collector's pauses (``pulse_gc_pause_seconds``, by generation)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from core.metrics import BUCKETS_S

NAME = "pulse_batch_step_seconds"
GC = "pulse_gc_pause_seconds"
# the histograms read, and their label
FAMILIES = {NAME: "step", GC: "generation"}

# step -> (cumulative count per bucket, +Inf last; sum of seconds)
Snapshot = dict[str, tuple[list[int], float]]


async def snapshot(port: int) -> dict[str, Snapshot]:
    """Each of ``FAMILIES``' histograms as a worker has them now."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as reply,
    ):
        text = await reply.text()
    return {name: parse(text, name, label) for name, label in FAMILIES.items()}


def parse(text: str, name: str = NAME, label: str = "step") -> Snapshot:
    """One histogram family of a worker's metrics text, by label value."""
    bucket = re.compile(re.escape(name) + r"_bucket\{" + label + r'="([^"]+)",le="([^"]+)"\} (\d+)')
    total = re.compile(re.escape(name) + r"_sum\{" + label + r'="([^"]+)"\} (\S+)')
    counts: dict[str, list[int]] = {}
    for value, _, n in bucket.findall(text):
        counts.setdefault(value, []).append(int(n))
    sums = {value: float(seconds) for value, seconds in total.findall(text)}
    return {value: (c, sums.get(value, 0.0)) for value, c in counts.items()}


def quantile(q: float, cumulative: list[int]) -> float:
    """Seconds at quantile ``q`` of a histogram's cumulative bucket counts."""
    total = cumulative[-1]
    if total == 0:
        return 0.0
    rank = q * total
    lower, below = 0.0, 0
    for bound, seen in zip((*BUCKETS_S, float("inf")), cumulative, strict=True):
        if seen >= rank:
            if bound == float("inf"):
                return lower
            inside = seen - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, seen
    return lower


def difference(before: Snapshot, after: Snapshot) -> dict[str, dict[str, Any]]:
    """Per step: batches, mean, p50 and p99 (ms) of the batches between the two snapshots."""
    out = {}
    for step, (counts, total) in after.items():
        old_counts, old_total = before.get(step, ([0] * len(counts), 0.0))
        cumulative = [a - b for a, b in zip(counts, old_counts, strict=True)]
        batches = cumulative[-1]
        if batches:
            out[step] = {
                "batches": batches,
                "mean_ms": round((total - old_total) / batches * 1000, 2),
                "p50_ms": round(quantile(0.5, cumulative) * 1000, 2),
                "p99_ms": round(quantile(0.99, cumulative) * 1000, 2),
            }
    return out


def line(steps: dict[str, dict[str, Any]]) -> str:
    order = ("read", "encode", "fold", "context", "learn", "rank", "publish", "write")
    return ", ".join(
        f"{s} {steps[s]['mean_ms']:.1f}/{steps[s]['p99_ms']:.0f}" for s in order if s in steps
    )


def pauses(gc: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The collector's pauses between two snapshots, by generation: how many, their total."""
    return {
        generation: {
            "pauses": d["batches"],
            "total_ms": round(d["mean_ms"] * d["batches"], 1),
            "p99_ms": d["p99_ms"],
        }
        for generation, d in sorted(gc.items())
    }


def pauses_line(gc: dict[str, dict[str, Any]]) -> str:
    return ", ".join(
        f"generation {g} {d['pauses']:,} ({d['total_ms'] / 1000:.2f} s)" for g, d in gc.items()
    )
