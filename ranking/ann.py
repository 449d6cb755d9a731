"""Approximate nearest neighbours (HNSW, usearch) over the item index's available rows, for
catalogues past the size where exact search stops paying (``make bench-ann``).

It holds only the rows that may be returned (in stock, not removed): an item going out of stock
leaves it, one coming back re-enters, a changed vector replaces the old one; so a search never
meets an unavailable item, and asks for as many more as it has rows to exclude. Changes come
from the catalogue follower (the event loop's thread) while lists are ranked on the pipeline's
thread: a lock keeps them apart (usearch does not promise searches beside removals).
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
from usearch.index import Index

# Measured with bench/ann_bench.py (batches of 500 queries, k = 20): recall@20 0.98 at 20,000
# and 100,000 items with these settings.
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 64


class AnnIndex:
    def __init__(self, dim: int) -> None:
        self._index = Index(
            ndim=dim,
            metric="cos",
            dtype="f32",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._index)

    def add_many(self, rows: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        if len(rows):
            with self._lock:
                self._index.add(rows.astype(np.uint64), vectors)

    def put(self, row: int, vector: npt.NDArray[np.float32], available: bool) -> None:
        """The row as it is now: in the index with ``vector`` if ``available``, else not."""
        with self._lock:
            if row in self._index:
                self._index.remove(row)
            if available:
                self._index.add(row, vector)

    def search_many(
        self, queries: npt.NDArray[np.float32], k: int, excludes: list[list[int]]
    ) -> list[list[tuple[int, float]]]:
        """For each query its ``k`` nearest rows (best first) with their cosine, none of its
        ``excludes``."""
        if len(self._index) == 0 or k <= 0:
            return [[] for _ in range(len(queries))]
        extra = max((len(e) for e in excludes), default=0)
        with self._lock:
            found = self._index.search(queries, min(k + extra, len(self._index)))
        keys = np.atleast_2d(found.keys)  # usearch answers one query as one row, not a batch
        distances = np.atleast_2d(found.distances)
        counts = getattr(found, "counts", [keys.shape[1]])
        out = []
        for n, exclude in enumerate(excludes):
            skip = set(exclude)
            count = int(counts[n])
            rows = keys[n][:count]
            cosines = 1.0 - distances[n][:count]
            kept = [
                (int(row), float(cos))
                for row, cos in zip(rows, cosines, strict=True)
                if int(row) not in skip
            ]
            out.append(kept[:k])
        return out
