"""The end-to-end benchmark's report: its plot, and the spread of figures over repeated runs."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.common import pyplot

SPREAD_KEYS = {
    "engine, one worker": "engine",
    "engine, two workers": "two_workers",
    "ceiling (no lists)": "ceiling",
}


def medians(table: dict[str, Any]) -> list[dict[str, Any]]:
    """A setup's rows of medians over the runs (from :func:`spread`)."""
    return [
        {"offered_per_s": row["offered_per_s"], **{k: row[k]["median"] for k in FIGURES}}
        for row in table.get("rates", [])
    ]


def plot(result: dict[str, Any], path: Path) -> None:
    """Latency and throughput by offered rate, of every setup the run has."""
    plt = pyplot()

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    rows = {
        "engine, one worker": result.get("clicks", []),
        "engine, two workers": result.get("two_workers", {}).get("clicks", []),
        "ceiling (no lists)": result.get("ceiling", {}).get("clicks", []),
        "engine, one worker, Redis Cluster": result.get("engine_cluster", {}).get("clicks", []),
        "engine, two workers, Redis Cluster": result.get("two_workers_cluster", {}).get(
            "clicks", []
        ),
    }
    keys = dict(SPREAD_KEYS)
    for name in result.get("variants", {}):  # engines of other settings (``--variant``)
        rows[f"engine, {name}"] = result.get(name, {}).get("clicks", [])
        keys[f"engine, {name}"] = name
    if "spread" in result:  # several runs: their medians, with the range as a band
        rows = {label: medians(result["spread"].get(key, {})) for label, key in keys.items()}
    offered = sorted({r["offered_per_s"] for runs in rows.values() for r in runs})
    marks = ("o-", "s--", "^-", "o:", "s:", "v-", "D--", "x-")
    for (label, runs), mark in zip(rows.items(), marks, strict=False):
        if not runs:
            continue
        rates = [r["offered_per_s"] for r in runs]
        if label.startswith("engine"):
            ax1.plot(rates, [r["p99_ms"] for r in runs], mark, label=f"p99, {label[8:]}")
            ax1.plot(rates, [r["p50_ms"] for r in runs], mark, alpha=0.4, label=f"p50, {label[8:]}")
        ax2.plot(rates, [r["achieved_per_s"] for r in runs], mark, label=label)
        ax2.set_title(
            "throughput" + (" (median and range of the runs)" if "spread" in result else "")
        )
        band = result.get("spread", {}).get(keys.get(label, ""), {}).get("rates")
        if band:
            ax2.fill_between(
                [b["offered_per_s"] for b in band],
                [b["achieved_per_s"]["min"] for b in band],
                [b["achieved_per_s"]["max"] for b in band],
                alpha=0.2,
            )
    ax1.axhline(100, color="grey", linestyle=":", label="target p99 at 2,000/s")
    ax1.set_xlabel("offered clicks / s")
    ax1.set_ylabel("event -> recommendation (ms)")
    ax1.set_yscale("log")
    ax1.set_title("click -> recommendation latency")
    ax1.legend()
    ax2.plot(offered, offered, ":", color="grey", label="offered")
    ax2.set_xlabel("offered clicks / s")
    ax2.set_ylabel("events / s")
    ax2.legend()
    fig.suptitle(
        f"Pulse end to end: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
        "Kafka + Redis + workers + load generator on one box"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


FIGURES = ("achieved_per_s", "p50_ms", "p95_ms", "p99_ms")


def spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per setup and offered rate: the median, lowest and highest of each figure over the
    runs, and each run's highest sustained rate."""
    out: dict[str, Any] = {}
    for name in runs[0]:
        by_rate: dict[float, list[dict[str, Any]]] = {}
        for run in runs:
            # each row's share of the ceiling's achieved rate at that rate in the same run
            ceiling = {
                r["offered_per_s"]: r["achieved_per_s"]
                for r in run.get("ceiling", {}).get("clicks", [])
            }
            for row in run[name]["clicks"]:
                rate = row["offered_per_s"]
                share = (
                    {"share_of_ceiling": row["achieved_per_s"] / ceiling[rate]}
                    if ceiling.get(rate)
                    else {}
                )
                by_rate.setdefault(rate, []).append(row | share)
        out[name] = {
            "rates": [
                {
                    "offered_per_s": rate,
                    **{key: _range([r[key] for r in rows]) for key in FIGURES},
                    # a setup that makes no lists (the ceiling) has no latency to report
                    "lists_made": any(r.get("lists", 1) > 0 for r in rows),
                }
                | (
                    {"share_of_ceiling": _range([r["share_of_ceiling"] for r in rows])}
                    if name != "ceiling" and all("share_of_ceiling" in r for r in rows)
                    else {}
                )
                for rate, rows in sorted(by_rate.items())
            ],
            "highest_sustained": [run[name]["highest_sustained_click_rate"] for run in runs],
        }
    return out


def _range(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def print_spread(table: dict[str, Any]) -> None:
    for name, rows in table.items():
        print(f"{name}: median (lowest-highest) over the runs")
        for row in rows["rates"]:
            a, p99 = row["achieved_per_s"], row["p99_ms"]
            latency = (
                f"p50 {row['p50_ms']['median']:8,.1f} ms, "
                f"p99 {p99['median']:8,.1f} ms ({p99['min']:,.1f}-{p99['max']:,.1f})"
                if row.get("lists_made", True)
                else "no lists made, no latency"
            )
            print(
                f"  {row['offered_per_s']:>6,.0f}/s offered: achieved {a['median']:7,.0f} "
                f"({a['min']:,.0f}-{a['max']:,.0f}), {latency}"
                + (
                    f", {row['share_of_ceiling']['median']:.0%} of the ceiling"
                    if "share_of_ceiling" in row
                    else ""
                )
            )
        print(f"  highest sustained per run: {rows['highest_sustained']}")
