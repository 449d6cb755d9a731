"""Encoder benchmark: raw ONNX Runtime vs the micro-batcher, fp32 vs int8, in one run.

    python -m bench.encoder_bench [--device cpu|cuda|auto] [--quick]
    python -m bench.encoder_bench --device cuda --precisions fp16 --batch 256 --in-flight 2 \
        --name encoder-cuda   # on a GPU host, with `pulse export-model --fp16`

1. Raw ORT throughput by batch size (1..256) for short queries (Online Retail product names)
   and reviews (Amazon All_Beauty texts), fp32 and int8.
2. The micro-batcher at saturation (many concurrent callers), against raw ORT at the same
   batch size and against the best raw batch size.
3. The micro-batcher's latency p50/p95/p99 under open-loop Poisson load at 25/50/75 % of its
   saturation throughput (latency from the scheduled arrival, so queueing counts).
4. int8 vs fp32 agreement: mean overlap of the top-10 neighbours of every product name.
Writes bench/results/encoder.json and encoder.png.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench.common import RESULTS, Latencies, machine, pyplot, save
from bench.datasets import product_names, review_texts
from encoders.batcher import BatcherConfig, MicroBatcher
from encoders.encoder import OnnxEncoder

BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def raw_throughput(encoder: OnnxEncoder, texts: list[str], batch: int, seconds: float) -> float:
    """Texts per second of back-to-back ``encode`` calls of ``batch`` texts."""
    rng = random.Random(batch)
    encoder.encode(texts[:batch])  # warm-up at this shape
    done, started = 0, time.perf_counter()
    while True:
        start = rng.randrange(0, len(texts) - batch)
        encoder.encode(texts[start : start + batch])
        done += batch
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and done >= 2 * batch:
            return done / elapsed


async def saturation(
    encoder: OnnxEncoder, texts: list[str], cfg: BatcherConfig, seconds: float
) -> dict[str, Any]:
    """Closed loop: enough callers to keep every batch full; texts per second delivered."""
    callers = cfg.max_batch_size * (cfg.max_in_flight + 2)
    async with MicroBatcher(encoder.encode, cfg) as batcher:
        stop = time.perf_counter() + 1.0  # warm-up
        counts = [0]

        async def caller(i: int) -> None:
            j = i
            while time.perf_counter() < stop:
                await batcher.encode(texts[j % len(texts)])
                counts[0] += 1
                j += callers

        await asyncio.gather(*(caller(i) for i in range(callers)))
        counts[0] = 0
        batcher.stats.batch_sizes.clear()
        started = time.perf_counter()
        stop = started + seconds
        await asyncio.gather(*(caller(i) for i in range(callers)))
        elapsed = time.perf_counter() - started
        sizes = batcher.stats.batch_sizes
    return {
        "texts_per_s": counts[0] / elapsed,
        "callers": callers,
        "mean_batch": float(np.mean(sizes)) if sizes else 0.0,
    }


async def open_loop(
    encoder: OnnxEncoder, texts: list[str], cfg: BatcherConfig, rate: float, seconds: float
) -> dict[str, Any]:
    """Poisson arrivals at ``rate``/s; latency from each text's scheduled arrival."""
    rng = random.Random(int(rate))
    latencies = Latencies()
    warmup = 1.0
    async with MicroBatcher(encoder.encode, cfg) as batcher:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tasks: list[asyncio.Task[None]] = []

        async def one(text: str, due: float, record: bool) -> None:
            await batcher.encode(text)
            if record:
                latencies.record_s(loop.time() - due)

        due, offered = t0, 0
        while due < t0 + warmup + seconds:
            due += rng.expovariate(rate)
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            record = due >= t0 + warmup
            offered += record
            tasks.append(asyncio.create_task(one(texts[offered % len(texts)], due, record)))
        await asyncio.gather(*tasks)
        achieved_window = loop.time() - (t0 + warmup)
    return {
        "offered_per_s": rate,
        "achieved_per_s": offered / achieved_window,
        **latencies.summary_ms(),
    }


def top10_overlap(a: np.ndarray, b: np.ndarray) -> float:
    def neighbours(v: np.ndarray) -> np.ndarray:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argpartition(-sims, 10, axis=1)[:, :10]

    na, nb = neighbours(a), neighbours(b)
    return float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(na, nb, strict=True)]))


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    colours = {"fp32": "tab:blue", "int8": "tab:orange", "fp16": "tab:green"}
    for ax, kind, sat_key in zip(
        axes[0], ("queries", "reviews"), ("batcher", "batcher_reviews"), strict=True
    ):
        for precision, rows in result["raw"][kind].items():
            ax.plot(
                [r["batch"] for r in rows],
                [r["texts_per_s"] for r in rows],
                "o-",
                color=colours.get(precision),
                label=f"raw {precision}",
            )
        for precision, sat in result[sat_key].items():
            ax.axhline(
                sat["texts_per_s"],
                linestyle="--",
                color=colours.get(precision),
                label=f"micro-batcher {precision} (saturated)",
            )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel("texts / s")
        ax.set_title(f"raw ONNX Runtime throughput: {kind}")
        ax.legend()
    ax = axes[1][0]
    names = list(result["batcher"])
    x = np.arange(len(names))
    ax.bar(
        x - 0.2,
        [result["batcher"][n]["raw_same_batch_per_s"] for n in names],
        0.4,
        label="raw ORT, same batch",
    )
    ax.bar(
        x + 0.2, [result["batcher"][n]["texts_per_s"] for n in names], 0.4, label="micro-batcher"
    )
    for i, n in enumerate(names):
        ax.text(
            i + 0.2,
            result["batcher"][n]["texts_per_s"],
            f"{result['batcher'][n]['ratio_same_batch']:.0%}",
            ha="center",
            va="bottom",
        )
    ax.set_xticks(x, names)
    ax.set_ylabel("queries / s")
    ax.set_title("saturation: micro-batcher vs raw ORT")
    ax.legend()
    ax = axes[1][1]
    loads = result["latency"]["runs"]
    labels = [f"{r['share']:.0%}\n{r['offered_per_s']:.0f}/s" for r in loads]
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        ax.plot(labels, [r[key] for r in loads], "o-", label=key.replace("_ms", ""))
    ax.set_ylabel("ms from arrival to vector")
    ax.set_title(f"micro-batcher latency, open loop ({result['latency']['precision']} queries)")
    ax.legend()
    fig.suptitle(
        f"Pulse encoder benchmark: {result['machine']['cpu']}, {result['machine']['cores']} "
        f"cores, providers {result['providers']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    seconds = 0.6 if args.quick else 2.0
    rng = random.Random(0)
    queries = product_names()
    reviews = review_texts()
    rng.shuffle(queries)
    rng.shuffle(reviews)
    models = Path(args.models)
    encoders = {
        p: OnnxEncoder.load(models, device=args.device, precision=p) for p in args.precisions
    }
    providers = next(iter(encoders.values())).providers
    result: dict[str, Any] = {"machine": machine(), "providers": providers, "device": args.device}
    import onnxruntime

    result["onnxruntime"] = onnxruntime.__version__
    result["raw"] = {"queries": {}, "reviews": {}}
    for kind, texts in (("queries", queries), ("reviews", reviews)):
        for precision, encoder in encoders.items():
            rows = []
            for batch in BATCH_SIZES:
                rate = raw_throughput(encoder, texts, batch, seconds)
                rows.append({"batch": batch, "texts_per_s": rate})
                print(f"raw {kind:7} {precision} batch {batch:3}: {rate:9,.0f} texts/s", flush=True)
            result["raw"][kind][precision] = rows

    cfg = BatcherConfig(
        max_batch_size=args.batch, max_wait_ms=args.wait_ms, max_in_flight=args.in_flight
    )
    result["batcher_config"] = {
        "max_batch_size": cfg.max_batch_size,
        "max_wait_ms": cfg.max_wait_ms,
        "max_in_flight": cfg.max_in_flight,
    }
    result["batcher"] = {}
    result["batcher_reviews"] = {}
    for kind, texts, target in (
        ("queries", queries, "batcher"),
        ("reviews", reviews, "batcher_reviews"),
    ):
        for precision, encoder in encoders.items():
            sat = await saturation(encoder, texts, cfg, seconds * 3)
            rows = result["raw"][kind][precision]
            same = next(r["texts_per_s"] for r in rows if r["batch"] == cfg.max_batch_size)
            best = max(r["texts_per_s"] for r in rows)
            sat |= {
                "raw_same_batch_per_s": same,
                "raw_best_per_s": best,
                "ratio_same_batch": sat["texts_per_s"] / same,
                "ratio_best": sat["texts_per_s"] / best,
            }
            result[target][precision] = sat
            print(
                f"micro-batcher {kind} {precision} saturation: {sat['texts_per_s']:,.0f} texts/s = "
                f"{sat['ratio_same_batch']:.0%} of raw at batch {cfg.max_batch_size}, "
                f"{sat['ratio_best']:.0%} of the best raw batch "
                f"(mean batch {sat['mean_batch']:.1f})",
                flush=True,
            )

    latency_precision = "int8" if "int8" in encoders else next(iter(encoders))
    capacity = result["batcher"][latency_precision]["texts_per_s"]
    runs = []
    for share in (0.25, 0.5, 0.75):
        run = await open_loop(
            encoders[latency_precision], queries, cfg, capacity * share, seconds * 4
        )
        run["share"] = share
        runs.append(run)
        print(
            f"open loop {share:.0%} ({run['offered_per_s']:,.0f}/s offered, "
            f"{run['achieved_per_s']:,.0f}/s achieved): "
            f"p50 {run['p50_ms']:.1f} ms, p95 {run['p95_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms",
            flush=True,
        )
    result["latency"] = {"precision": latency_precision, "runs": runs}

    if {"fp32", "int8"} <= set(encoders):
        names = queries[: args.neighbour_items]
        vectors = {
            p: np.concatenate(
                [encoders[p].encode(names[i : i + 128]) for i in range(0, len(names), 128)]
            )
            for p in ("fp32", "int8")
        }
        overlap = top10_overlap(vectors["fp32"], vectors["int8"])
        cos = np.sum(vectors["fp32"] * vectors["int8"], axis=1)
        result["agreement"] = {
            "items": len(names),
            "top10_overlap": overlap,
            "cosine_mean": float(cos.mean()),
            "cosine_min": float(cos.min()),
        }
        print(
            f"int8 vs fp32 over {len(names)} product names: top-10 overlap {overlap:.3f}, "
            f"cosine mean {cos.mean():.4f}, min {cos.min():.4f}",
            flush=True,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--models", default="onnx_models")
    parser.add_argument("--batch", type=int, default=64, help="micro-batcher max batch size")
    parser.add_argument("--wait-ms", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--neighbour-items", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="encoder")
    parser.add_argument("--plot-only", action="store_true", help="redraw the PNG from the JSON")
    args = parser.parse_args()
    out = Path(args.out)
    if args.plot_only:
        plot(orjson.loads((out / f"{args.name}.json").read_bytes()), out / f"{args.name}.png")
        return
    result = asyncio.run(main_async(args))
    save(args.name, result, plot, out)


if __name__ == "__main__":
    main()
