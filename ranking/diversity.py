"""Diversity: maximal marginal relevance (MMR) over item vectors, and list-level measures. Pure.

``strength`` 0 keeps the blended order; 1 picks each next item as unlike the ones already
chosen as possible. In between, each step picks the item with the best
``(1 - strength) * relevance - strength * (highest cosine to an item already chosen)``,
relevance being the blended score divided by the best one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ranking.blend import Recommendation
from ranking.interest import Vector

VectorOf = Callable[[str], Vector | None]


def mmr(
    ranked: Sequence[Recommendation], vector_of: VectorOf, k: int, strength: float
) -> list[Recommendation]:
    if strength <= 0 or len(ranked) <= 1:
        return list(ranked[:k])
    top = max(r.score for r in ranked) or 1.0
    pool = list(ranked)
    vectors = [vector_of(r.item_id) for r in pool]
    chosen: list[int] = []
    closest = np.full(len(pool), -1.0)  # highest cosine to a chosen item, per candidate
    while pool and len(chosen) < min(k, len(pool)):
        best, best_value = -1, -np.inf
        for i, rec in enumerate(pool):
            if i in chosen:
                continue
            value = (1 - strength) * rec.score / top - strength * max(closest[i], 0.0)
            if value > best_value:
                best, best_value = i, value
        chosen.append(best)
        picked = vectors[best]
        if picked is not None:
            for i, v in enumerate(vectors):
                if v is not None:
                    closest[i] = max(closest[i], float(v @ picked))
    return [pool[i] for i in chosen]


def intra_list_diversity(items: Sequence[str], vector_of: VectorOf) -> float:
    """Mean of 1 - cosine over the pairs of a list's items that have vectors (0 when < 2)."""
    vectors = [v for v in (vector_of(i) for i in items) if v is not None]
    if len(vectors) < 2:
        return 0.0
    m = np.stack(vectors)
    sims = m @ m.T
    n = len(vectors)
    return float((n * n - sims.sum()) / (n * (n - 1)))
