"""The personalisation pipeline: a micro-batch of valid user events in, updated shopper states,
shared counts, fresh recommendation lists and trend signals out. Read top to bottom:

0. drop the events of forgotten shoppers from before their deletion (``.forget``);
1. read (``.reads``): the batch's shoppers' states, the vectors of its queries and review
   texts, the shared exploration counts (when due) and the lists its clicks came from;
2. fold: every event into its shopper's state (``.fold``, pure);
3. read what the new states point at: co-visit neighbours of their recent items, repeat rates
   of their purchases;
4. learn: this worker's in-process statistics (exploration rewards, popular items, trend
   detectors), only now that every read is done: a read retried never counts twice;
5. rank: a fresh list for every shopper whose state changed (``ranking``, pure);
6. publish: the lists and trend signals, acknowledged by Kafka;
7. write: everything, with the input offsets applied, in one call of the stores' writer;
8. remember: the writer's caches keep what was written.

:meth:`Personaliser.run` is the one entry point for the worker, the quality benchmark and the
tests. The CPU-bound steps (fold, rank) run on the pipeline's own thread, one batch at a time,
so the event loop keeps serving HTTP and Kafka meanwhile; each step's time is a histogram
(``pulse_batch_step_seconds{step}``). Reads and the write are retried on the stores' transient
errors, publishing on the publisher's, with backoff, until they succeed; other errors are
permanent and raised.

One event never costs the others: an event whose text cannot be encoded, that cannot be folded
into its shopper's state, or whose shopper's list cannot be ranked is handed to ``on_failed``
with the error (the worker dead-letters it) and changes nothing, while the rest of the batch is
processed. A failure of the trend statistics costs the batch its signals, not its events.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any, TypeVar

from core.events import UserEvent
from core.metrics import Metrics
from core.retry import Faults, until_done
from core.settings import CANDIDATE_SOURCES
from core.topics import Topics
from encoders.protocol import TextEncoder
from feature_store.counts import BatchCounts
from feature_store.stores import Stores
from feature_store.writes import BatchWrites
from personalisation.fold import Folded, fold
from personalisation.forget import Forgotten
from personalisation.messages import Publisher, list_message, publish, rec_ids
from personalisation.reads import Context, Reads, read, read_context, repeat_rates, settle, text_of
from ranking.blend import Recommendation
from ranking.explore import ThompsonSampler
from ranking.intent import IntentConfig
from ranking.item_index import ItemIndex
from ranking.profile import ProfileConfig
from ranking.recommend import learned_weights, recommend, similar_many
from ranking.recommend_config import RecommendConfig
from ranking.sessions import NativeSessionIndex, Neighbour, answer, current_session, neighbours_of
from ranking.state import UserState
from ranking.trending import POPULARITY_HALF_LIFE_MS, CategoryPopularity, DecayedCounter
from trends.exchange import Position, Router, observe
from trends.tracker import TrendTracker

log = logging.getLogger(__name__)
T = TypeVar("T")

STEP_SECONDS = "pulse_batch_step_seconds"
METRICS = {
    "pulse_recommendation_impressions_total": "Items shown, by source.",
    "pulse_recommendation_clicks_total": "Clicks on shown items, by source.",
    "pulse_exploration_share": "Share of shown items that explore.",
    "pulse_recommendations_published_total": "Lists published.",
    "pulse_trend_signals_total": "Trend signals published, by kind.",
    "pulse_step_errors_total": "Defects caught in a step, by step.",
    "pulse_events_forgotten_total": "Events of forgotten shoppers up to their deletion, dropped.",
    STEP_SECONDS: "Time of each step of a batch (read includes encode: the batch's new texts).",
}
# Events that could not be processed, each with its error (a defect or input no stage takes).
Failed = list[tuple[UserEvent, Exception]]
# Called with them before the batch is written, so the batch's counts can say so.
OnFailed = Callable[[Failed], Awaitable[None]]


class Personaliser:
    def __init__(
        self,
        index: ItemIndex,
        stores: Stores,
        encoder: TextEncoder,
        *,
        profile: ProfileConfig | None = None,
        ranking: RecommendConfig | None = None,
        intent: IntentConfig | None = None,
        trends: TrendTracker | None = None,
        trend_router: Router | None = None,
        publisher: Publisher | None = None,
        topics: Topics | None = None,
        metrics: Metrics | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        forget_keep_ms: float = 7 * 86_400_000,
    ) -> None:
        self.index = index
        self.stores = stores
        self.encoder = encoder
        self.profile = profile or ProfileConfig()
        self.intent = intent or IntentConfig(half_life_ms=self.profile.short_half_life_ms)
        self.ranking = ranking or RecommendConfig()
        # Without a tracker no trend signals; intent is followed in the shopper state anyway.
        # With a ``trend_router`` trends go to their subjects' owners (``trends.exchange``).
        self.trends = trends
        self.trend_router = trend_router
        # Without a publisher lists and signals are written to the stores only.
        self.publisher = publisher
        self.topics = topics or Topics("pulse.")
        self.clock = clock
        # Transient failures of the stores and the publisher, while they last (GET /health).
        self.faults = faults
        # What is popular now, shop-wide and in each category: this worker's events only.
        self.trending = DecayedCounter(half_life_ms=POPULARITY_HALF_LIFE_MS)
        self.popular = CategoryPopularity(half_life_ms=POPULARITY_HALF_LIFE_MS)
        # The latest sessions of this worker's shoppers, for "shoppers whose session looks
        # like yours"; in process, so a restarted worker starts it afresh.
        self.sessions = NativeSessionIndex()
        self.forgotten = Forgotten(forget_keep_ms)
        self._uses_sessions = dict(self.ranking.blend.weights).get("sessions", 0.0) > 0
        # Exploration over candidate sources, learned from clicks on the lists.
        self.sampler = ThompsonSampler(CANDIDATE_SOURCES, prior=(1.0, 10.0))
        self.rng = random.Random(0)
        # Folding and ranking run here, one batch at a time (batches are processed in turn).
        self._cpu = ThreadPoolExecutor(1, thread_name_prefix="pulse-rank")
        self._shown = 0
        self._explored = 0
        self.metrics = metrics
        if metrics is not None:
            for name, text in METRICS.items():
                metrics.describe(name, text)

    async def run(
        self,
        events: Sequence[UserEvent],
        *,
        counts: BatchCounts | None = None,
        offsets: dict[tuple[str, int], int] | None = None,
        ingested_ms: Mapping[str, int] | None = None,
        positions: Mapping[str, Position] | None = None,
        on_failed: OnFailed | None = None,
        rank: bool = True,
    ) -> BatchWrites:
        """The whole pipeline for one micro-batch; returns what it wrote (and published).

        ``counts`` (a ``BatchCounts``) and the input ``offsets`` the batch applies are written
        with it; ``ingested_ms`` maps event ids to when Kafka took them, for the lists' latency
        fields, ``positions`` to where they are in the input. Without ``on_failed`` the first
        failed event's error is raised. With ``rank`` false the batch is learned from (states,
        counts, statistics) and no list is built: replaying history is fast.
        """
        if self.forgotten and len(kept := self.forgotten.kept(events)) < len(events):
            self._count("pulse_events_forgotten_total", n=len(events) - len(kept))
            events = kept
        writes, failed = await self._prepare(events, ingested_ms or {}, positions or {}, rank)
        if failed:
            for event, exc in failed:
                log.error("event %s could not be processed: %r", event.event_id, exc)
            if on_failed is None:
                raise failed[0][1]
            await on_failed(failed)
        if counts is not None:
            writes.counts = counts
        writes.offsets = dict(offsets or {})
        # Published first: a worker that dies before the write publishes again after the
        # restart (at least once); written with its offsets, a batch is applied once.
        with self._step("publish"):
            await self._publish(writes)
        with self._step("write"):
            await self._store_io(lambda: self.stores.writer.write(writes), "writing the batch")
        self.stores.writer.remember(writes)
        return writes

    def forget(self, user_id: str, at_ms: int) -> None:
        """Forget the shopper in this process: cached state, session and signals go, and their
        events up to ``at_ms`` are dropped from here on (``personalisation.forget.erase``
        erases the stores)."""
        self.forgotten.add(user_id, at_ms)
        self.stores.users.evict(user_id)
        self.sessions.forget(user_id)
        if self.trends is not None:
            self.trends.forget(user_id)

    async def _store_io(self, step: Callable[[], Awaitable[T]], what: str) -> T:
        return await until_done(
            step, what, transient=self.stores.transient, faults=self.faults, part="redis"
        )

    async def _prepare(
        self,
        events: Sequence[UserEvent],
        ingested_ms: Mapping[str, int],
        positions: Mapping[str, Position],
        rank: bool,
    ) -> tuple[BatchWrites, Failed]:
        """Read, fold, learn and rank."""
        writes = BatchWrites()
        if not events:
            return writes, []
        with self._step("read"):
            reads = await self._store_io(
                lambda: read(self.stores, self.encoder, events), "reading shopper state"
            )
        if self.metrics is not None and reads.encode_s is not None:
            self.metrics.observe(STEP_SECONDS, reads.encode_s, "step", "encode")
        failed: Failed = [
            (e, reads.unencoded[t]) for e in events if (t := text_of(e)) in reads.unencoded
        ]
        refused = {id(e) for e, _ in failed}
        # The co-visits and repeat rates the ranking can need are read while the batch folds.
        wanted = Context.wanted(reads.states, events, self.ranking) if rank else None
        context = asyncio.ensure_future(self._read_context(*wanted)) if wanted else None
        try:
            with self._step("fold"):
                folded = await self._off_loop(
                    fold,
                    reads.states,
                    [e for e in events if id(e) not in refused],
                    self.index,
                    self.profile,
                    self.intent,
                    reads.queries,
                    reads.reviews,
                )
            failed += folded.failed
            with self._step("context") if context else nullcontext():
                neighbours, rates = await settle(
                    context, folded.states, self.ranking, self._read_context
                )
        finally:  # not needed (no state folded) or the fold failed; its error is not left unread
            if context is not None and not context.cancel():
                context.exception()
        writes.states, writes.pairs, writes.repeats = folded.states, folded.pairs, folded.repeats
        with self._step("learn"):
            self._learn(reads, folded, writes, positions)
        if folded.states and rank:
            with self._step("rank"):
                failed += await self._off_loop(
                    self._rank, events, folded, neighbours, rates, ingested_ms, writes
                )
        return writes, failed

    async def _off_loop(self, step: Callable[..., T], *args: Any) -> T:
        """Run a CPU-bound step on the pipeline's own thread, one at a time, so the event loop
        (HTTP, Kafka heartbeats, the followers, the batch's ``Context`` read) goes on meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._cpu, partial(step, *args))

    def _read_context(self, items: set[str], purchased: set[str]) -> Awaitable[Context]:
        return self._store_io(
            lambda: read_context(self.stores, items, purchased), "reading co-visits, repeat rates"
        )

    def _learn(
        self, reads: Reads, folded: Folded, writes: BatchWrites, positions: Mapping[str, Position]
    ) -> None:
        if reads.totals is not None:
            self.sampler.set_counts(*reads.totals)
        for arm, source in reads.credited:
            self.sampler.record_click(arm)
            writes.clicks[arm] += 1
            self._count("pulse_recommendation_clicks_total", "source", source)
        for item, weight, ts in folded.chosen:
            self.trending.add(item, weight, ts)
            if (info := self.index.info(item)) is not None and info.category:
                self.popular.add(info.category, item, weight, ts)
        gap = self.ranking.session_gap_ms
        for uid, state in folded.states.items():
            if state.recent:
                self.sessions.observe(uid, current_session(state, gap), state.recent[-1][1])
        if self.trends is not None:
            try:
                writes.trends, writes.observations = observe(
                    self.trends, folded.observed, positions, self.trend_router
                )
            except Exception:
                # The statistics of one batch are lost; its events and lists are not.
                log.exception("the trend statistics failed on a batch")
                self._count("pulse_step_errors_total", "step", "trends")

    def _rank(
        self,
        events: Sequence[UserEvent],
        folded: Folded,
        neighbours: dict[str, list[tuple[str, float]]],
        rates: dict[str, float] | None,
        ingested_ms: Mapping[str, int],
        writes: BatchWrites,
    ) -> Failed:
        """A list for every shopper whose state changed, ranked as of their latest event; each
        list's impressions are counted before the next is ranked (exploration draws from the
        counts). On the pipeline's thread: the sampler's arms are fixed, so the loop's readers of
        its counts never see them change size.

        A shopper whose list cannot be made is returned with the batch's events of theirs, and
        their new state is not written (their events go to the dead-letter topic instead).
        """
        now_ms = max(e.ts_ms for e in events)
        trending = self.trending.top(self.ranking.per_source, now_ms)
        generated = int(self.clock() * 1000)
        last = folded.last
        now = {uid: last[uid].ts_ms for uid in folded.states}
        try:
            similar = similar_many(folded.states, self.index, self.ranking, now)
        except Exception:
            log.exception("nearest items failed for a batch; trying shopper by shopper")
            self._count("pulse_step_errors_total", "step", "similar")
            similar = {}
        explorer = (self.sampler, self.rng) if self.ranking.explore_share > 0 else None
        cfg = self.ranking_now()
        failed: Failed = []
        ids, like = rec_ids(len(folded.states)), self.like(folded.states)
        for (uid, state), rec_id in zip(list(folded.states.items()), ids, strict=True):
            trigger = last[uid]
            try:
                sessions = answer(like[uid])
                proposals = similar.get(uid)
                if proposals is None:
                    proposals = similar_many({uid: state}, self.index, self.ranking, now)[uid]
                recs = recommend(
                    state,
                    self.index,
                    neighbours,
                    trending,
                    cfg,
                    trigger.ts_ms,
                    similar_proposals=proposals,
                    explorer=explorer,
                    repeat_rates=rates,
                    sessions=sessions,
                    popular=self.popular.top,
                )
                message = list_message(
                    uid, recs, trigger, ingested_ms.get(trigger.event_id), generated, rec_id
                )
            except Exception as exc:
                self._count("pulse_step_errors_total", "step", "rank")
                del writes.states[uid]
                failed += [(e, exc) for e in events if e.user_id == uid]
                continue
            self._count_impressions(recs, writes)
            writes.messages.append((uid, message))
        return failed

    def ranking_now(self) -> RecommendConfig:
        """The ranking configuration, its weights learned from the clicks so far."""
        return learned_weights(self.ranking, self.sampler)

    def like(self, states: dict[str, UserState]) -> dict[str, list[Neighbour] | Exception]:
        """Items of the sessions most like each shopper's, or the error that costs their list."""
        if not self._uses_sessions:
            return {uid: [] for uid in states}
        gap, n = self.ranking.session_gap_ms, self.ranking.per_source
        return neighbours_of(self.sessions, states, gap, n)

    def _step(self, step: str) -> AbstractContextManager[None]:
        """Times a step of the batch into ``pulse_batch_step_seconds{step}``."""
        metrics = self.metrics
        return nullcontext() if metrics is None else metrics.timed(STEP_SECONDS, "step", step)

    def _count(
        self, name: str, label: str | None = None, value: str | None = None, n: int = 1
    ) -> None:
        if self.metrics is not None:
            self.metrics.inc(name, label, value, n=n)

    async def _publish(self, writes: BatchWrites) -> None:
        if self.publisher is None:
            return
        await publish(self.publisher, self.topics, writes, self.faults)
        self._count("pulse_recommendations_published_total", n=len(writes.messages))
        for signal in writes.trends:
            self._count("pulse_trend_signals_total", "kind", signal["kind"])

    def _count_impressions(self, recs: Sequence[Recommendation], writes: BatchWrites) -> None:
        by_source: dict[str, int] = {}
        for rec in recs:
            self.sampler.record_impression(rec.arm or rec.source)
            writes.impressions[rec.arm or rec.source] += 1
            by_source[rec.source] = by_source.get(rec.source, 0) + 1
        for source, n in by_source.items():  # the metrics' lock taken once a source
            self._count("pulse_recommendation_impressions_total", "source", source, n=n)
        self._shown += len(recs)
        self._explored += by_source.get("explore", 0)
        if self.metrics is not None and self._shown:
            self.metrics.set("pulse_exploration_share", self._explored / self._shown)

    async def repeat_rates(self, states: Iterable[UserState]) -> dict[str, float] | None:
        return await repeat_rates(self.stores, {i for s in states for i in s.purchases})
