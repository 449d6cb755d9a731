"""Product search: the query's matches by words (BM25) and by meaning (the query's vector over
the item index), fused, then ordered for the shopper by what Pulse knows of
them. Pure: the caller reads the shopper's state and co-visits and encodes the query.

Fusion: by default a blend of each retriever's scores scaled to 0..1 by their range in its
list, 0.7 for the words and 0.3 for the meaning (``blend_scores``); or reciprocal rank fusion,
an item scoring ``sum 1 / (rrf_k + rank)`` over the retrievers that found it (Cormack et al.
2009). Personalisation adds ``strength * personal * best``, where ``best`` is the best fused
score of the results and ``personal`` (0 to 1) the weighted sum of the shopper's evidence for
the item, each part between 0 and 1:

- ``bought``: the shopper bought it before;
- ``seen``: it is in their current session;
- ``covisit``: its share of the co-visits of the session's latest items;
- ``interest``: how close it is to their interest (short and long term), relative to the
  other results (the closest result 1, the farthest 0);
- ``category``: its category's share of their category affinities.

A shopper Pulse does not know (or strength 0) gets the fused order as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ranking.item_index import ItemIndex, ItemInfo
from ranking.recommend import interest_query
from ranking.recommend_config import RecommendConfig
from ranking.session_sources import covisit_scores
from ranking.sessions import current_session
from ranking.state import UserState


@dataclass(frozen=True, slots=True)
class SearchConfig:
    # Candidates from each retriever before fusion and filters.
    candidates: int = 100
    rrf_k: float = 60.0
    # None: reciprocal rank fusion; a share: ``blend_scores`` with this share for the words.
    # Both measured on Online Retail's validation span (bench/search_bench.py).
    words_share: float | None = 0.7
    # 0: the fused order as it is; 1: every piece of evidence is worth the best match's score.
    strength: float = 2.0
    # How much a result's match to the query gates the shopper's evidence for it: 0 not at all,
    # 1 in proportion (their evidence lifts what matches the query well, not weak matches).
    gate: float = 0.5
    # How much each piece of the shopper's evidence counts towards ``personal``.
    evidence: tuple[tuple[str, float], ...] = (
        ("bought", 0.3),
        ("seen", 0.1),
        ("covisit", 0.2),
        ("interest", 0.2),
        ("category", 0.2),
    )


@dataclass(frozen=True, slots=True)
class SearchHit:
    item_id: str
    score: float
    reason: str
    # 1-based ranks in each retriever's list (None: not found by it), and the personal part
    lexical_rank: int | None
    semantic_rank: int | None
    personal: float


# A shopper as search takes them: their state, the co-visits of their session's items, the
# ranking configuration and the time (ms).
Shopper = tuple[UserState, dict[str, list[tuple[str, float]]], RecommendConfig, int]


def fuse(
    lexical: list[tuple[str, float]], semantic: list[tuple[str, float]], rrf_k: float
) -> dict[str, tuple[float, int | None, int | None]]:
    """Each item found: ``(fused score, lexical rank, semantic rank)``.

    >>> fuse([("a", 9.0), ("b", 3.0)], [("b", 0.9), ("c", 0.8)], rrf_k=1)
    {'a': (0.5, 1, None), 'b': (0.8333333333333333, 2, 1), 'c': (0.3333333333333333, None, 2)}
    """
    out: dict[str, tuple[float, int | None, int | None]] = {}
    for rank, (item, _) in enumerate(lexical, 1):
        out[item] = (1.0 / (rrf_k + rank), rank, None)
    for rank, (item, _) in enumerate(semantic, 1):
        score, lexical_rank, _ = out.get(item, (0.0, None, None))
        out[item] = (score + 1.0 / (rrf_k + rank), lexical_rank, rank)
    return out


def blend_scores(
    lexical: list[tuple[str, float]], semantic: list[tuple[str, float]], words_share: float
) -> dict[str, float]:
    """The other fusion measured (``bench/search_bench.py``): each retriever's scores scaled
    to 0..1 by their range in the list, ``words_share`` of the words' plus the rest of the
    meaning's.

    >>> blend_scores([("a", 4.0), ("b", 2.0)], [("b", 0.9), ("c", 0.5)], 0.5)
    {'a': 0.5, 'b': 0.5, 'c': 0.0}
    """
    out: dict[str, float] = {}
    for found, share in ((lexical, words_share), (semantic, 1.0 - words_share)):
        if not found:
            continue
        high, low = found[0][1], found[-1][1]
        for item, score in found:
            scaled = (score - low) / (high - low) if high > low else 1.0
            out[item] = out.get(item, 0.0) + share * scaled
    return out


def evidence(
    items: list[str],
    state: UserState,
    index: ItemIndex,
    neighbours: dict[str, list[tuple[str, float]]],
    ranking: RecommendConfig,
    now_ms: int,
) -> dict[str, dict[str, float]]:
    """The shopper's evidence for each of ``items``: the parts named in the module's text,
    each 0 to 1 (parts that are 0 left out)."""
    session = current_session(state, ranking.session_gap_ms)
    out: dict[str, dict[str, float]] = {item: {} for item in items}
    for item in items:
        if item in state.purchases:
            out[item]["bought"] = 1.0
    for item in set(session) & out.keys():
        out[item]["seen"] = 1.0
    # the plain shares (no prior), as the search's weights were chosen with (`make bench-search`)
    covisits, _ = covisit_scores(state, neighbours, ranking, prior=0.0)
    for item in covisits.keys() & out.keys():
        out[item]["covisit"] = min(1.0, covisits[item])
    query = interest_query(state, ranking, now_ms)
    if query is not None:
        known, vectors = index.vectors_of(items)
        if len(known) > 1:
            cosines = vectors @ query
            low, high = float(cosines.min()), float(cosines.max())
            if high > low:
                for item, cosine in zip(
                    known, ((cosines.astype(np.float64) - low) / (high - low)).tolist(), strict=True
                ):
                    out[item]["interest"] = cosine
    total = sum(state.categories.values())
    if total > 0:
        for item in items:
            info = index.info(item)
            if info is not None and info.category in state.categories:
                out[item]["category"] = state.categories[info.category] / total
    return {item: {k: v for k, v in parts.items() if v > 0} for item, parts in out.items()}


def search(
    query: str,
    lexical: list[tuple[str, float]],
    semantic: list[tuple[str, float]],
    index: ItemIndex,
    k: int,
    cfg: SearchConfig,
    allowed: Callable[[str], bool],
    shopper: Shopper | None = None,
) -> list[SearchHit]:
    """The ``k`` best results among the retrievers' matches that ``allowed`` lets through,
    ordered for ``shopper`` (their state, the co-visits of their session's items, the ranking
    configuration and the time) when one is given."""
    fused = fuse(lexical, semantic, cfg.rrf_k)
    if cfg.words_share is not None:  # the blend of scaled scores, with the ranks kept
        blended = blend_scores(lexical, semantic, cfg.words_share)
        fused = {item: (blended[item], *ranks[1:]) for item, ranks in fused.items()}
    fused = {item: found for item, found in fused.items() if allowed(item)}
    personal: dict[str, dict[str, float]] = {}
    if shopper is not None and cfg.strength > 0:
        state, neighbours, ranking, now_ms = shopper
        personal = evidence(list(fused), state, index, neighbours, ranking, now_ms)
    weights = dict(cfg.evidence)
    # The shopper's evidence adds up to ``strength`` times the best match's score: it reorders
    # whatever the scale of the fusion, and lifts a weak match the shopper has reasons for.
    top = max((found[0] for found in fused.values()), default=0.0)
    scored: dict[str, tuple[float, float]] = {}  # item -> (score, personal part)
    for item, (score, _, _) in fused.items():
        parts = personal.get(item)
        if not parts:  # no evidence: the match's own score
            scored[item] = (round(score, 9) if top > 0 else 0.0, 0.0)
            continue
        mine = sum(weights.get(part, 0.0) * value for part, value in parts.items())
        lifted = score + cfg.strength * mine * top * (score / top) ** cfg.gate if top > 0 else 0.0
        scored[item] = (round(lifted, 9), round(mine, 6))
    best = sorted(scored, key=lambda item: (-scored[item][0], item))[:k]
    return [
        SearchHit(
            item,
            scored[item][0],
            reason(query, personal.get(item, {}), fused[item][1], index.info(item)),
            fused[item][1],
            fused[item][2],
            scored[item][1],
        )
        for item in best
    ]


def reason(
    query: str, parts: dict[str, float], lexical_rank: int | None, info: ItemInfo | None
) -> str:
    """The strongest evidence for a result: the shopper's own, else how it matches the query."""
    if parts.get("bought"):
        return "you bought this before"
    if parts.get("seen"):
        return "you looked at this earlier"
    if parts.get("covisit", 0.0) >= 0.1:
        return "often chosen with what you are looking at"
    if parts.get("interest", 0.0) >= 0.8:
        return "close to your interests"
    if parts.get("category", 0.0) >= 0.3 and info is not None:
        return f"from {info.category}, which you often choose"
    shown = query.strip()[:60]
    return f"matches '{shown}'" if lexical_rank is not None else f"related to '{shown}'"
