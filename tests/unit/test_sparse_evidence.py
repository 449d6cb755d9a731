"""Sources that know little hand out less than their weight: the blend divides a source's
scores by their sum or by 1, whichever is more, and co-visit rows carry a prior of one unseen
next click (bench/sessions-history.md, "The `category` source and the evidence floor")."""

from __future__ import annotations

import pytest

from ranking.blend import BlendConfig, Proposal, blend
from ranking.recommend import recommend
from ranking.recommend_config import RecommendConfig
from ranking.sessions import Neighbour
from tests.unit.test_session_sources import MINUTE, T0, clicked, index


def test_a_source_that_knows_little_hands_out_less_than_its_weight() -> None:
    weights = BlendConfig(weights=(("covisit", 1.0), ("recent", 1.5)))
    little = {
        "covisit": [Proposal("x", 0.3, "c"), Proposal("y", 0.2, "c")],
        "recent": [Proposal("r", 1.0, "s")],
    }
    # covisit sums to 0.5 < 1: divided by 1, not by 0.5; recent sums to 1
    assert [(r.item_id, r.score) for r in blend(little, weights)] == [
        ("r", 1.5),
        ("x", 0.3),
        ("y", 0.2),
    ]
    plenty = {
        "covisit": [Proposal("x", 3.0, "c"), Proposal("y", 2.0, "c")],
        "recent": [Proposal("r", 1.0, "s")],
    }
    assert [(r.item_id, r.score) for r in blend(plenty, weights)] == [
        ("r", 1.5),
        ("x", 0.6),
        ("y", 0.4),
    ]


def test_a_pair_seen_once_does_not_outrank_the_item_the_shopper_is_looking_at() -> None:
    """A sparse shop: the shopper's one item was clicked once beside x, and the one similar
    session holds x. With the shares over their sum alone, x got covisit 1 + sessions 1 = 2,
    above the item itself (recent 1.5); next clicks go back to the item far more often."""
    state = clicked(("a", 0))
    items = index("a", "x")
    got = recommend(
        state,
        items,
        {"a": [("x", 1.0)]},
        [],
        RecommendConfig(k=2),
        T0 + MINUTE,
        sessions=[Neighbour("x", 0.5, "a")],
    )
    # x: covisit 1 / (1 + 1) = 0.5, sessions 0.5 (one session, similarity 0.5): 1.0 in all
    assert [(r.item_id, r.source) for r in got] == [("a", "recent"), ("x", "covisit")]
    assert got[1].score == pytest.approx(1.0, abs=1e-6)
