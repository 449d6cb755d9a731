"""Trend signals on real shop data, through the workers' own trend statistics.

    python -m bench.trends_real [--retail PATH] [--taobao PATH]

Online Retail (one year of a UK gift shop, purchases): the hour-of-week profile the tracker
learns (Europe/London) and the peak hours and peak_time signals it reports. Taobao UserBehavior
(views, carts and buys of two hours, in time order): the trending items and categories it
reports with one-minute windows. Events pass through ``trends.tracker.TrendTracker`` in batches
of 500, as a worker's micro-batches would. Writes bench/results/trends-real.json and
trends-real.png.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from bench.common import machine, pyplot, save
from bench.datasets import RETAIL, TAOBAO
from core.events import EventKind
from core.validation import validate_dict
from replay import online_retail, taobao
from replay.source import Item
from streams.producer import complete
from trends.peaks import SLOTS, slot_name
from trends.tracker import ALL, Observations, TrendConfig, TrendTracker

BATCH = 500


def replay(items: Iterable[Item], tracker: TrendTracker) -> tuple[list[dict[str, Any]], int]:
    """Feed every user event to ``tracker``; the signals fired and the events fed."""
    categories: dict[str, str] = {}
    signals: list[dict[str, Any]] = []
    observed = Observations()
    fed = 0
    for kind, raw in items:
        if kind is EventKind.CATALOG:
            if raw.get("category"):
                categories[raw["item_id"]] = raw["category"]
            continue
        event = validate_dict(kind, complete(kind, raw))
        observed.add(event, categories.get(getattr(event, "item_id", "")))  # type: ignore[arg-type]
        fed += 1
        if fed % BATCH == 0:
            signals += tracker.observe(observed)
            observed = Observations()
    return signals + tracker.observe(observed), fed


def retail(path: Path) -> dict[str, Any]:
    tracker = TrendTracker(TrendConfig(window_ms=3_600_000), ZoneInfo("Europe/London"))
    signals, fed = replay(online_retail.source(path).events, tracker)
    profile = tracker.profiles[ALL]
    peaks = [s for s in signals if s["kind"] == "peak_time" and s["subject"] == ALL]
    upcoming = profile.next_peak(tracker.latest_ts)
    result = {
        "events": fed,
        "profile": [round(float(r), 6) for r in profile.rates()],
        "peak_slots": [slot_name(s) for s in sorted(profile.peak_slots())],
        "peak_starts": [slot_name(s) for s in profile.peak_starts()],
        "busiest": [slot_name(int(s)) for s in np.argsort(-profile.rates())[:5]],
        "peak_time_signals": len(peaks),
        "last_peak_signals": peaks[-3:],
        "next_peak_after_data": upcoming[1].isoformat() if upcoming else None,
    }
    print(
        f"Online Retail: {fed:,} purchase lines; peak hours {', '.join(result['peak_starts'])} "
        f"(peak slots {len(result['peak_slots'])}); busiest {', '.join(result['busiest'])}; "
        f"{len(peaks)} peak_time signals; next peak after the data: "
        f"{result['next_peak_after_data']}",
        flush=True,
    )
    return result


# Lower thresholds than a worker's defaults, to list the strongest upticks of a steady sample.
SENSITIVE = TrendConfig(min_support=3, min_ratio=2, min_z=2.5)


def taobao_trends(path: Path, cfg: TrendConfig, label: str) -> dict[str, Any]:
    source = taobao.source(path)
    catalogue, events = [], []
    for kind, raw in source.events:
        (catalogue if kind is EventKind.CATALOG else events).append((kind, raw))
    events.sort(key=lambda item: item[1]["ts"])  # the file is ordered by shopper
    tracker = TrendTracker(cfg, ZoneInfo("Asia/Shanghai"))
    signals, fed = replay([*catalogue, *events], tracker)
    by_kind = Counter(s["kind"] for s in signals)

    def top(kind: str) -> list[dict[str, Any]]:
        chosen = sorted((s for s in signals if s["kind"] == kind), key=lambda s: -s["score"])
        return [
            {"subject": s["subject"], "z": s["score"], "window_start": s["ts"], **s["details"]}
            for s in chosen[:10]
        ]

    result = {
        "thresholds": {"support": cfg.min_support, "ratio": cfg.min_ratio, "z": cfg.min_z},
        "events": fed,
        "span_minutes": round((events[-1][1]["ts"] - events[0][1]["ts"]) / 60_000, 1),
        "signals": dict(by_kind),
        "late_events": {k: d.late for k, d in tracker.detectors.items()},
        "top_items": top("trending_item"),
        "top_categories": top("trending_category"),
    }
    print(
        f"Taobao, {label} thresholds {result['thresholds']}: {fed:,} events over "
        f"{result['span_minutes']} minutes; signals {dict(by_kind)}",
        flush=True,
    )
    for kind, label in (("top_items", "item"), ("top_categories", "category")):
        for row in result[kind][:5]:
            print(
                f"  {label:9} {row['subject']:>18}  z {row['z']:5.1f}  "
                f"count {row['count']:4.0f}  baseline {row['baseline']:6.2f}",
                flush=True,
            )
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7))
    rates = np.array(result["retail"]["profile"]) * 100
    peaks = set(result["retail"]["peak_slots"])
    colours = ["tab:red" if slot_name(s) in peaks else "tab:blue" for s in range(SLOTS)]
    top.bar(range(SLOTS), rates, color=colours)
    top.set_xticks(range(0, SLOTS, 24), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    top.set_ylabel("% of activity")
    top.set_title("Online Retail: learned hour-of-week profile (Europe/London; peaks in red)")
    rows = result["taobao_sensitive"]["top_categories"]
    bottom.barh([r["subject"] for r in rows][::-1], [r["z"] for r in rows][::-1])
    bottom.set_xlabel("z-score of the window's count against the category's baseline")
    bottom.set_title(
        "Taobao UserBehavior: strongest trending_category signals "
        "(1-minute windows, sensitive thresholds)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--retail", default=str(RETAIL))
    p.add_argument("--taobao", default=str(TAOBAO))
    args = p.parse_args()
    result = {
        "machine": machine(),
        "retail": retail(Path(args.retail)),
        "taobao": taobao_trends(Path(args.taobao), TrendConfig(), "default"),
        "taobao_sensitive": taobao_trends(Path(args.taobao), SENSITIVE, "sensitive"),
    }
    save("trends-real", result, plot)


if __name__ == "__main__":
    main()
