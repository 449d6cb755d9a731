from __future__ import annotations

import doctest
import random

import pytest

import ranking.explore
from ranking.explore import ThompsonSampler, exploration_slots


def test_doctests() -> None:
    result = doctest.testmod(ranking.explore)
    assert result.failed == 0 and result.attempted > 0


def test_posterior_counts_clicks_and_misses() -> None:
    t = ThompsonSampler(["a", "b"])
    for clicked in (True, True, False, False, False):
        t.update("a", clicked)
    assert t.posterior("a") == (3.0, 4.0)
    assert t.posterior("b") == (1.0, 1.0)
    assert t.mean("a") == pytest.approx(3 / 7)


def test_it_learns_to_prefer_the_better_arm() -> None:
    rng = random.Random(3)
    true_rate = {"good": 0.3, "bad": 0.05}
    t = ThompsonSampler(true_rate)
    picks = []
    for _ in range(2_000):
        arm = t.choose(rng)
        t.update(arm, rng.random() < true_rate[arm])
        picks.append(arm)
    assert picks[-500:].count("good") > 450  # exploits once it knows
    assert t.impressions["bad"] > 10  # but did try the other arm


def test_choose_only_among_the_given_arms() -> None:
    t = ThompsonSampler(["a", "b", "c"])
    rng = random.Random(0)
    assert {t.choose(rng, ["b"]) for _ in range(20)} == {"b"}


@pytest.mark.parametrize(
    ("k", "share", "slots"),
    [(10, 0.1, 1), (10, 0.0, 0), (10, 0.25, 2), (20, 0.1, 2), (3, 0.01, 1), (0, 0.5, 0)],
)
def test_slot_share(k: int, share: float, slots: int) -> None:
    assert exploration_slots(k, share) == slots
