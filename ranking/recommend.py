"""Candidates for one shopper from each source, blended and filtered. Pure."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ranking.blend import (
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
from ranking.sessions import Neighbour, current_session
from ranking.state import UserState


@dataclass(frozen=True, slots=True)
class RecommendConfig:
    k: int = 10
    per_source: int = 20
    # Trending fills lists of shoppers Pulse knows little about; a few candidates suffice.
    trending_candidates: int = 10
    short_share: float = 0.6
    recent_for_covisit: int = 5
    # The ``category`` source reads the categories of this many of the session's latest items.
    popular_categories: int = 5
    # How many of the latest items a shopper touched are kept off their list (0: none).
    hide_latest: int = 0
    # A gap longer than this between two of a shopper's events starts a new session.
    session_gap_ms: float = 30 * 60 * 1000.0
    # Right after a search the content source, which holds the query's matches, weighs this.
    search_similar_weight: float = 1.0
    # Source weights follow the sources' click rates on the lists once they have this many
    # clicks (None: the configured weights stay).
    learn_min_clicks: int | None = None
    # Items of the shopper's favourite categories are lifted by up to this share.
    category_boost: float = 0.5
    # Dismissed items are kept off the list; items at least this similar (cosine) to one of
    # them lose this share of their score.
    dismiss_cosine: float = 0.8
    dismiss_penalty: float = 0.5
    # MMR strength: 0 keeps the blended order, 1 maximises dissimilarity (ranking/diversity.py).
    diversity: float = 0.0
    # Share of the k slots given to exploration (Thompson sampling over candidate sources).
    explore_share: float = 0.0
    blend: BlendConfig = field(default_factory=BlendConfig)
    short_half_life_ms: float = 30 * 60 * 1000.0
    history_half_life_ms: float = 180 * 24 * 3600 * 1000.0
    # A purchased item's history score is scaled by (repeat_floor + the item's repeat rate):
    # items shoppers tend to buy again rank above one-off buys.
    repeat_floor: float = 0.1


def _title(index: ItemIndex, item_id: str) -> str:
    info = index.info(item_id)
    return info.title if info else item_id


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
        return f"similar to {_title(index, state.recent[-1][0])}"
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


def covisit_sources(state: UserState, cfg: RecommendConfig) -> list[str]:
    """The items whose co-visits the ``covisit`` source reads: the session's latest."""
    return current_session(state, cfg.session_gap_ms)[-cfg.recent_for_covisit :]


def covisit_scores(
    state: UserState, neighbours: dict[str, list[tuple[str, float]]], cfg: RecommendConfig
) -> tuple[dict[str, float], dict[str, tuple[float, str]]]:
    """Every item co-visited with the current session's latest items, scored: each session
    item's neighbour weights are divided by their sum (an estimate of "what is clicked next to
    it", whatever its popularity), and the session's items count 1, 1/2, 1/3, ... from the
    latest. Also, for each item, the session item that gave it most (and how much)."""
    scores: dict[str, float] = {}
    because: dict[str, tuple[float, str]] = {}
    for rank, source_item in enumerate(reversed(covisit_sources(state, cfg))):
        row = neighbours.get(source_item, [])
        total = sum(count for _, count in row)
        for item, count in row if total > 0 else ():
            gain = count / total / (1 + rank)
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
    """Items clicked together with the current session's latest items (``covisit_scores``)."""
    scores, because = covisit_scores(state, neighbours, cfg)
    top = heapq.nsmallest(cfg.per_source, scores, key=lambda i: (-scores[i], i))
    return [
        Proposal(i, scores[i], f"often chosen with {_title(index, because[i][1])}") for i in top
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
            n.item_id, n.score, f"shoppers who chose {_title(index, n.because)} also chose this"
        )
        for n in found
    ]


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
    head = blend(
        sources, search_aware(state, cfg), limit=4 * cfg.k + len(hidden) + len(state.purchases)
    )
    lifted = boost_categories(head, state, index, cfg.category_boost)
    kept = apply_rules(
        push_down_dismissed(lifted, state, index, cfg) if state.dismissed else lifted,
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
