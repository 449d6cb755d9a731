"""Blend candidate sources into one ranked list, apply business rules, keep the top k. Pure.

Each source's scores are divided by the source's best score, so every source ranges over
(0, 1]; an item's score is the weighted sum over the sources that proposed it, and its
``source`` and ``reason`` are those of the source that contributed most.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.settings import CANDIDATE_SOURCES

# Every source a recommended item can name: the candidate sources, and "explore" for the slots
# exploration fills.
SOURCES = (*CANDIDATE_SOURCES, "explore")


@dataclass(frozen=True, slots=True)
class Proposal:
    item_id: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Recommendation:
    item_id: str
    score: float
    source: str
    reason: str
    # For source "explore": the candidate source (arm) the exploration slot was given to.
    arm: str | None = None


@dataclass(frozen=True, slots=True)
class BlendConfig:
    weights: tuple[tuple[str, float], ...] = (
        ("similar", 1.0),
        ("covisit", 1.0),
        ("history", 0.8),
        ("trending", 0.3),
    )
    exclude_purchased: bool = False


def blend(
    sources: dict[str, list[Proposal]], cfg: BlendConfig, limit: int | None = None
) -> list[Recommendation]:
    """All proposals ranked by blended score, best first (only the first ``limit``)."""
    weights = dict(cfg.weights)
    totals: dict[str, float] = {}
    best: dict[str, tuple[float, str, str]] = {}
    for source, proposals in sources.items():
        positive = [p for p in proposals if p.score > 0]
        if not positive or weights.get(source, 0.0) <= 0:
            continue
        top = max(p.score for p in positive)
        for p in positive:
            part = weights[source] * p.score / top
            totals[p.item_id] = totals.get(p.item_id, 0.0) + part
            if p.item_id not in best or part > best[p.item_id][0]:
                best[p.item_id] = (part, source, p.reason)
    key = lambda item: (-totals[item], item)  # noqa: E731
    ranked = sorted(totals, key=key) if limit is None else heapq.nsmallest(limit, totals, key=key)
    return [Recommendation(i, round(totals[i], 6), best[i][1], best[i][2]) for i in ranked]


def apply_rules(
    ranked: Iterable[Recommendation],
    *,
    available: Callable[[str], bool],
    purchased: set[str],
    cfg: BlendConfig,
    exclude: set[str] = frozenset(),  # type: ignore[assignment]
    k: int,
) -> list[Recommendation]:
    """Drop unavailable (out of stock, removed, unknown) items, purchased ones when so
    configured, and ``exclude``; keep the first ``k``."""
    out: list[Recommendation] = []
    for rec in ranked:
        if rec.item_id in exclude or not available(rec.item_id):
            continue
        if cfg.exclude_purchased and rec.item_id in purchased:
            continue
        out.append(rec)
        if len(out) == k:
            break
    return out
