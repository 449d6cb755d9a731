"""Candidate sources drawn from the shopper's current session: its own items (``recent``),
items clicked next to its latest ones (``covisit``), items of similar sessions (``sessions``)
and items popular now in its categories (``category``). Pure."""

from __future__ import annotations

import heapq
from collections.abc import Callable

from ranking.blend import Proposal
from ranking.item_index import ItemIndex
from ranking.recommend_config import RecommendConfig
from ranking.sessions import Neighbour, current_session
from ranking.state import UserState


def title_of(index: ItemIndex, item_id: str) -> str:
    info = index.info(item_id)
    return info.title if info else item_id


def covisit_sources(state: UserState, cfg: RecommendConfig) -> list[str]:
    """The items whose co-visits the ``covisit`` source reads: the session's latest."""
    return current_session(state, cfg.session_gap_ms)[-cfg.recent_for_covisit :]


def covisit_scores(
    state: UserState,
    neighbours: dict[str, list[tuple[str, float]]],
    cfg: RecommendConfig,
    prior: float,
) -> tuple[dict[str, float], dict[str, tuple[float, str]]]:
    """Every item co-visited with the current session's latest items, scored: each session
    item's neighbour weights are divided by their sum plus ``prior`` (an estimate of
    "what is clicked next to it", whatever its popularity, that a pair seen once does not make
    certain), and the session's items count 1, 1/2, 1/3, ... from the latest. Also, for each
    item, the session item that gave it most (and how much)."""
    scores: dict[str, float] = {}
    because: dict[str, tuple[float, str]] = {}
    for rank, source_item in enumerate(reversed(covisit_sources(state, cfg))):
        row = neighbours.get(source_item, [])
        total = sum(count for _, count in row)
        for item, count in row if total > 0 else ():
            gain = count / (total + prior) / (1 + rank)
            if item not in because or gain > because[item][0]:
                because[item] = (gain, source_item)
            scores[item] = scores.get(item, 0.0) + gain
    return scores, because


def covisited(
    state: UserState,
    neighbours: dict[str, list[tuple[str, float]]],
    index: ItemIndex,
    cfg: RecommendConfig,
) -> list[Proposal]:
    """Items clicked together with the current session's latest items (``covisit_scores``,
    with ``cfg.covisit_prior``)."""
    scores, because = covisit_scores(state, neighbours, cfg, cfg.covisit_prior)
    top = heapq.nsmallest(cfg.per_source, scores, key=lambda i: (-scores[i], i))
    return [
        Proposal(i, scores[i], f"often chosen with {title_of(index, because[i][1])}") for i in top
    ]


def session_items(state: UserState, cfg: RecommendConfig) -> list[Proposal]:
    """The current session's items the shopper looked at and has not bought (``history``
    speaks for those), the latest first (1, 1/2, 1/3, ...)."""
    session = [i for i in current_session(state, cfg.session_gap_ms) if i not in state.purchases]
    return [
        Proposal(item, 1.0 / (1 + rank), "you looked at this earlier")
        for rank, item in enumerate(reversed(session))
    ][: cfg.per_source]


def popular_in_categories(
    state: UserState,
    index: ItemIndex,
    popular: Callable[[str, int], list[tuple[str, float]]],
    cfg: RecommendConfig,
) -> list[Proposal]:
    """Items popular right now in the categories of the current session, the latest item's
    category first (its items count 1, the next category's 1/2, ...), each category's counts
    divided by their sum; not the session's own items (``recent`` speaks for those)."""
    session = current_session(state, cfg.session_gap_ms)
    mine = set(session)
    categories: list[str] = []
    for item in reversed(session):
        info = index.info(item)
        if info is not None and info.category and info.category not in categories:
            categories.append(info.category)
    scores: dict[str, float] = {}
    because: dict[str, str] = {}
    for rank, category in enumerate(categories[: cfg.popular_categories]):
        row = [
            (item, count)
            for item, count in popular(category, cfg.per_source + len(mine))
            if item not in mine
        ]
        total = sum(count for _, count in row)
        for item, count in row:
            if total > 0:
                scores[item] = scores.get(item, 0.0) + count / total / (1 + rank)
                because.setdefault(item, category)
    top = heapq.nsmallest(cfg.per_source, scores, key=lambda i: (-scores[i], i))
    return [Proposal(i, scores[i], f"popular in {because[i]}") for i in top]


def session_neighbours(found: list[Neighbour], index: ItemIndex) -> list[Proposal]:
    return [
        Proposal(
            n.item_id, n.score, f"shoppers who chose {title_of(index, n.because)} also chose this"
        )
        for n in found
    ]
