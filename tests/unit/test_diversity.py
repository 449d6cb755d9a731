from __future__ import annotations

import numpy as np
import pytest

from ranking.blend import Recommendation
from ranking.diversity import intra_list_diversity, mmr

VECTORS = {
    "mug1": np.array([1.0, 0.0], dtype=np.float32),
    "mug2": np.array([0.995, 0.0998], dtype=np.float32),
    "mug3": np.array([0.98, 0.199], dtype=np.float32),
    "candle": np.array([0.0, 1.0], dtype=np.float32),
}
RANKED = [
    Recommendation("mug1", 1.0, "similar", "r"),
    Recommendation("mug2", 0.95, "similar", "r"),
    Recommendation("mug3", 0.9, "similar", "r"),
    Recommendation("candle", 0.6, "covisit", "r"),
]


def ids(recs: list[Recommendation]) -> list[str]:
    return [r.item_id for r in recs]


def test_strength_zero_keeps_the_blended_order() -> None:
    assert ids(mmr(RANKED, VECTORS.get, 3, 0.0)) == ["mug1", "mug2", "mug3"]


def test_some_strength_brings_a_different_item_forward() -> None:
    assert ids(mmr(RANKED, VECTORS.get, 3, 0.5)) == ["mug1", "candle", "mug2"]


def test_it_matches_a_direct_computation() -> None:
    s = 0.3
    chosen = ["mug1"]
    rest = ["mug2", "mug3", "candle"]
    scores = {r.item_id: r.score for r in RANKED}
    value = {i: (1 - s) * scores[i] - s * float(VECTORS[i] @ VECTORS["mug1"]) for i in rest}
    chosen.append(max(value, key=value.get))  # type: ignore[arg-type]
    assert ids(mmr(RANKED, VECTORS.get, 2, s)) == chosen


def test_items_without_vectors_are_ranked_by_relevance_only() -> None:
    ranked = [*RANKED, Recommendation("unknown", 0.99, "trending", "r")]
    assert "unknown" in ids(mmr(ranked, VECTORS.get, 2, 0.5))


def test_intra_list_diversity() -> None:
    assert intra_list_diversity(["mug1", "candle"], VECTORS.get) == pytest.approx(1.0)
    assert intra_list_diversity(["mug1", "mug2"], VECTORS.get) < 0.01
    assert intra_list_diversity(["mug1"], VECTORS.get) == 0.0
    assert intra_list_diversity(["mug1", "nope"], VECTORS.get) == 0.0
