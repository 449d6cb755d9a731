"""Fold a micro-batch of events into shoppers' states. Pure: no I/O, no clock, no learning.

States, the item index and the batch's text vectors come in; the new states come out, with
what the batch says beyond them: co-visited pairs, purchase and repeat occasions, the trend
observations (intent shifts included), the items chosen (for the trending counts) and each
shopper's latest event (what triggers the shopper's list). Events already in a shopper's
state (the same event id) change nothing; an event that cannot be applied changes nothing either
and is returned with its error, so one bad event never costs the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from core.events import Purchase, Review, Search, UserEvent, chosen
from ranking.intent import (
    IntentConfig,
    IntentShift,
    drift,
    drift_shift,
    intent_of,
    intent_shift,
)
from ranking.interest import Vector
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig, apply
from ranking.state import UserState
from trends.tracker import Observations

# A new item is paired with this many of the shopper's latest items.
COVISIT_RECENT = 3


@dataclass(slots=True)
class Folded:
    """A batch folded into states: only the shoppers whose state changed are in ``states``."""

    states: dict[str, UserState] = field(default_factory=dict)
    pairs: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    # item -> (purchase occasions, repeat occasions) seen in the batch
    repeats: dict[str, tuple[int, int]] = field(default_factory=dict)
    observed: Observations = field(default_factory=Observations)
    # (item, weight, ts) of every click and purchase, for the trending counts
    chosen: list[tuple[str, float, int]] = field(default_factory=list)
    # each changed shopper's latest event in event time: the trigger of their list
    last: dict[str, UserEvent] = field(default_factory=dict)
    # events that could not be applied, with the error (a defect): they changed nothing
    failed: list[tuple[UserEvent, Exception]] = field(default_factory=list)


def fold(
    states: Mapping[str, UserState],
    events: Sequence[UserEvent],
    index: ItemIndex,
    profile: ProfileConfig,
    intent: IntentConfig,
    queries: Mapping[str, Vector],
    reviews: Mapping[str, Vector],
) -> Folded:
    """Apply ``events`` in order to ``states`` (which is not changed).

    ``queries`` and ``reviews`` hold the vectors of the batch's search queries and review
    texts; item vectors and categories come from ``index``. An event that cannot be applied
    (a defect) changes nothing and is listed in ``failed`` with its error; the others go on.
    """
    current = dict(states)
    out = Folded()
    for event in events:
        before = current[event.user_id]
        if before.has_seen(event.event_id):
            continue
        try:
            step = _one(before, event, index, profile, intent, queries, reviews)
        except Exception as exc:
            out.failed.append((event, exc))
            continue
        state, category, shift = step
        if isinstance(event, Purchase):
            _count_occasion(out.repeats, before, event)
        out.observed.add(event, category)
        if shift is not None:
            out.observed.shifts.append(shift)
        current[event.user_id] = out.states[event.user_id] = state
        if chosen(event):
            weight = profile.weight("purchase" if isinstance(event, Purchase) else event.action)
            out.chosen.append((event.item_id, weight, event.ts_ms))
            for previous, at in before.recent[-COVISIT_RECENT:]:
                # pairs within a session only
                if previous != event.item_id and abs(event.ts_ms - at) <= profile.session_gap_ms:
                    a, b = sorted((previous, event.item_id))
                    out.pairs[(a, b)] += weight
        latest = out.last.get(event.user_id)
        if latest is None or event.ts_ms >= latest.ts_ms:
            out.last[event.user_id] = event
    return out


def _one(
    state: UserState,
    event: UserEvent,
    index: ItemIndex,
    profile: ProfileConfig,
    intent: IntentConfig,
    queries: Mapping[str, Vector],
    reviews: Mapping[str, Vector],
) -> tuple[UserState, str | None, IntentShift | None]:
    """One event: the new state, the item's category and the intent shift it makes, if any."""
    item_id = getattr(event, "item_id", None)
    info = index.info(item_id) if item_id else None
    category = info.category if info else None
    state = apply(
        state,
        event,
        profile,
        item_vector=index.vector(item_id) if item_id else None,
        text_vector=_text_vector(event, queries, reviews),
        category=category,
    )
    state, shift = follow_intent(state, event, info, index, intent)
    return state, category, shift


def _text_vector(
    event: UserEvent, queries: Mapping[str, Vector], reviews: Mapping[str, Vector]
) -> Vector | None:
    if isinstance(event, Search):
        return queries.get(event.query)
    if isinstance(event, Review):
        return reviews.get(event.text)
    return None


def follow_intent(
    state: UserState,
    event: UserEvent,
    info: ItemInfo | None,
    index: ItemIndex,
    cfg: IntentConfig,
) -> tuple[UserState, IntentShift | None]:
    """Keep the shopper's intent fields up to date with the state, and say what shifted.

    ``intent`` (the latest session category of the recent items) changes only with a click or
    purchase; ``drifted`` (the drift at the threshold) with any event that moves the vectors.
    A click or purchase of an item with a category announces a change of session category; of
    an item without one, the drift reaching the threshold.
    """
    score = drift(state.short.total, state.long.total)
    strongest = max(state.categories, key=state.categories.__getitem__, default=None)
    title = info.title if info is not None else None
    drifted, drift_moved = drift_shift(
        event.user_id, state.drifted, score, event.ts_ms, cfg, strongest, title
    )
    shift = None
    remembered = state.intent
    if chosen(event):

        def category_of(item_id: str) -> str | None:
            known = index.info(item_id)
            return known.category if known else None

        remembered = intent_of(state.recent, category_of, cfg)
        if info is not None and info.category:
            shift = intent_shift(event.user_id, state.intent, remembered, score, event.ts_ms)
        elif info is not None:
            shift = drift_moved
    if remembered != state.intent or drifted != state.drifted:
        state = replace(state, intent=remembered, drifted=drifted)
    return state, shift


def _count_occasion(counts: dict[str, tuple[int, int]], before: UserState, event: Purchase) -> None:
    """One purchase occasion of the item; a repeat when the shopper bought it at an earlier
    time (several lines of one order are one occasion)."""
    known = before.purchases.get(event.item_id)
    if known is not None and known[1] == event.ts_ms:
        return
    occasions, repeats = counts.get(event.item_id, (0, 0))
    counts[event.item_id] = (occasions + 1, repeats + int(known is not None))
