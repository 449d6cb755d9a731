"""The in-process index of item vectors and attributes that every worker keeps complete.

Exact nearest neighbours by one matrix-vector product over unit vectors (cosine), with items
that are out of stock or removed masked out, so they never leave the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ItemInfo:
    item_id: str
    title: str
    category: str | None
    in_stock: bool


class ItemIndex:
    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._vectors = np.zeros((capacity, dim), dtype=np.float32)
        self._available = np.zeros(capacity, dtype=bool)
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._info: dict[str, ItemInfo] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def upsert(self, info: ItemInfo, vector: Vector) -> None:
        row = self._rows.get(info.item_id)
        if row is None:
            row = len(self._ids)
            if row == len(self._vectors):
                self._grow()
            self._ids.append(info.item_id)
            self._rows[info.item_id] = row
        self._vectors[row] = vector
        self._available[row] = info.in_stock
        self._info[info.item_id] = info

    def remove(self, item_id: str) -> None:
        """A tombstone: the item is never recommended again (its row stays, masked)."""
        row = self._rows.get(item_id)
        if row is not None:
            self._available[row] = False
            info = self._info[item_id]
            self._info[item_id] = ItemInfo(info.item_id, info.title, info.category, False)

    def info(self, item_id: str) -> ItemInfo | None:
        return self._info.get(item_id)

    def vector(self, item_id: str) -> Vector | None:
        row = self._rows.get(item_id)
        return None if row is None else self._vectors[row]

    def available(self, item_id: str) -> bool:
        row = self._rows.get(item_id)
        return row is not None and bool(self._available[row])

    def search(
        self, query: Vector, k: int, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` available items most similar to ``query`` (cosine), best first."""
        return self.search_many(query[None, :], k, [exclude or set()])[0]

    def search_many(
        self, queries: npt.NDArray[np.float32], k: int, excludes: list[set[str]]
    ) -> list[list[tuple[str, float]]]:
        """:meth:`search` for several queries at once: one matrix product for all of them."""
        n = len(self._ids)
        m = len(queries)
        if n == 0 or k <= 0 or m == 0:
            return [[] for _ in range(m)]
        scores = queries @ self._vectors[:n].T
        scores[:, ~self._available[:n]] = -np.inf
        want = min(n, k + max(len(e) for e in excludes))
        if want < n:
            top = np.argpartition(-scores, want - 1, axis=1)[:, :want]
        else:
            top = np.broadcast_to(np.arange(n), (m, n))
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1)
        # Best first, as Python lists: one conversion per batch, not one per element.
        ranked_cols = np.take_along_axis(top, order, axis=1).tolist()
        ranked_scores = np.take_along_axis(top_scores, order, axis=1).astype(np.float64).tolist()
        results: list[list[tuple[str, float]]] = []
        ids = self._ids
        for cols, row_scores, exclude in zip(ranked_cols, ranked_scores, excludes, strict=True):
            out: list[tuple[str, float]] = []
            for col, score in zip(cols, row_scores, strict=True):
                item_id = ids[col]
                if score == -np.inf or item_id in exclude:
                    continue
                out.append((item_id, score))
                if len(out) == k:
                    break
            results.append(out)
        return results

    def _grow(self) -> None:
        size = len(self._vectors) * 2
        vectors = np.zeros((size, self.dim), dtype=np.float32)
        vectors[: len(self._vectors)] = self._vectors
        available = np.zeros(size, dtype=bool)
        available[: len(self._available)] = self._available
        self._vectors, self._available = vectors, available
