"""Blend candidate sources into one ranked list, apply business rules, keep the top k. Pure.

Each source's scores are divided by their sum, so every source hands out the same total: a
source sure of a few items gives them much, a source that scores everything alike (content
neighbours of items whose texts say little) spreads it thin and cannot flood the list. Where
they sum to less than one (``EVIDENCE_FLOOR``: one co-visit, one similar session, one recent
item...) they are divided by one instead, so a source that knows little hands out less than its
full weight: one pair seen once no longer outweighs the item the shopper is looking at. An
item's score is the weighted sum over the sources that proposed it, and its ``source`` and
``reason`` are those of the source that contributed most.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.settings import CANDIDATE_SOURCES, DEFAULT_BLEND_WEIGHTS, parse_weights

# The least a source's scores are divided by (see above). On the validation spans of
# `make bench-sessions` it raised Taobao's MRR@20 from 0.087 to 0.090 and left YOOCHOOSE's where
# it was (README "Next-click quality").
EVIDENCE_FLOOR = 1.0

# Every source a recommended item can name: the candidate sources, and "explore" for the slots
# exploration fills.
SOURCES = (*CANDIDATE_SOURCES, "explore")


# Candidates and list entries are made by the hundred for every list: plain slotted records,
# about a quarter of a frozen dataclass's cost to make. Treat them as values all the same.
@dataclass(slots=True)
class Proposal:
    item_id: str
    score: float
    reason: str


@dataclass(slots=True)
class Recommendation:
    item_id: str
    score: float
    source: str
    reason: str
    # For source "explore": the candidate source (arm) the exploration slot was given to.
    arm: str | None = None


@dataclass(frozen=True, slots=True)
class BlendConfig:
    weights: tuple[tuple[str, float], ...] = parse_weights(DEFAULT_BLEND_WEIGHTS)
    exclude_purchased: bool = False


def weights_from_clicks(
    weights: tuple[tuple[str, float], ...],
    rates: dict[str, float],
    bounds: tuple[float, float] = (0.25, 4.0),
) -> tuple[tuple[str, float], ...]:
    """Each weight times its source's click rate on the lists over the mean rate of the sources
    that have one, kept within ``bounds``: sources shoppers click gain weight, ignored ones lose
    it, and a source never shown (no rate) keeps its weight.

    >>> weights_from_clicks((("covisit", 1.0), ("similar", 1.0), ("recent", 1.0)),
    ...                     {"covisit": 0.03, "similar": 0.01})
    (('covisit', 1.5), ('similar', 0.5), ('recent', 1.0))
    """
    known = [rates[name] for name, w in weights if w > 0 and name in rates]
    mean = sum(known) / len(known) if known else 0.0
    if mean <= 0:
        return weights
    low, high = bounds
    return tuple(
        (name, round(w * min(high, max(low, rates[name] / mean)), 6) if name in rates else w)
        for name, w in weights
    )


def blend(
    sources: dict[str, list[Proposal]], cfg: BlendConfig, limit: int | None = None
) -> list[Recommendation]:
    """All proposals ranked by blended score, best first (only the first ``limit``)."""
    weights = dict(cfg.weights)
    totals: dict[str, float] = {}
    best: dict[str, tuple[float, str, str]] = {}
    for source, proposals in sources.items():
        weight = weights.get(source, 0.0)
        positive = [p for p in proposals if p.score > 0]
        if not positive or weight <= 0:
            continue
        total = max(EVIDENCE_FLOOR, sum(p.score for p in positive))
        for p in positive:
            item = p.item_id
            part = weight * p.score / total
            known = totals.get(item)
            totals[item] = part if known is None else known + part
            if known is None or part > best[item][0]:
                best[item] = (part, source, p.reason)
    # keys are unique (the item is in them): sorting and cutting is nsmallest's answer
    ranked = sorted(totals, key=lambda item: (-totals[item], item))[:limit]
    out = []
    for item in ranked:
        _, source, reason = best[item]
        out.append(Recommendation(item, round(totals[item], 6), source, reason))
    return out


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
