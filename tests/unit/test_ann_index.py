"""The item index past ``ann_from`` items: HNSW (usearch) answers, close to the exact search,
and never with an item out of stock, removed or excluded, whatever the catalogue did."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking.item_index import ItemIndex, ItemInfo

DIM = 16


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def test_past_the_threshold_answers_are_those_of_the_exact_search_nearly() -> None:
    rng = np.random.default_rng(0)
    centres = unit(rng.standard_normal((40, DIM)))
    vectors = unit(centres[rng.integers(0, 40, 3000)] + 0.3 * rng.standard_normal((3000, DIM)))
    approximate, exact = ItemIndex(DIM, ann_from=1000), ItemIndex(DIM, ann_from=None)
    for n, vector in enumerate(vectors):
        info = ItemInfo(f"i{n}", f"I{n}", None, n % 10 != 0)  # every tenth out of stock
        approximate.upsert(info, vector)
        exact.upsert(info, vector)
    queries = unit(vectors[rng.choice(3000, 100)] + 0.1 * rng.standard_normal((100, DIM)))
    excludes = [{f"i{n}" for n in range(0, 3000, 7)}] * len(queries)
    # the first search past the threshold starts building the graph and is answered exactly
    assert approximate.search_many(queries, 10, excludes) == exact.search_many(
        queries, 10, excludes
    )
    assert approximate.wait_for_ann(60)
    got = approximate.search_many(queries, 10, excludes)
    truth = exact.search_many(queries, 10, excludes)
    recall = np.mean(
        [len({i for i, _ in a} & {i for i, _ in b}) / 10 for a, b in zip(got, truth, strict=True)]
    )
    assert recall >= 0.9, recall
    for query, found in zip(queries, got, strict=True):
        assert len(found) == 10
        assert all(approximate.available(i) and int(i[1:]) % 7 for i, _ in found)
        scores = [s for _, s in found]
        assert scores == sorted(scores, reverse=True)
        for item, score in found:  # the score is the item's cosine with the query
            assert abs(score - float(approximate.vector(item) @ query)) < 1e-3  # type: ignore[operator]
    # one query alone answers as in a batch
    assert approximate.search(queries[0], 10, excludes[0]) == got[0]


operation = st.tuples(
    st.sampled_from(["upsert", "out_of_stock", "remove"]),
    st.integers(0, 30),
    st.integers(0, 3),  # which of four directions the item's vector takes
)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(operation, min_size=1, max_size=80), excluded=st.sets(st.integers(0, 30)))
def test_nothing_unavailable_or_excluded_ever_comes_back(
    ops: list[tuple[str, int, int]], excluded: set[int]
) -> None:
    directions = unit(np.eye(4, DIM, dtype=np.float32) + 0.01)
    index = ItemIndex(DIM, ann_from=3)
    query = directions[0]
    for n, (op, item, direction) in enumerate(ops):
        item_id = f"i{item}"
        if op == "remove":
            index.remove(item_id)
        else:
            index.upsert(ItemInfo(item_id, item_id, None, op == "upsert"), directions[direction])
        if n % 5 == 0:  # search as the catalogue changes, not only at its end
            index.search(query, 5)
    index.search(query, 5)
    assert index.wait_for_ann(30) or len(index) < 3  # below 3 items the search stays exact
    skip = {f"i{n}" for n in excluded}
    found = index.search(query, 10, skip)
    assert all(index.available(i) and i not in skip for i, _ in found)
    for item, score in found:  # a changed vector counts, not the one the item had before
        assert abs(score - float(index.vector(item) @ query)) < 1e-3  # type: ignore[operator]
    available = [i for i in (f"i{n}" for n in range(31)) if index.available(i) and i not in skip]
    # few items: the graph holds them all, so all of the best come back
    assert len(found) == min(10, len(available))


class SlowBuild(ItemIndex):
    """An index whose graph is built only when the test lets it."""

    def __init__(self) -> None:
        super().__init__(DIM, ann_from=2)
        self.go = threading.Event()

    def _build_ann(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        assert self.go.wait(30)
        super()._build_ann(rows, vectors)


def test_changes_made_while_the_graph_is_built_are_in_it() -> None:
    east, north = unit(np.eye(2, DIM, dtype=np.float32))
    index = SlowBuild()
    for n in range(5):
        index.upsert(ItemInfo(f"i{n}", "", None, True), east)
    assert len(index.search(east, 10)) == 5  # exact, while the graph waits to be built
    index.upsert(ItemInfo("i0", "", None, False), east)  # out of stock meanwhile
    index.upsert(ItemInfo("i1", "", None, True), north)  # a new vector
    index.remove("i2")
    index.upsert(ItemInfo("i9", "", None, True), east)  # a new item
    index.go.set()
    assert index.wait_for_ann(30)
    found = dict(index.search(east, 10))
    assert set(found) == {"i1", "i3", "i4", "i9"}
    assert abs(found["i1"] - float(north @ east)) < 1e-3 and abs(found["i3"] - 1.0) < 1e-3


def test_the_hnsw_library_and_onnx_runtime_load_in_either_order() -> None:
    """Some usearch builds crash the process when ONNX Runtime is imported after them."""
    for imports in (
        "import ranking.ann; import onnxruntime",
        "import onnxruntime; import ranking.ann",
    ):
        done = subprocess.run([sys.executable, "-c", imports], capture_output=True, timeout=120)
        assert done.returncode == 0, (imports, done.returncode, done.stderr[-2000:])


EXIT_WHILE_BUILDING = """
import atexit, threading
# registered before the index module is imported, so it runs after that module's exit hooks
atexit.register(lambda: print(
    [t.name for t in threading.enumerate() if t.name == "pulse-hnsw-build"], flush=True
))
import numpy as np
from ranking.item_index import ItemIndex, ItemInfo
vectors = np.random.default_rng(0).standard_normal((20_000, 64)).astype(np.float32)
index = ItemIndex(64, capacity=len(vectors), ann_from=1)
for n, vector in enumerate(vectors):
    index.upsert(ItemInfo(f"i{n}", "", None, True), vector)
index.search(vectors[0], 5)  # starts the graph's build and leaves it running
print(index._ann is None, flush=True)
"""


def test_a_process_that_ends_while_the_graph_is_built_stops_the_build_first() -> None:
    """The build runs in usearch with the GIL released. When the process ends meanwhile, the
    build must be stopped before the interpreter finalises: Python ends a daemon thread that
    asks for the GIL back after finalisation began, and doing so from inside usearch's C++
    frames aborts the whole process (seen as SIGABRT at the end of a benchmark)."""
    done = subprocess.run(
        [sys.executable, "-c", EXIT_WHILE_BUILDING], capture_output=True, timeout=120
    )
    assert done.stdout.split() == [b"True", b"[]"], done.stdout  # running at exit, then stopped
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
