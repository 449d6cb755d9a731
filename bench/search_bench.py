"""Search relevance on Online Retail: words, meaning, both, and both ordered for the shopper,
side by side in one run.

    python -m bench.search_bench [--span validation|test] [--limit-cases N]

Invoices are replayed in time order through the workers' own pipeline (learn-only: states,
co-visits, repeat rates; no lists). Each invoice of the span whose customer has an earlier
invoice is a case: one of its items is drawn (seeded), the query is two words of that item's
name (drawn among its words of three letters or more, kept in their order, lower case: what a
shopper types), and every item of the invoice counts as relevant. Scored: nDCG@10 and
Recall@20 of
- words: BM25 over item names (``ranking.lexical``); and, the simple personalised baseline, the
  same with the items the customer bought before moved first;
- meaning: the query's vector over the item index (the workers' encoder, int8 on the CPU);
- hybrid: the two fused by reciprocal rank (``ranking.search.fuse``, two values of its k), and
  by a blend of their range-scaled scores (``blend_scores``, three shares for the words);
- personalised: each fusion ordered for the customer at several strengths
  (``personalisation.search.search_items``, the code ``GET /search`` runs).
Tune on ``--span validation`` (September 2011; the stream stops at October), report
``--span test`` (from October 2011). Writes bench/results/search.json and search.png.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, pyplot, save
from bench.datasets import RETAIL
from bench.quality_bench import Engine, build_index, engine_settings
from bench.retail_invoices import Invoice, load
from encoders.batcher import EncodeTiming
from encoders.encoder import OnnxEncoder
from encoders.pooling import Floats
from personalisation.configs import ranking_configs
from personalisation.search import search_items
from ranking.search import SearchConfig, blend_scores, fuse

SPANS = {"validation": ("2011-09-01", "2011-10-01"), "test": ("2011-10-01", None)}
WORD = re.compile(r"[A-Za-z]{3,}")
RRF_KS = (10.0, 60.0)
SHARES = (0.3, 0.5, 0.7)


class QueryEncoder:
    """The workers' encoder, one query at a time (what ``encode_query`` gives a worker)."""

    def __init__(self, models: Path) -> None:
        self.encoder = OnnxEncoder.load(models, device="cpu", precision="int8")

    async def encode_query(self, query: str, timing: EncodeTiming | None = None) -> Floats:
        return self.encoder.encode([query])[0]

    async def encode_text(self, text: str) -> Floats:
        return self.encoder.encode([text])[0]


def query_for(invoice: Invoice, titles: dict[str, str], rng: random.Random) -> str | None:
    item = rng.choice(sorted(invoice.items))
    words = WORD.findall(titles.get(item, ""))
    if len(words) < 2:
        return None
    picked = sorted(rng.sample(range(len(words)), 2))
    return " ".join(words[n].lower() for n in picked)


def scores(ranked: list[str], truth: set[str]) -> tuple[float, float]:
    """(nDCG@10, Recall@20)."""
    dcg = sum(1.0 / math.log2(r + 2) for r, item in enumerate(ranked[:10]) if item in truth)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(truth), 10)))
    return dcg / ideal, len(truth & set(ranked[:20])) / len(truth)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    invoices, titles = load(Path(args.data))
    start, stop = SPANS[args.span]
    start_ms, stop_ms = (
        int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000) if day else None
        for day in (start, stop)
    )
    started = time.perf_counter()
    index = build_index(titles, Path(args.models))
    profile, ranking = ranking_configs(engine_settings())
    engine = Engine(index, profile, ranking)
    engine.personaliser.encoder = QueryEncoder(Path(args.models))
    print(f"{len(titles):,} items indexed in {time.perf_counter() - started:.1f} s", flush=True)
    default = SearchConfig(candidates=args.candidates)
    fusions = [f"hybrid, RRF k={k:g}" for k in RRF_KS] + [f"hybrid, blend {w:g}" for w in SHARES]
    personalised = {
        f"{'RRF' if share is None else f'blend {share:g}'}, personalised {strength:g}"
        f"{'' if gate == default.gate else f', gate {gate:g}'}": replace(
            default, words_share=share, strength=strength, gate=gate
        )
        for share in (None, 0.7)
        for strength in args.strengths
        for gate in args.gates
    }
    models = ["words", "words, own purchases first", "meaning", *fusions, *personalised]
    got: dict[str, list[tuple[float, float]]] = {m: [] for m in models}
    rng = random.Random(args.seed)
    seen: set[str] = set()
    timings: list[float] = []
    started = time.perf_counter()
    for invoice in invoices:
        if stop_ms is not None and invoice.ts_ms >= stop_ms:
            break
        in_span = start_ms is not None and invoice.ts_ms >= start_ms
        if in_span and invoice.customer in seen and len(got["words"]) < args.limit_cases:
            query = query_for(invoice, titles, rng)
            if query is not None:
                truth = invoice.items
                vector = await engine.personaliser.encoder.encode_query(query)
                words = index.words.search(query, default.candidates)
                meaning = index.search(vector, default.candidates)
                got["words"].append(scores([i for i, _ in words], truth))
                got["meaning"].append(scores([i for i, _ in meaning], truth))
                # the simple personalised baseline: the words' matches the customer bought
                # before first, each group in the words' order
                state = (await engine.personaliser.stores.users.load([invoice.customer]))[
                    invoice.customer
                ]
                mine = sorted(words, key=lambda m: m[0] not in state.purchases)
                got["words, own purchases first"].append(scores([i for i, _ in mine], truth))
                for rrf_k in RRF_KS:
                    fused = fuse(words, meaning, rrf_k)
                    ranked = sorted(fused, key=lambda i: (-fused[i][0], i))
                    got[f"hybrid, RRF k={rrf_k:g}"].append(scores(ranked, truth))
                for share in SHARES:
                    blended = blend_scores(words, meaning, share)
                    ranked = sorted(blended, key=lambda i: (-blended[i], i))
                    got[f"hybrid, blend {share:g}"].append(scores(ranked, truth))
                for name, cfg in personalised.items():
                    t = time.perf_counter()
                    found = await search_items(
                        engine.personaliser,
                        query,
                        20,
                        cfg,
                        user_id=invoice.customer,
                        now_ms=invoice.ts_ms,
                    )
                    timings.append(time.perf_counter() - t)
                    ranked = [hit["item_id"] for hit in found["items"]]
                    got[name].append(scores(ranked, truth))
        await engine.personaliser.run(invoice.purchases(), rank=False)
        seen.add(invoice.customer)
    table = {
        name: {
            "ndcg@10": float(np.mean([c[0] for c in cases])) if cases else 0.0,
            "recall@20": float(np.mean([c[1] for c in cases])) if cases else 0.0,
            "cases": len(cases),
        }
        for name, cases in got.items()
    }
    print(
        f"{args.span} span: {table['words']['cases']:,} cases, replay and search in "
        f"{time.perf_counter() - started:.1f} s; default strength {default.strength:g}",
        flush=True,
    )
    for name, row in table.items():
        print(f"  {name:30} nDCG@10 {row['ndcg@10']:.3f}  Recall@20 {row['recall@20']:.3f}")
    ms = 1000 * np.array(timings)
    return {
        "machine": machine(),
        "span": args.span,
        "protocol": {
            "seed": args.seed,
            "limit_cases": args.limit_cases,
            "span": SPANS[args.span],
            "candidates": args.candidates,
        },
        "default_strength": default.strength,
        "table": table,
        "search_in_process_ms": {
            "p50": float(np.percentile(ms, 50)) if ms.size else 0.0,
            "p99": float(np.percentile(ms, 99)) if ms.size else 0.0,
        },
    }


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    table = result["table"]
    names = list(table)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, metric in zip(axes, ("ndcg@10", "recall@20"), strict=True):
        ax.barh(names, [table[n][metric] for n in names])
        ax.invert_yaxis()
        ax.set_title(f"Online Retail, {result['span']} span: {metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--span", choices=tuple(SPANS), default="test")
    p.add_argument("--data", default=str(RETAIL))
    p.add_argument("--models", default="onnx_models")
    p.add_argument("--limit-cases", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--candidates", type=int, default=SearchConfig().candidates, help="from each retriever"
    )
    p.add_argument(
        "--gates",
        type=lambda text: [float(s) for s in text.split(",")],
        default=[0.5],
        help="gates of the shopper's evidence to score (SearchConfig.gate)",
    )
    p.add_argument(
        "--strengths",
        type=lambda text: [float(s) for s in text.split(",")],
        default=[0.5, 1.0, 2.0, 4.0],
        help="personalisation strengths to score",
    )
    p.add_argument("--name", default="search")
    args = p.parse_args()
    save(args.name, asyncio.run(run(args)), plot)


if __name__ == "__main__":
    main()
