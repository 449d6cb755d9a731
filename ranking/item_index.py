"""The in-process index of item vectors and attributes that every worker keeps complete.

Exact nearest neighbours by one matrix-vector product over unit vectors (cosine), with items
that are out of stock or removed masked out, so they never leave the engine; from
``ANN_FROM_ITEMS`` items on, approximate ones from an HNSW index of the available items
(``ranking.ann``). The items' texts for search by words are kept too (``words``,
``ranking.lexical``). The selection of each query's best items is compiled
(``pulse_kernels.top_k``); :func:`top_k_reference` is its definition in Python, which property
tests hold it to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pulse_kernels import top_k

from ranking.ann import AnnIndex
from ranking.lexical import LexicalIndex

Vector = npt.NDArray[np.float32]


def top_k_reference(
    row: list[float], available: list[bool], k: int, exclude: set[int]
) -> list[tuple[int, float]]:
    """The ``k`` best ``(column, score)`` of one row of scores: highest score first, ties to the
    lower column (the item indexed first); unavailable and excluded columns and scores that
    are NaN or minus infinity are never returned."""
    kept = [
        (col, score)
        for col, score in enumerate(row)
        if available[col] and col not in exclude and score > -math.inf
    ]
    return sorted(kept, key=lambda entry: (-entry[1], entry[0]))[:k]


@dataclass(frozen=True, slots=True)
class ItemInfo:
    item_id: str
    title: str
    category: str | None
    in_stock: bool


# From this many items on, searches go to an HNSW index (``ranking.ann``) instead of the exact
# product: ``make bench-ann`` measured exact search faster at 4,211 items (12.7 against 25.6 ms
# a batch of 500) and slower at 20,000 (65.0 against 40.2 ms); they cross near 10,000.
ANN_FROM_ITEMS = 10_000


class ItemIndex:
    def __init__(
        self, dim: int, capacity: int = 1024, ann_from: int | None = ANN_FROM_ITEMS
    ) -> None:
        self.dim = dim
        self._vectors = np.zeros((capacity, dim), dtype=np.float32)
        self._available = np.zeros(capacity, dtype=bool)
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._info: dict[str, ItemInfo] = {}
        self.words = LexicalIndex()
        # None: always exact; else HNSW once the index holds ``ann_from`` items
        self.ann_from = ann_from
        self._ann: AnnIndex | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def upsert(self, info: ItemInfo, vector: Vector, text: str | None = None) -> None:
        """Add or replace an item; ``text`` is what search by words sees of it (by default its
        title and category)."""
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
        if self._ann is not None:
            self._ann.put(row, self._vectors[row], info.in_stock)
        self.words.upsert(info.item_id, text if text is not None else _words_of(info))

    def remove(self, item_id: str) -> None:
        """A tombstone: the item is never recommended again (its row stays, masked)."""
        row = self._rows.get(item_id)
        if row is not None:
            self._available[row] = False
            info = self._info[item_id]
            self._info[item_id] = ItemInfo(info.item_id, info.title, info.category, False)
            self.words.remove(item_id)
            if self._ann is not None:
                self._ann.put(row, self._vectors[row], False)

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
        rows = self._rows
        ids = self._ids
        if self.ann_from is not None and n >= self.ann_from:
            exclude_rows = [[rows[i] for i in exclude if i in rows] for exclude in excludes]
            found_ann = self._ann_index().search_many(queries, k, exclude_rows)
            return [[(ids[row], score) for row, score in found] for found in found_ann]
        scores = np.ascontiguousarray(queries @ self._vectors[:n].T, dtype=np.float32)
        exclude_cols = [[rows[i] for i in exclude if i in rows] for exclude in excludes]
        found = top_k(scores, self._available[:n].view(np.uint8), k, exclude_cols)
        return [[(ids[col], score) for col, score in row] for row in found]

    def _ann_index(self) -> AnnIndex:
        """The HNSW index, built from the available items the first time it is needed."""
        if self._ann is None:
            ann = AnnIndex(self.dim)
            n = len(self._ids)
            rows = np.flatnonzero(self._available[:n])
            ann.add_many(rows, self._vectors[rows])
            self._ann = ann
        return self._ann

    def _grow(self) -> None:
        size = len(self._vectors) * 2
        vectors = np.zeros((size, self.dim), dtype=np.float32)
        vectors[: len(self._vectors)] = self._vectors
        available = np.zeros(size, dtype=bool)
        available[: len(self._available)] = self._available
        self._vectors, self._available = vectors, available


def _words_of(info: ItemInfo) -> str:
    return f"{info.title} {info.category}" if info.category else info.title
