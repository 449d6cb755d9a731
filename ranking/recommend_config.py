"""What shapes a shopper's list: how many items, from how many candidates a source, how the
session is read, and the blend (``ranking.recommend``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ranking.blend import BlendConfig


@dataclass(frozen=True, slots=True)
class RecommendConfig:
    k: int = 10
    per_source: int = 20
    # Trending fills lists of shoppers Pulse knows little about; a few candidates suffice.
    trending_candidates: int = 10
    short_share: float = 0.6
    recent_for_covisit: int = 5
    # Added to the sum of each session item's co-visit weights (ranking/session_sources.py).
    covisit_prior: float = 1.0
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
