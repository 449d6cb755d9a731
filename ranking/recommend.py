"""Candidates for one shopper from each source, blended and filtered. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from feature_store.item_index import ItemIndex
from feature_store.user_state import UserState
from ranking.blend import BlendConfig, Proposal, Recommendation, apply_rules, blend
from ranking.interest import blend as blend_interest


@dataclass(frozen=True, slots=True)
class RecommendConfig:
    k: int = 10
    per_source: int = 50
    short_share: float = 0.6
    recent_for_covisit: int = 5
    # The latest items a shopper touched are not recommended back to them at once.
    hide_latest: int = 3
    # Items of the shopper's favourite categories are lifted by up to this share.
    category_boost: float = 0.5
    blend: BlendConfig = field(default_factory=BlendConfig)
    short_half_life_ms: float = 30 * 60 * 1000.0


def _title(index: ItemIndex, item_id: str) -> str:
    info = index.info(item_id)
    return info.title if info else item_id


def similar(
    state: UserState, index: ItemIndex, cfg: RecommendConfig, now_ms: int
) -> list[Proposal]:
    if state.short.is_empty and state.long.is_empty:
        return []
    short = state.short.at(now_ms, cfg.short_half_life_ms)
    query = blend_interest(short, state.long, cfg.short_share if not short.is_empty else 0.0)
    hits = index.search(query, cfg.per_source)
    q = state.last_query
    if q is not None and now_ms - q[1] <= cfg.short_half_life_ms:
        reason = f"because you searched '{q[0]}'"
    elif state.recent:
        reason = f"similar to {_title(index, state.recent[-1][0])}"
    else:
        reason = "matches your interests"
    return [Proposal(item, score, reason) for item, score in hits]


def covisited(
    state: UserState,
    neighbours: dict[str, list[tuple[str, float]]],
    index: ItemIndex,
    cfg: RecommendConfig,
) -> list[Proposal]:
    scores: dict[str, float] = {}
    because: dict[str, str] = {}
    recent = [item for item, _ in state.recent[-cfg.recent_for_covisit :]]
    for rank, source_item in enumerate(reversed(recent)):
        recency = 1.0 / (1 + rank)
        for item, count in neighbours.get(source_item, []):
            gain = recency * count
            if gain > scores.get(item, 0.0):
                because[item] = source_item
            scores[item] = scores.get(item, 0.0) + gain
    top = sorted(scores, key=lambda i: -scores[i])[: cfg.per_source]
    return [Proposal(i, scores[i], f"often chosen with {_title(index, because[i])}") for i in top]


def history(state: UserState) -> list[Proposal]:
    return [
        Proposal(item, float(units), "you bought this before")
        for item, (units, _) in sorted(state.purchases.items(), key=lambda kv: -kv[1][1])
    ]


def trending_proposals(trending: list[tuple[str, float]]) -> list[Proposal]:
    return [Proposal(item, score, "trending now") for item, score in trending]


def boost_categories(
    ranked: list[Recommendation], state: UserState, index: ItemIndex, boost: float
) -> list[Recommendation]:
    """Lift each item by ``boost`` times its category's share of the shopper's affinities."""
    total = sum(state.categories.values())
    if boost <= 0 or total <= 0:
        return ranked
    lifted = []
    for rec in ranked:
        info = index.info(rec.item_id)
        share = state.categories.get(info.category, 0.0) / total if info and info.category else 0.0
        lifted.append(replace(rec, score=round(rec.score * (1.0 + boost * share), 6)))
    return sorted(lifted, key=lambda r: (-r.score, r.item_id))


def recommend(
    state: UserState,
    index: ItemIndex,
    neighbours: dict[str, list[tuple[str, float]]],
    trending: list[tuple[str, float]],
    cfg: RecommendConfig,
    now_ms: int,
    available: Callable[[str], bool] | None = None,
) -> list[Recommendation]:
    sources = {
        "similar": similar(state, index, cfg, now_ms),
        "covisit": covisited(state, neighbours, index, cfg),
        "history": history(state),
        "trending": trending_proposals(trending),
    }
    latest = {item for item, _ in state.recent[-cfg.hide_latest :]} if cfg.hide_latest else set()
    return apply_rules(
        boost_categories(blend(sources, cfg.blend), state, index, cfg.category_boost),
        available=available or index.available,
        purchased=set(state.purchases),
        cfg=cfg.blend,
        exclude=latest - set(state.purchases),
        k=cfg.k,
    )
