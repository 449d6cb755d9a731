"""The in-process index of item vectors and attributes that every worker keeps complete.

Exact nearest neighbours by one matrix-vector product over unit vectors (cosine), with items
that are out of stock or removed masked out, so they never leave the engine; from
``ANN_FROM_ITEMS`` items on, approximate ones from an HNSW index of the available items
(``ranking.ann``). The items' texts for search by words are kept too (``words``,
``ranking.lexical``). The selection of each query's best items is compiled
(``pulse_kernels.top_k``, here ``top_k_labelled``, which names each column by its item id);
:func:`top_k_reference` is its definition in Python, which property tests hold it to.
"""

from __future__ import annotations

import atexit
import math
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pulse_kernels import top_k_labelled

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
# The graph is built this many rows per library call, so that a build can be stopped between
# two calls (about a tenth of a second each at 384 dimensions).
ANN_BUILD_CHUNK = 1024


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
        # None: always exact; else HNSW once the index holds ``ann_from`` items. The graph is
        # built in a thread of its own (half a minute at 100,000 items); searches stay exact
        # until it is ready, and rows changed meanwhile are put into it before it is used.
        self.ann_from = ann_from
        self._ann: AnnIndex | None = None
        self._ann_build: threading.Thread | None = None
        self._ann_changed: set[int] = set()
        self._ann_lock = threading.Lock()
        self._ann_stop = threading.Event()

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
        self._ann_put(row)
        self.words.upsert(info.item_id, text if text is not None else _words_of(info))

    def remove(self, item_id: str) -> None:
        """A tombstone: the item is never recommended again (its row stays, masked)."""
        row = self._rows.get(item_id)
        if row is not None:
            self._available[row] = False
            info = self._info[item_id]
            self._info[item_id] = ItemInfo(info.item_id, info.title, info.category, False)
            self.words.remove(item_id)
            self._ann_put(row)

    def info(self, item_id: str) -> ItemInfo | None:
        return self._info.get(item_id)

    @property
    def infos(self) -> Mapping[str, ItemInfo]:
        """Every item's info by id (read, not changed: the compiled blend looks categories up
        here)."""
        return self._info

    def vector(self, item_id: str) -> Vector | None:
        row = self._rows.get(item_id)
        return None if row is None else self._vectors[row]

    def vectors_of(self, item_ids: list[str]) -> tuple[list[str], npt.NDArray[np.float32]]:
        """The items of ``item_ids`` the index holds, in their order, and their vectors (a
        matrix, one row each: one gather instead of a view per item)."""
        rows = self._rows
        known = [item for item in item_ids if item in rows]
        return known, self._vectors[[rows[item] for item in known]]

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
        ann = self._ann_ready() if self.ann_from is not None and n >= self.ann_from else None
        if ann is not None:
            exclude_rows = [[rows[i] for i in exclude if i in rows] for exclude in excludes]
            found_ann = ann.search_many(queries, k, exclude_rows)
            return [[(ids[row], score) for row, score in found] for found in found_ann]
        scores = np.ascontiguousarray(queries @ self._vectors[:n].T, dtype=np.float32)
        exclude_cols = [[rows[i] for i in exclude if i in rows] for exclude in excludes]
        return top_k_labelled(scores, self._available[:n].view(np.uint8), k, exclude_cols, ids)

    def wait_for_ann(self, timeout_s: float | None = None) -> bool:
        """Until the HNSW graph is ready (benchmarks, tests), its build started here if the index
        is past ``ann_from`` and none has started yet; whether it is."""
        if self.ann_from is not None and len(self) >= self.ann_from:
            self._ann_ready()
        if self._ann_build is not None:
            self._ann_build.join(timeout_s)
        return self._ann is not None

    def _ann_ready(self) -> AnnIndex | None:
        """The HNSW graph when it is ready; the first call starts building it."""
        if self._ann is None and self._ann_build is None:
            with self._ann_lock:  # the snapshot, or the list of changes after it: never neither
                n = len(self._ids)
                rows = np.flatnonzero(self._available[:n])
                self._ann_build = threading.Thread(
                    target=self._build_ann,
                    args=(rows, self._vectors[rows].copy()),
                    name="pulse-hnsw-build",
                    daemon=True,
                )
            _BUILDING.add(self)
            self._ann_build.start()
        return self._ann

    def stop_building(self) -> None:
        """Stops a graph build under way and waits for it (the index stays exact); the process's
        exit does this for every index, see :func:`_stop_builds`."""
        self._ann_stop.set()
        if self._ann_build is not None:
            self._ann_build.join()

    def _build_ann(self, rows: npt.NDArray[np.int64], vectors: Vector) -> None:
        ann = AnnIndex(self.dim)
        for start in range(0, len(rows), ANN_BUILD_CHUNK):
            if self._ann_stop.is_set():
                return
            ann.add_many(
                rows[start : start + ANN_BUILD_CHUNK], vectors[start : start + ANN_BUILD_CHUNK]
            )
        with self._ann_lock:
            for row in self._ann_changed:
                ann.put(row, self._vectors[row], bool(self._available[row]))
            self._ann_changed.clear()
            self._ann = ann

    def _ann_put(self, row: int) -> None:
        """The graph (built, or being built) learns of the row's change."""
        with self._ann_lock:
            if self._ann is not None:
                self._ann.put(row, self._vectors[row], bool(self._available[row]))
            elif self._ann_build is not None:
                self._ann_changed.add(row)

    def _grow(self) -> None:
        size = len(self._vectors) * 2
        vectors = np.zeros((size, self.dim), dtype=np.float32)
        vectors[: len(self._vectors)] = self._vectors
        available = np.zeros(size, dtype=bool)
        available[: len(self._available)] = self._available
        self._vectors, self._available = vectors, available


# Indexes whose graph build may be under way.
_BUILDING: weakref.WeakSet[ItemIndex] = weakref.WeakSet()


@atexit.register
def _stop_builds() -> None:
    """At exit, before the interpreter finalises: a build still running in usearch (the GIL
    released) would otherwise ask for the GIL back during finalisation, and Python ending the
    thread from inside the library's C++ frames aborts the process."""
    for index in list(_BUILDING):
        index.stop_building()


def _words_of(info: ItemInfo) -> str:
    return f"{info.title} {info.category}" if info.category else info.title
