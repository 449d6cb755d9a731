"""Exploration slots in real lists, and rewards from clicks that carry a rec_id."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click
from core.metrics import Metrics
from core.settings import CANDIDATE_SOURCES
from feature_store.memory import MemoryCovisitStore, memory_stores
from personalisation.pipeline import Personaliser
from ranking.blend import Proposal, Recommendation
from ranking.explore import ThompsonSampler
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig, apply
from ranking.recommend import explore, recommend
from ranking.recommend_config import RecommendConfig
from ranking.state import UserState

T0 = 1_700_000_000_000


def index_of(n: int) -> ItemIndex:
    rng = np.random.default_rng(0)
    index = ItemIndex(8)
    for i in range(n):
        v = rng.standard_normal(8).astype(np.float32)
        index.upsert(ItemInfo(f"i{i}", f"ITEM {i}", None, i != 7), v / np.linalg.norm(v))
    return index


def test_the_last_slot_explores_an_allowed_candidate() -> None:
    index = index_of(40)
    state = apply(
        UserState.new(8),
        Click("e1", "u", T0, "i1", "click"),
        ProfileConfig(),
        item_vector=index.vector("i1"),
    )
    trending = [(f"i{i}", 40.0 - i) for i in range(5, 20)]
    cfg = RecommendConfig(k=10, explore_share=0.1)
    explorer = (ThompsonSampler(["similar", "covisit", "history", "trending"]), random.Random(1))
    recs = recommend(state, index, {}, trending, cfg, T0, explorer=explorer)
    assert len(recs) == 10
    assert [r.source for r in recs].count("explore") == 1 and recs[-1].source == "explore"
    assert recs[-1].arm in {"similar", "trending"}
    assert len({r.item_id for r in recs}) == 10 and "i7" not in {r.item_id for r in recs}
    assert recommend(state, index, {}, trending, RecommendConfig(k=10), T0)[-1].source != "explore"


def exploring(metrics: Metrics) -> Personaliser:
    """A pipeline over 30 items whose lists of 5 keep a slot for exploration."""
    return Personaliser(
        index_of(30),
        memory_stores(8),
        encoder=None,  # type: ignore[arg-type]
        ranking=RecommendConfig(k=5, explore_share=0.2),
        metrics=metrics,
    )


async def test_clicks_on_a_list_reward_its_sources() -> None:
    metrics = Metrics()
    p = exploring(metrics)
    outcome = await p.run([Click("e1", "u", T0, "i2", "click")])
    message = outcome.messages[0][1]
    shown = sum(p.sampler.impressions.values())
    assert shown == 5 and outcome.impressions.total() == 5  # the batch's counts, for Redis
    explored = [i for i in message["items"] if i["source"] == "explore"]
    assert len(explored) == 1 and explored[0]["arm"] in p.sampler.clicks
    target = explored[0]
    clicked = await p.run(
        [Click("e2", "u", T0 + 1000, target["item_id"], "click", rec_id=message["rec_id"])]
    )
    assert p.sampler.clicks[target["arm"]] == 1.0
    assert clicked.clicks == {target["arm"]: 1}
    text = metrics.render()
    assert 'pulse_recommendation_clicks_total{source="explore"} 1' in text
    assert 'pulse_recommendation_impressions_total{source="explore"}' in text
    assert metrics.get("pulse_exploration_share") > 0


class FlakyCovisit(MemoryCovisitStore):
    """Fails its first read, as Redis might: the step is then retried with the same batch."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def neighbours(self, items, n=30):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise ConnectionError("Redis went away")
        return await super().neighbours(items, n)


async def test_a_retried_batch_is_learned_once() -> None:
    from datetime import UTC

    from trends.tracker import TrendConfig, TrendTracker

    index = index_of(30)
    p = Personaliser(
        index,
        memory_stores(8),
        encoder=None,  # type: ignore[arg-type]
        ranking=RecommendConfig(k=5, explore_share=0.2),
    )
    first = await p.run([Click("e1", "u", T0, "i2", "click")])
    item = first.messages[0][1]["items"][0]
    tracker = TrendTracker(TrendConfig(), UTC)
    p.stores.covisit, p.trends = FlakyCovisit(), tracker
    clicks_before = dict(p.sampler.clicks)
    batch = [
        Click("e2", "u", T0 + 1000, item["item_id"], "click", rec_id=first.messages[0][1]["rec_id"])
    ]
    with pytest.raises(ConnectionError):
        await p.run(batch)
    await p.run(batch)  # the retry
    arm = item.get("arm") or item["source"]
    assert p.sampler.clicks[arm] == clicks_before[arm] + 1
    assert dict(p.trending.top(5, T0 + 1000))[item["item_id"]] == pytest.approx(
        1.0 + (1.0 if item["item_id"] == "i2" else 0.0), rel=1e-4
    )
    assert tracker.detectors["trending_item"].windows[(T0 + 1000) // 60_000][item["item_id"]] == 1


def plain_explore(
    sources: dict[str, list[Proposal]],
    explorer: tuple[ThompsonSampler, random.Random],
    slots: int,
    allowed: Callable[[str], bool],
    taken: set[str],
) -> list[Recommendation]:
    """The plain reference of ``ranking.recommend.explore``: every source's usable candidates
    listed first, and a pick removed from all of them."""
    sampler, rng = explorer
    queues = {
        name: [p for p in proposals if p.item_id not in taken and allowed(p.item_id)]
        for name, proposals in sources.items()
        if name in sampler.clicks
    }
    out: list[Recommendation] = []
    for _ in range(slots):
        arms = [name for name, queue in queues.items() if queue]
        if not arms:
            break
        arm = sampler.choose(rng, arms)
        pick = queues[arm].pop(0)
        for queue in queues.values():
            queue[:] = [p for p in queue if p.item_id != pick.item_id]
        out.append(Recommendation(pick.item_id, 0.0, "explore", pick.reason, arm))
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*CANDIDATE_SOURCES, "unknown"]),
        st.lists(st.integers(0, 12), max_size=8),
    ),
    st.sets(st.integers(0, 12)),  # taken
    st.sets(st.integers(0, 12)),  # not allowed
    st.integers(0, 5),  # slots
    st.integers(0, 2**32),  # seed
)
def test_exploration_picks_what_the_plain_reference_picks(
    proposed: dict[str, list[int]], taken: set[int], refused: set[int], slots: int, seed: int
) -> None:
    sources = {
        name: [Proposal(f"i{i}", 1.0, f"{name} {i}") for i in items]
        for name, items in proposed.items()
    }
    allowed = lambda item: item not in {f"i{i}" for i in refused}  # noqa: E731
    sampler = ThompsonSampler(CANDIDATE_SOURCES, prior=(1.0, 10.0))
    sampler.set_counts({"covisit": 50.0, "similar": 20.0}, {"covisit": 5.0})
    taken_ids = {f"i{i}" for i in taken}
    fast = explore(sources, (sampler, random.Random(seed)), slots, allowed, taken_ids)
    plain = plain_explore(sources, (sampler, random.Random(seed)), slots, allowed, taken_ids)
    assert fast == plain


async def test_every_list_of_a_batch_has_an_id_of_its_own_and_its_impressions_counted() -> None:
    metrics = Metrics()
    p = exploring(metrics)
    out = await p.run([Click(f"e{n}", f"u{n}", T0 + n, f"i{n}", "click") for n in range(12)])
    ids = [message["rec_id"] for _, message in out.messages]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    shown = [item for _, message in out.messages for item in message["items"]]
    by_arm: dict[str, int] = {}
    for item in shown:
        arm = item.get("arm") or item["source"]
        by_arm[arm] = by_arm.get(arm, 0) + 1
    assert {arm: p.sampler.impressions[arm] for arm in by_arm} == by_arm
    assert dict(out.impressions) == by_arm
    for source in {item["source"] for item in shown}:
        n = sum(item["source"] == source for item in shown)
        assert metrics.get("pulse_recommendation_impressions_total", "source", source) == n
    assert len(shown) == 60 and any(item["source"] == "explore" for item in shown)


async def test_a_batch_whose_nearest_items_fail_is_ranked_shopper_by_shopper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import personalisation.pipeline as pipeline

    batch = [Click(f"e{n}", f"u{n}", T0 + n, f"i{n}", "click") for n in range(3)]
    want = await exploring(Metrics()).run(batch)
    real = pipeline.similar_many

    def only_one_at_a_time(states: dict[str, UserState], *args: Any) -> Any:
        if len(states) > 1:
            raise RuntimeError("the batch's search failed")
        return real(states, *args)

    monkeypatch.setattr(pipeline, "similar_many", only_one_at_a_time)
    metrics = Metrics()
    got = await exploring(metrics).run(batch)
    assert metrics.get("pulse_step_errors_total", "step", "similar") == 1
    assert [(uid, m["items"]) for uid, m in got.messages] == [
        (uid, m["items"]) for uid, m in want.messages
    ]
    assert {uid for uid, _ in got.messages} == {"u0", "u1", "u2"}
