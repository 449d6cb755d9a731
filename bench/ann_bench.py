"""Item index choice: exact numpy search (what the worker uses) against HNSW (usearch).

    python -m bench.ann_bench

Queries come in batches, as in the worker (one batch of shoppers per micro-batch). Reports,
per catalogue size, build time, time per batch of 500 queries (k=20) and recall@20 against
exact search. Item vectors: the Online Retail catalogue encoded by the int8 model (3,958
items), and for larger sizes those vectors plus small random perturbations (a stand-in for a
bigger catalogue of similar products). Also the worker's ``ItemIndex`` itself at each size,
exact below ``ANN_FROM_ITEMS`` and HNSW from there on. Writes bench/results/ann.json, ann.png.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, pyplot, save
from bench.datasets import product_names
from encoders.encoder import OnnxEncoder
from ranking.item_index import ANN_FROM_ITEMS, ItemIndex, ItemInfo

K = 20
BATCH = 500


def exact(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    scores = queries @ vectors.T
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def timed(fn: Any, repeat: int = 5) -> tuple[float, Any]:
    fn()
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    from usearch.index import Index

    names = product_names()
    encoder = OnnxEncoder.load(Path("onnx_models"), device="cpu", precision="int8")
    base = np.concatenate([encoder.encode(names[i : i + 128]) for i in range(0, len(names), 128)])
    rng = np.random.default_rng(0)
    rows = []
    for size in (len(base), 20_000, 100_000):
        reps = int(np.ceil(size / len(base)))
        vectors = np.concatenate(
            [base]
            + [base + rng.normal(0, 0.05, base.shape).astype(np.float32) for _ in range(reps - 1)]
        )[:size]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = vectors[rng.choice(size, BATCH, replace=False)] + rng.normal(
            0, 0.05, (BATCH, 384)
        ).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        exact_s, truth = timed(lambda v=vectors, q=queries: exact(v, q))
        t = time.perf_counter()
        index = Index(
            ndim=384,
            metric="cos",
            dtype="f32",
            connectivity=16,
            expansion_add=128,
            expansion_search=64,
        )
        index.add(np.arange(size), vectors)
        build_s = time.perf_counter() - t
        hnsw_s, found = timed(lambda i=index, q=queries: i.search(q, K).keys)
        recall = float(
            np.mean([len(set(a) & set(b)) / K for a, b in zip(truth, found, strict=True)])
        )
        # The item index as a worker runs it: exact below ANN_FROM_ITEMS, HNSW from there on
        # (its graph built in the background from the first search on; waited for here).
        items = ItemIndex(384, capacity=size)
        for n, vector in enumerate(vectors):
            items.upsert(ItemInfo(str(n), str(n), None, True), vector)
        no_excludes: list[set[str]] = [set() for _ in queries]
        items.search_many(queries[:1], K, no_excludes[:1])  # starts building the graph
        assert items.wait_for_ann(600) or size < ANN_FROM_ITEMS
        index_s, answers = timed(lambda q=queries, i=items, e=no_excludes: i.search_many(q, K, e))
        index_recall = float(
            np.mean(
                [
                    len(set(a) & {int(i) for i, _ in b}) / K
                    for a, b in zip(truth, answers, strict=True)
                ]
            )
        )
        row = {
            "items": size,
            "exact_batch_ms": exact_s * 1000,
            "hnsw_batch_ms": hnsw_s * 1000,
            "hnsw_build_s": build_s,
            "hnsw_recall_at_20": recall,
            "item_index": "hnsw" if size >= ANN_FROM_ITEMS else "exact",
            "item_index_batch_ms": index_s * 1000,
            "item_index_recall_at_20": index_recall,
        }
        rows.append(row)
        print(
            f"{size:>7,} items: exact {row['exact_batch_ms']:.1f} ms per {BATCH} queries; "
            f"HNSW {row['hnsw_batch_ms']:.1f} ms (recall@20 {recall:.3f}, "
            f"built in {build_s:.1f} s); the item index ({row['item_index']}) "
            f"{row['item_index_batch_ms']:.1f} ms, recall@20 {index_recall:.3f}",
            flush=True,
        )
    result = {"machine": machine(), "batch": BATCH, "k": K, "rows": rows}
    save("ann", result, plot)


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = [r["items"] for r in rows]
    ax.plot(sizes, [r["exact_batch_ms"] for r in rows], "o-", label="exact (numpy, one product)")
    ax.plot(sizes, [r["hnsw_batch_ms"] for r in rows], "o-", label="HNSW (usearch)")
    for r in rows:
        ax.annotate(f"recall {r['hnsw_recall_at_20']:.2f}", (r["items"], r["hnsw_batch_ms"]))
    ax.set_xscale("log")
    ax.set_xlabel("items in the index")
    ax.set_ylabel(f"ms per batch of {BATCH} queries, k={K}")
    ax.set_title("item index: exact vs HNSW")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
