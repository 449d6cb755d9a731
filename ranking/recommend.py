"""Candidates for one shopper from each source, blended and filtered. Pure."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import replace

import numpy as np
import pulse_kernels

from ranking.blend import (
    EVIDENCE_FLOOR,
    BlendConfig,
    Proposal,
    Recommendation,
    apply_rules,
    blend,
    weights_from_clicks,
)
from ranking.diversity import mmr
from ranking.explore import ThompsonSampler, exploration_slots
from ranking.interest import Vector, decay
from ranking.interest import blend as blend_interest
from ranking.item_index import ItemIndex
from ranking.recommend_config import RecommendConfig
from ranking.session_sources import (
    covisited,
    popular_in_categories,
    session_items,
    session_neighbours,
    title_of,
)
from ranking.sessions import Neighbour
from ranking.state import UserState


def interest_query(state: UserState, cfg: RecommendConfig, now_ms: int) -> Vector | None:
    """The vector to search items with: session intent blended with long-term taste."""
    if state.short.is_empty and state.long.is_empty:
        return None
    short = state.short.at(now_ms, cfg.short_half_life_ms)
    return blend_interest(short, state.long, cfg.short_share if not short.is_empty else 0.0)


def similar_reason(state: UserState, index: ItemIndex, cfg: RecommendConfig, now_ms: int) -> str:
    q = state.last_query
    if q is not None and now_ms - q[1] <= cfg.short_half_life_ms:
        return f"because you searched '{q[0]}'"
    if state.recent:
        return f"similar to {title_of(index, state.recent[-1][0])}"
    return "matches your interests"


def similar_many(
    states: dict[str, UserState], index: ItemIndex, cfg: RecommendConfig, now_ms: dict[str, int]
) -> dict[str, list[Proposal]]:
    """Nearest items to every shopper's interest, with one matrix product for all of them."""
    queries = {uid: interest_query(s, cfg, now_ms[uid]) for uid, s in states.items()}
    users = [uid for uid, q in queries.items() if q is not None]
    out: dict[str, list[Proposal]] = {uid: [] for uid in states}
    if not users:
        return out
    matrix = np.stack([queries[uid] for uid in users])  # type: ignore[misc]
    # Items the shopper just touched are not "similar" to themselves: history covers them.
    excludes = [{item for item, _ in states[uid].recent} for uid in users]
    for uid, hits in zip(users, index.search_many(matrix, cfg.per_source, excludes), strict=True):
        reason = similar_reason(states[uid], index, cfg, now_ms[uid])
        out[uid] = [Proposal(item, score, reason) for item, score in hits]
    return out


def similar(
    state: UserState, index: ItemIndex, cfg: RecommendConfig, now_ms: int
) -> list[Proposal]:
    return similar_many({"": state}, index, cfg, {"": now_ms})[""]


def history(
    state: UserState,
    now_ms: int,
    cfg: RecommendConfig,
    repeat_rates: dict[str, float] | None = None,
) -> list[Proposal]:
    """Own purchases by decayed purchase occasions (repeat buys matter in retail), scaled by
    how often shoppers buy each item again when ``repeat_rates`` are known."""
    return [
        Proposal(
            item,
            count
            * decay(max(0, now_ms - last), cfg.history_half_life_ms)
            * (1.0 if repeat_rates is None else cfg.repeat_floor + repeat_rates.get(item, 0.0)),
            "you bought this before",
        )
        for item, (count, last) in state.purchases.items()
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
    categories = state.categories
    for rec in ranked:
        info = index.info(rec.item_id)
        share = categories.get(info.category, 0.0) / total if info and info.category else 0.0
        if share:
            rec = Recommendation(
                rec.item_id, round(rec.score * (1.0 + boost * share), 6), rec.source, rec.reason
            )
        lifted.append(rec)
    return sorted(lifted, key=lambda r: (-r.score, r.item_id))


def blended_head(
    sources: dict[str, list[Proposal]],
    cfg: BlendConfig,
    limit: int,
    state: UserState,
    index: ItemIndex,
    boost: float,
) -> Iterable[Recommendation]:
    """``boost_categories(blend(sources, cfg, limit), state, index, boost)``, compiled
    (``kernels/src/blend.rs``, held to those by property tests): the same items, order, scores,
    sources and reasons. Each entry is made only when it is read: the rules keep the first k.
    Non-finite scores or weights, which the compiled blend declines, take the Python."""
    rows = compiled_head(sources, cfg, limit, state, index, boost)
    if rows is None:
        return boost_categories(blend(sources, cfg, limit), state, index, boost)
    return (Recommendation(*row) for row in rows)


def compiled_head(
    sources: dict[str, list[Proposal]],
    cfg: BlendConfig,
    limit: int | None,
    state: UserState,
    index: ItemIndex,
    boost: float,
) -> list[tuple[str, float, str, str]] | None:
    """The compiled blend's rows ``(item, score, source, reason)`` for ``blended_head``, or None
    where it declines the input."""
    weights = dict(cfg.weights)
    return pulse_kernels.blend_head(
        [(name, weights.get(name, 0.0), proposals) for name, proposals in sources.items()],
        EVIDENCE_FLOOR,
        limit,
        boost,
        index.infos,
        state.categories,
        sum(state.categories.values()),
    )


def push_down_dismissed(
    ranked: list[Recommendation], state: UserState, index: ItemIndex, cfg: RecommendConfig
) -> list[Recommendation]:
    """Items close to one the shopper dismissed lose ``dismiss_penalty`` of their score."""
    vectors = [v for i, _ in state.dismissed if (v := index.vector(i)) is not None]
    if not vectors or cfg.dismiss_penalty <= 0 or not ranked:
        return ranked
    dismissed = np.stack(vectors)
    out = []
    for rec in ranked:
        vector = index.vector(rec.item_id)
        if vector is not None and float(np.max(dismissed @ vector)) >= cfg.dismiss_cosine:
            rec = replace(rec, score=round(rec.score * (1.0 - cfg.dismiss_penalty), 6))
        out.append(rec)
    return sorted(out, key=lambda r: (-r.score, r.item_id))


def search_aware(state: UserState, cfg: RecommendConfig) -> BlendConfig:
    """The blend for the shopper now: right after a search, the content source (the query's
    matches) weighs at least ``search_similar_weight``."""
    query = state.last_query
    if query is None or (state.recent and state.recent[-1][1] > query[1]):
        return cfg.blend
    weights = dict(cfg.blend.weights)
    weights["similar"] = max(weights.get("similar", 0.0), cfg.search_similar_weight)
    return replace(cfg.blend, weights=tuple(weights.items()))


def learned_weights(cfg: RecommendConfig, sampler: ThompsonSampler) -> RecommendConfig:
    """``cfg`` with the source weights learned from the clicks on the lists so far, once there
    are ``learn_min_clicks`` of them."""
    least = cfg.learn_min_clicks
    if least is None or sum(sampler.clicks.values()) < least:
        return cfg
    rates = {arm: sampler.mean(arm) for arm, n in sampler.impressions.items() if n > 0}
    weights = weights_from_clicks(cfg.blend.weights, rates)
    return replace(cfg, blend=replace(cfg.blend, weights=weights))


def candidate_sources(
    state: UserState,
    index: ItemIndex,
    neighbours: dict[str, list[tuple[str, float]]],
    trending: list[tuple[str, float]],
    cfg: RecommendConfig,
    now_ms: int,
    similar_proposals: list[Proposal] | None = None,
    repeat_rates: dict[str, float] | None = None,
    sessions: list[Neighbour] | None = None,
    popular: Callable[[str, int], list[tuple[str, float]]] | None = None,
) -> dict[str, list[Proposal]]:
    """Every source's candidates for the shopper, before the blend. ``popular(category, n)``:
    a category's ``n`` most popular items now, with their counts (none, or the source weighs
    nothing: no ``category`` candidates)."""
    return {
        "similar": similar(state, index, cfg, now_ms)
        if similar_proposals is None
        else similar_proposals,
        "covisit": covisited(state, neighbours, index, cfg),
        "sessions": session_neighbours(sessions or [], index),
        "recent": session_items(state, cfg),
        "history": history(state, now_ms, cfg, repeat_rates),
        "trending": trending_proposals(trending[: cfg.trending_candidates]),
        "category": popular_in_categories(state, index, popular, cfg)
        if popular is not None and dict(cfg.blend.weights).get("category", 0.0) > 0
        else [],
    }


def recommend(
    state: UserState,
    index: ItemIndex,
    neighbours: dict[str, list[tuple[str, float]]],
    trending: list[tuple[str, float]],
    cfg: RecommendConfig,
    now_ms: int,
    available: Callable[[str], bool] | None = None,
    similar_proposals: list[Proposal] | None = None,
    explorer: tuple[ThompsonSampler, random.Random] | None = None,
    repeat_rates: dict[str, float] | None = None,
    sessions: list[Neighbour] | None = None,
    popular: Callable[[str, int], list[tuple[str, float]]] | None = None,
) -> list[Recommendation]:
    sources = candidate_sources(
        state,
        index,
        neighbours,
        trending,
        cfg,
        now_ms,
        similar_proposals,
        repeat_rates,
        sessions,
        popular,
    )
    latest = {item for item, _ in state.recent[-cfg.hide_latest :]} if cfg.hide_latest else set()
    # Kept off the list: the latest items (not bought ones: history speaks for those), and
    # whatever the shopper dismissed.
    hidden = (latest - set(state.purchases)) | {item for item, _ in state.dismissed}
    # The lift is at most (1 + category_boost)x, so only the head of the blend can reorder.
    lifted = blended_head(
        sources,
        search_aware(state, cfg),
        4 * cfg.k + len(hidden) + len(state.purchases),
        state,
        index,
        cfg.category_boost,
    )
    kept = apply_rules(
        push_down_dismissed(list(lifted), state, index, cfg) if state.dismissed else lifted,
        available=available or index.available,
        purchased=set(state.purchases),
        cfg=cfg.blend,
        exclude=hidden,
        k=cfg.k if cfg.diversity <= 0 else 3 * cfg.k,
    )
    slots = exploration_slots(cfg.k, cfg.explore_share) if explorer else 0
    chosen = mmr(kept, index.vector, cfg.k - slots, cfg.diversity)
    if explorer is None or slots == 0:
        return chosen
    allowed = available or index.available
    taken = {r.item_id for r in chosen}
    skip = hidden | (set(state.purchases) if cfg.blend.exclude_purchased else set())
    return chosen + explore(sources, explorer, slots, lambda i: allowed(i) and i not in skip, taken)


def explore(
    sources: dict[str, list[Proposal]],
    explorer: tuple[ThompsonSampler, random.Random],
    slots: int,
    allowed: Callable[[str], bool],
    taken: set[str],
) -> list[Recommendation]:
    """Fill ``slots`` by Thompson sampling over the sources that still have a usable candidate;
    each slot takes the best unused candidate of the source drawn. A source's candidates are
    looked at only as far as needed: an item once unusable stays so."""
    sampler, rng = explorer
    queues = {name: proposals for name, proposals in sources.items() if name in sampler.clicks}
    at = dict.fromkeys(queues, 0)
    used = set(taken)

    def head(name: str) -> Proposal | None:
        queue, n = queues[name], at[name]
        while n < len(queue) and (queue[n].item_id in used or not allowed(queue[n].item_id)):
            n += 1
        at[name] = n
        return queue[n] if n < len(queue) else None

    out: list[Recommendation] = []
    for _ in range(slots):
        arms = [name for name in queues if head(name) is not None]
        if not arms:
            break
        arm = sampler.choose(rng, arms)
        pick = queues[arm][at[arm]]
        used.add(pick.item_id)
        out.append(Recommendation(pick.item_id, 0.0, "explore", pick.reason, arm))
    return out
