"""The personalisation step of a worker: a micro-batch of valid user events in, updated
shopper states, co-visitation counts and fresh recommendation lists out.

Thin: it gathers inputs (states from the store, vectors from the encoder and the item index,
co-visit neighbours), calls the pure functions of ``ranking``, and queues every write on the
batch's single Redis pipeline.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from redis.asyncio.client import Pipeline

from encoders.pooling import Floats
from feature_store.bandit import BanditStore
from feature_store.item_index import ItemIndex, ItemInfo
from feature_store.stores import CovisitWeights, RepeatRates, ShopperStore
from feature_store.trend_signals import TrendSignalStore
from feature_store.user_state import UserState
from ranking.blend import CANDIDATE_SOURCES, BlendConfig, Recommendation
from ranking.explore import ThompsonSampler
from ranking.profile import ProfileConfig, apply
from ranking.recommend import RecommendConfig, recommend, similar_many
from ranking.trending import DecayedCounter
from streams.events import Click, Purchase, Review, Search, UserEvent
from streams.metrics import Metrics
from streams.settings import Settings, parse_weights
from trends.intent import IntentConfig, drift, next_drift, next_intent, session_category
from trends.tracker import Observations, TrendTracker

# A new item is paired with this many of the shopper's latest items.
COVISIT_RECENT = 3


class TextEncoder(Protocol):
    """What the step needs of the encoder (``encoders.service.EncoderService``)."""

    async def encode_query(self, query: str) -> Floats: ...

    async def encode_text(self, text: str) -> Floats: ...


@dataclass(slots=True)
class Outcome:
    states: dict[str, UserState] = field(default_factory=dict)
    pairs: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    # item -> (purchase occasions, repeat occasions) seen in the batch
    repeats: dict[str, tuple[int, int]] = field(default_factory=dict)
    # the bandit's impressions and clicks per arm in the batch
    impressions: Counter[str] = field(default_factory=Counter)
    clicks: Counter[str] = field(default_factory=Counter)
    # pulse.trends messages the batch fired
    trends: list[dict[str, Any]] = field(default_factory=list)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class Personaliser:
    def __init__(
        self,
        index: ItemIndex,
        users: ShopperStore,
        covisit: CovisitWeights,
        encoder: TextEncoder,
        profile: ProfileConfig | None = None,
        ranking: RecommendConfig | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        repeats: RepeatRates | None = None,
        bandit: BanditStore | None = None,
        trends: TrendTracker | None = None,
        intent: IntentConfig | None = None,
        signals: TrendSignalStore | None = None,
    ) -> None:
        self.index = index
        self.users = users
        self.covisit = covisit
        # Without a store the history source ranks by decayed purchase occasions alone.
        self.repeats = repeats
        # Without a store each worker's bandit learns alone, from its start.
        self.bandit = bandit
        # Without a tracker no trend signals; intent is followed in the shopper state anyway.
        self.trends = trends
        self.signals = signals
        self.encoder = encoder
        self.profile = profile or ProfileConfig()
        self.intent = intent or IntentConfig(half_life_ms=self.profile.short_half_life_ms)
        self.ranking = ranking or RecommendConfig()
        self.trending = DecayedCounter(half_life_ms=6 * 3600 * 1000.0)
        self.clock = clock
        # Exploration over candidate sources, learned by this worker from clicks on its lists.
        self.sampler = ThompsonSampler(CANDIDATE_SOURCES, prior=(1.0, 10.0))
        self.rng = random.Random(0)
        self._shown = 0
        self._explored = 0
        self.metrics = metrics
        if metrics is not None:
            metrics.describe("pulse_recommendation_impressions_total", "Items shown, by source.")
            metrics.describe(
                "pulse_recommendation_clicks_total", "Clicks on shown items, by source."
            )
            metrics.describe("pulse_exploration_share", "Share of shown items that explore.")

    async def prepare(
        self, events: Sequence[UserEvent], ingested_ms: dict[str, int] | None = None
    ) -> Outcome:
        outcome = Outcome()
        if not events:
            return outcome
        # Every read (Redis, encoder) comes before this worker's in-process learning, so a
        # read that fails and is retried with the whole batch never counts anything twice.
        states = await self.users.load({e.user_id for e in events})
        totals = await self.bandit.due_totals() if self.bandit is not None else None
        credited = await self._clicked_sources(events)
        queries, reviews = await self._texts(events)
        last: dict[str, UserEvent] = {}
        observed = Observations()
        chosen: list[tuple[str, float, int]] = []  # (item, weight, ts) for the trending counts
        for event in events:
            state = states[event.user_id]
            if state.has_seen(event.event_id):
                continue
            item_id = getattr(event, "item_id", None)
            info = self.index.info(item_id) if item_id else None
            before = [i for i, _ in state.recent[-COVISIT_RECENT:]]
            if isinstance(event, Purchase):
                _count_occasion(outcome.repeats, state, event)
            states[event.user_id] = apply(
                state,
                event,
                self.profile,
                item_vector=self.index.vector(item_id) if item_id else None,
                text_vector=queries.get(event.query)
                if isinstance(event, Search)
                else reviews.get(event.text)
                if isinstance(event, Review)
                else None,
                category=info.category if info else None,
            )
            observed.add(event, info.category if info else None)
            if info is not None and isinstance(event, Click | Purchase):
                states[event.user_id] = self._follow_intent(
                    states[event.user_id], event, info, observed
                )
            outcome.states[event.user_id] = states[event.user_id]
            if isinstance(event, Click | Purchase):
                weight = self.profile.weight(
                    "purchase" if isinstance(event, Purchase) else event.action
                )
                chosen.append((event.item_id, weight, event.ts_ms))
                for previous in before:
                    if previous != event.item_id:
                        outcome.pairs[tuple(sorted((previous, event.item_id)))] += weight  # type: ignore[index]
            if event.user_id not in last or event.ts_ms >= last[event.user_id].ts_ms:
                last[event.user_id] = event
        recent = {
            i
            for s in outcome.states.values()
            for i, _ in s.recent[-self.ranking.recent_for_covisit :]
        }
        neighbours: dict[str, list[tuple[str, float]]] = {}
        rates = None
        if outcome.states:
            neighbours = await self.covisit.neighbours(recent)
            rates = await self._repeat_rates(outcome.states.values())
        # Reads done: learn in process, then rank.
        if totals is not None:
            self.sampler.set_counts(*totals)
        self._reward(credited, outcome)
        for item, weight, ts in chosen:
            self.trending.add(item, weight, ts)
        if self.trends is not None:
            outcome.trends = self.trends.observe(observed)
        if not outcome.states:
            return outcome
        now_ms = max(e.ts_ms for e in events)
        trending = self.trending.top(self.ranking.per_source, now_ms)
        generated = int(self.clock() * 1000)
        now = {uid: last[uid].ts_ms for uid in outcome.states}
        similar = similar_many(outcome.states, self.index, self.ranking, now)
        for uid, state in outcome.states.items():
            trigger = last[uid]
            recs = recommend(
                state,
                self.index,
                neighbours,
                trending,
                self.ranking,
                trigger.ts_ms,
                similar_proposals=similar[uid],
                explorer=(self.sampler, self.rng) if self.ranking.explore_share > 0 else None,
                repeat_rates=rates,
            )
            self._count_impressions(recs, outcome)
            outcome.messages.append(
                (
                    uid,
                    {
                        "user_id": uid,
                        "rec_id": uuid.uuid4().hex,
                        "items": [item_message(r) for r in recs],
                        "trigger_event_id": trigger.event_id,
                        "event_ts": trigger.ts_ms,
                        "ingested_at": (ingested_ms or {}).get(trigger.event_id),
                        "generated_at": generated,
                    },
                )
            )
        return outcome

    def queue_writes(self, pipe: Pipeline, outcome: Outcome) -> None:
        self.users.write(pipe, outcome.states)
        if outcome.pairs:
            self.covisit.add(pipe, outcome.pairs)
        if outcome.repeats and self.repeats is not None:
            self.repeats.add(pipe, outcome.repeats)
        if self.bandit is not None:
            self.bandit.add(pipe, outcome.impressions, outcome.clicks)
        if outcome.trends and self.signals is not None:
            self.signals.add(pipe, outcome.trends)
        for uid, message in outcome.messages:
            self.users.write_recommendations(pipe, uid, message)

    def _follow_intent(
        self, state: UserState, event: UserEvent, info: ItemInfo, observed: Observations
    ) -> UserState:
        """Remember the shopper's session category (or, for items without one, whether their
        interest has drifted); a change is an intent shift."""
        score = drift(state.short.total, state.long.total)
        if info.category:
            current = session_category(state.recent, self._category_of, event.ts_ms, self.intent)
            intent, shift = next_intent(event.user_id, state.intent, current, score, event.ts_ms)
            changed = replace(state, intent=intent) if intent != state.intent else state
        else:
            strongest = max(state.categories, key=state.categories.__getitem__, default=None)
            drifted, shift = next_drift(
                event.user_id, state.drifted, score, event.ts_ms, self.intent, strongest, info.title
            )
            changed = replace(state, drifted=drifted) if drifted != state.drifted else state
        if shift is not None:
            observed.shifts.append(shift)
        return changed

    def _category_of(self, item_id: str) -> str | None:
        info = self.index.info(item_id)
        return info.category if info else None

    def committed(self, outcome: Outcome) -> None:
        """The batch's writes are in Redis: keep what this worker caches of them."""
        self.users.remember(outcome.states)
        if self.repeats is not None:
            self.repeats.remember(outcome.repeats)

    async def _clicked_sources(self, events: Sequence[UserEvent]) -> list[tuple[str, str]]:
        """``(arm, source)`` of every clicked item that came from one of our lists."""
        clicks = [e for e in events if isinstance(e, Click) and e.rec_id]
        if not clicks:
            return []
        lists = await self.users.recommendations_many({c.user_id for c in clicks})
        credited = []
        for click in clicks:
            stored = lists.get(click.user_id)
            if not stored or stored.get("rec_id") != click.rec_id:
                continue
            item = next((i for i in stored["items"] if i["item_id"] == click.item_id), None)
            if item is not None:
                credited.append((item.get("arm") or item["source"], item["source"]))
        return credited

    def _reward(self, credited: list[tuple[str, str]], outcome: Outcome) -> None:
        """Credit the arm of every clicked item (the bandit, the batch's counts, metrics)."""
        for arm, source in credited:
            self.sampler.record_click(arm)
            outcome.clicks[arm] += 1
            if self.metrics is not None:
                self.metrics.inc("pulse_recommendation_clicks_total", "source", source)

    def _count_impressions(self, recs: Sequence[Recommendation], outcome: Outcome) -> None:
        for rec in recs:
            self.sampler.record_impression(rec.arm or rec.source)
            outcome.impressions[rec.arm or rec.source] += 1
            if self.metrics is not None:
                self.metrics.inc("pulse_recommendation_impressions_total", "source", rec.source)
        self._shown += len(recs)
        self._explored += sum(rec.source == "explore" for rec in recs)
        if self.metrics is not None and self._shown:
            self.metrics.set("pulse_exploration_share", self._explored / self._shown)

    async def recommend_for(self, user_id: str, now_ms: int, k: int) -> list[Recommendation]:
        """A fresh list for one shopper at ``now_ms``, ranked as after an event."""
        state = (await self.users.load([user_id]))[user_id]
        recent = [i for i, _ in state.recent[-self.ranking.recent_for_covisit :]]
        neighbours = await self.covisit.neighbours(recent)
        trending = self.trending.top(self.ranking.per_source, now_ms)
        cfg = replace(self.ranking, k=k)
        rates = await self._repeat_rates([state])
        return recommend(state, self.index, neighbours, trending, cfg, now_ms, repeat_rates=rates)

    async def _repeat_rates(self, states: Iterable[UserState]) -> dict[str, float] | None:
        if self.repeats is None:
            return None
        return await self.repeats.rates({i for s in states for i in s.purchases})

    def cold_start(self, k: int, now_ms: int | None = None) -> list[dict[str, Any]]:
        """Trending items for a shopper Pulse knows nothing about yet."""
        at = now_ms if now_ms is not None else int(self.clock() * 1000)
        out = []
        for item, score in self.trending.top(k * 3, at):
            if self.index.available(item):
                out.append(
                    {
                        "item_id": item,
                        "score": round(score, 6),
                        "source": "trending",
                        "reason": "trending now",
                    }
                )
            if len(out) == k:
                break
        return out

    async def _texts(
        self, events: Sequence[UserEvent]
    ) -> tuple[dict[str, Floats], dict[str, Floats]]:
        queries = sorted({e.query for e in events if isinstance(e, Search)})
        reviews = sorted({e.text for e in events if isinstance(e, Review) and e.text.strip()})
        vectors = await asyncio.gather(
            *(self.encoder.encode_query(q) for q in queries),
            *(self.encoder.encode_text(t) for t in reviews),
        )
        q = dict(zip(queries, vectors[: len(queries)], strict=True))
        r = dict(zip(reviews, vectors[len(queries) :], strict=True))
        return q, r


def ranking_configs(settings: Settings) -> tuple[ProfileConfig, RecommendConfig]:
    """The profile and ranking configuration a worker runs with ``settings``."""
    short_ms = settings.short_half_life_minutes * 60_000
    purchase_ms = settings.purchase_half_life_days * 86_400_000
    profile = ProfileConfig(
        short_half_life_ms=short_ms,
        long_half_life_ms=settings.long_half_life_days * 86_400_000,
        purchase_half_life_ms=purchase_ms,
    )
    ranking = RecommendConfig(
        k=settings.recommendations_k,
        blend=BlendConfig(
            weights=parse_weights(settings.blend_weights),
            exclude_purchased=settings.exclude_purchased,
        ),
        short_half_life_ms=short_ms,
        history_half_life_ms=purchase_ms,
        diversity=settings.diversity,
        explore_share=settings.explore_share,
    )
    return profile, ranking


def _count_occasion(counts: dict[str, tuple[int, int]], before: UserState, event: Purchase) -> None:
    """One purchase occasion of the item; a repeat when the shopper bought it at an earlier
    time (several lines of one order are one occasion)."""
    known = before.purchases.get(event.item_id)
    if known is not None and known[1] == event.ts_ms:
        return
    occasions, repeats = counts.get(event.item_id, (0, 0))
    counts[event.item_id] = (occasions + 1, repeats + int(known is not None))


def item_message(rec: Recommendation) -> dict[str, Any]:
    item: dict[str, Any] = {
        "item_id": rec.item_id,
        "score": rec.score,
        "source": rec.source,
        "reason": rec.reason,
    }
    if rec.arm is not None:
        item["arm"] = rec.arm
    return item
