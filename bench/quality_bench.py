"""Recommendation quality on Online Retail (design §7), engine and baselines in one run.

    python -m bench.quality_bench [--split 2011-10-01] [--limit-tests N]

Every invoice is replayed in time order. Each invoice on or after the split date whose
customer has an earlier invoice is a test case: before it is fed in, every model is asked for
its top 20 for that customer at the invoice's time, scored against the invoice's distinct
items (Recall@20, HitRate@20, NDCG@20). The engine is the workers' own code: the
personalisation pipeline (``personalisation.pipeline.Personaliser``) over in-memory stores, with the
item vectors of the real encoder. Writes bench/results/quality.json and quality.png.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import NoText, machine, pyplot, save
from bench.datasets import RETAIL
from bench.quality_baselines import ContentVectors, CoOccurrence, OwnHistory, Popularity
from bench.retail_invoices import Invoice, load
from core.settings import Settings
from encoders.encoder import OnnxEncoder
from feature_store.memory import MemoryUserStore, memory_stores
from feature_store.state_codec import encode
from feature_store.writes import BatchWrites
from personalisation.configs import ranking_configs
from personalisation.pipeline import Personaliser
from personalisation.serving import fresh_list
from ranking.diversity import intra_list_diversity
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig
from ranking.recommend_config import RecommendConfig

K = 20
# Chosen on the validation span (2011-09-01 to 2011-10-01, before the test period): a shop
# whose only signal is purchases leans on the shopper's own history.
RETAIL_WEIGHTS = "similar=0.1,covisit=0.15,history=2,trending=0.05"
DAY_MS = 86_400_000


class Scores:
    def __init__(self, index: ItemIndex) -> None:
        self.index = index
        self.recall: list[float] = []
        self.hit: list[float] = []
        self.ndcg: list[float] = []
        self.diversity: list[float] = []
        self.shown: set[str] = set()

    def add(self, ranked: list[str], truth: set[str]) -> None:
        top = ranked[:K]
        self.diversity.append(intra_list_diversity(top, self.index.vector))
        self.shown.update(top)
        hits = [1.0 if item in truth else 0.0 for item in top]
        self.recall.append(sum(hits) / len(truth))
        self.hit.append(1.0 if any(hits) else 0.0)
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(truth), K)))
        self.ndcg.append(dcg / ideal)

    def summary(self) -> dict[str, float]:
        return {
            "recall@20": float(np.mean(self.recall)),
            "hitrate@20": float(np.mean(self.hit)),
            "ndcg@20": float(np.mean(self.ndcg)),
            "intra_list_diversity": float(np.mean(self.diversity)),
            "coverage": len(self.shown) / len(self.index),
            "cases": len(self.recall),
        }


class Engine:
    def __init__(self, index: ItemIndex, profile: ProfileConfig, ranking: RecommendConfig) -> None:
        self.name = "Pulse engine" + (f", MMR {ranking.diversity:g}" if ranking.diversity else "")
        self.personaliser = Personaliser(
            index,
            memory_stores(index.dim, repeats=True),
            NoText(),
            profile=profile,
            ranking=ranking,
        )

    async def feed(self, invoice: Invoice) -> BatchWrites:
        return await self.personaliser.run(invoice.purchases())

    async def recommend(self, customer: str, now_ms: int, k: int) -> list[str]:
        return [r.item_id for r in await fresh_list(self.personaliser, customer, now_ms, k)]


def engine_settings(
    weights: str = RETAIL_WEIGHTS, purchase_half_life_days: float | None = None, **overrides: Any
) -> Settings:
    """A worker's settings for this protocol: top 20, no exploration (it is random)."""
    if purchase_half_life_days is not None:
        overrides["purchase_half_life_days"] = purchase_half_life_days
    return Settings(blend_weights=weights, recommendations_k=K, explore_share=0.0, **overrides)


def build_index(titles: dict[str, str], models: Path, precision: str = "int8") -> ItemIndex:
    encoder = OnnxEncoder.load(models, device="cpu", precision=precision)
    ids = sorted(titles)
    index = ItemIndex(encoder.dim, capacity=len(ids) + 1)
    for start in range(0, len(ids), 128):
        chunk = ids[start : start + 128]
        vectors = encoder.encode([titles[i] for i in chunk])
        for item, vector in zip(chunk, vectors, strict=True):
            index.upsert(ItemInfo(item, titles[item], None, True), vector)
    return index


async def run(args: argparse.Namespace) -> dict[str, Any]:
    invoices, titles = load(Path(args.data))
    split_ms = int(datetime.fromisoformat(args.split).replace(tzinfo=UTC).timestamp() * 1000)
    started = time.perf_counter()
    index = build_index(titles, Path(args.models))
    print(
        f"{len(invoices):,} invoices, {len(titles):,} items encoded in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    half_life = args.half_life_days * DAY_MS
    # The engine as a worker runs it with these settings; the baselines follow the protocol.
    profile, ranking = ranking_configs(engine_settings(args.weights, args.purchase_half_life_days))
    ranking = replace(ranking, repeat_floor=args.repeat_floor)
    models: list[Any] = [
        Engine(index, profile, replace(ranking, diversity=float(strength)))
        for strength in args.diversity.split(",")
    ]
    if not args.engine_only:
        models += [
            Popularity(half_life),
            OwnHistory(half_life),
            CoOccurrence(half_life),
            ContentVectors(half_life, index),
        ]
    until_ms = (
        int(datetime.fromisoformat(args.until).replace(tzinfo=UTC).timestamp() * 1000)
        if args.until
        else None
    )
    scores = {m.name: Scores(index) for m in models}
    seen: set[str] = set()
    tests = 0
    started = time.perf_counter()
    for invoice in invoices:
        if until_ms is not None and invoice.ts_ms >= until_ms:
            break
        is_test = invoice.ts_ms >= split_ms and invoice.customer in seen
        if is_test and (args.limit_tests is None or tests < args.limit_tests):
            tests += 1
            truth = invoice.items
            for model in models:
                if isinstance(model, Engine):
                    ranked = await model.recommend(invoice.customer, invoice.ts_ms, K)
                else:
                    ranked = model.recommend(invoice.customer, invoice.ts_ms, K)
                scores[model.name].add(ranked, truth)
        for model in models:
            if isinstance(model, Engine):
                await model.feed(invoice)
            else:
                model.update(invoice)
        seen.add(invoice.customer)
    table = {name: s.summary() for name, s in scores.items()}
    sizes = state_sizes(models[0])
    print(
        f"packed shopper state: median {sizes['p50']:,.0f} B, p95 {sizes['p95']:,.0f} B, "
        f"max {sizes['max']:,.0f} B over {sizes['shoppers']:,} shoppers",
        flush=True,
    )
    for name, row in table.items():
        print(
            f"{name:24} Recall@20 {row['recall@20']:.3f}  HitRate@20 {row['hitrate@20']:.3f}  "
            f"NDCG@20 {row['ndcg@20']:.3f}  diversity {row['intra_list_diversity']:.3f}  "
            f"coverage {row['coverage']:.3f}  ({row['cases']:,} cases)",
            flush=True,
        )
    return {
        "machine": machine(),
        "protocol": {
            "split": args.split,
            "until": args.until,
            "k": K,
            "half_life_days": args.half_life_days,
            "engine_purchase_half_life_days": args.purchase_half_life_days,
            "engine_repeat_floor": args.repeat_floor,
            "engine_diversity": args.diversity,
            "weights": args.weights,
        },
        "invoices": len(invoices),
        "items": len(titles),
        "seconds": time.perf_counter() - started,
        "table": table,
        "state_bytes": sizes,
    }


def state_sizes(engine: Engine) -> dict[str, float]:
    """Bytes of each shopper's packed state (as a worker stores it in Redis) after the replay."""
    users = engine.personaliser.stores.users
    assert isinstance(users, MemoryUserStore)
    sizes = np.array([len(encode(s)) for s in users.states.values()])
    return {
        "shoppers": int(sizes.size),
        "p50": float(np.percentile(sizes, 50)),
        "p95": float(np.percentile(sizes, 95)),
        "max": float(sizes.max()),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    names = list(result["table"])
    metrics = ["recall@20", "hitrate@20", "ndcg@20", "intra_list_diversity", "coverage"]
    x = np.arange(len(metrics))
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / len(names)
    for n, name in enumerate(names):
        values = [result["table"][name][m] for m in metrics]
        ax.bar(x + n * width, values, width, label=name)
    ax.set_xticks(x + 0.4 - width / 2, metrics)
    ax.set_title(f"Online Retail, test period from {result['protocol']['split']} (top {K})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default=str(RETAIL))
    p.add_argument("--models", default="onnx_models")
    p.add_argument("--split", default="2011-10-01")
    p.add_argument(
        "--half-life-days", type=float, default=30.0, help="of the baselines (the protocol)"
    )
    p.add_argument(
        "--purchase-half-life-days",
        type=float,
        default=Settings().purchase_half_life_days,
        help="of the engine's purchase history",
    )
    p.add_argument("--repeat-floor", type=float, default=RecommendConfig().repeat_floor)
    p.add_argument("--limit-tests", type=int, default=None)
    p.add_argument("--until", default=None, help="stop at this date (tuning on a validation span)")
    p.add_argument("--engine-only", action="store_true")
    p.add_argument(
        "--diversity",
        default="0,0.3",
        help="MMR strengths: one engine row for each (0 = off), to show the trade-off",
    )
    p.add_argument(
        "--weights",
        default=RETAIL_WEIGHTS,
        help="blend weights, e.g. similar=0.1,covisit=1,sessions=1,recent=1.5,history=0.8",
    )
    p.add_argument("--name", default="quality")
    args = p.parse_args()
    result = asyncio.run(run(args))
    save(args.name, result, plot)


if __name__ == "__main__":
    main()
