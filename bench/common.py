"""Shared benchmark helpers: latency histograms, machine description, result files."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from hdrh.histogram import HdrHistogram

from encoders.batcher import EncodeTiming

RESULTS = Path(__file__).resolve().parent / "results"


class Latencies:
    """Latencies in microseconds, 1 us to 10 min, 3 significant digits (HdrHistogram)."""

    def __init__(self) -> None:
        self.hist = HdrHistogram(1, 600_000_000, 3)

    def record_s(self, seconds: float) -> None:
        self.hist.record_value(max(1, int(seconds * 1e6)))

    @property
    def count(self) -> int:
        return int(self.hist.get_total_count())

    def summary_ms(self) -> dict[str, float]:
        pct = self.hist.get_value_at_percentile
        return {
            "count": self.hist.get_total_count(),
            "p50_ms": pct(50) / 1000,
            "p95_ms": pct(95) / 1000,
            "p99_ms": pct(99) / 1000,
            "max_ms": self.hist.get_max_value() / 1000,
        }


class NoText:
    """The text encoder of replays whose events carry no text: a call is a defect."""

    async def encode_query(self, query: str, timing: EncodeTiming | None = None) -> Any:
        raise AssertionError("these events carry no text")

    async def encode_text(self, text: str) -> Any:
        raise AssertionError("these events carry no text")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(name: str, data: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return path


def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only (no display on these machines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(
    name: str,
    result: dict[str, Any],
    plot: Callable[[dict[str, Any], Path], None],
    out_dir: Path = RESULTS,
) -> None:
    """Write ``name``.json and ``name``.png (drawn by ``plot``) and say where."""
    path = write_json(name, result, out_dir)
    plot(result, out_dir / f"{name}.png")
    print(f"wrote {path} and {out_dir / (name + '.png')}")
