"""Sessions: a shopper's current session, and "shoppers whose session looks like yours"
(session-kNN, Jannach & Ludewig 2017) over the recent sessions a worker has seen. Pure: no I/O.

``SessionIndex`` is the reference; workers use ``NativeSessionIndex``, the same index compiled
(``kernels/``, Rust), held to it by property tests (identical items, order, scores, reasons).

A shopper's current session is the run of their recent items with no gap over ``gap_ms``
before their latest one. The index keeps the latest session of up to ``max_sessions`` shoppers
(the least recently active are forgotten first) and, for every item, the shoppers whose
session holds it (by a number of the index's own), most recent last, up to ``postings`` of
them. A query takes the ``sample``
most recently active sessions that share one of the ``candidates_from`` latest items of the
shopper's session, keeps the ``k`` most
similar (cosine over item sets, items weighted by how recent they are in the shopper's
session), and scores every item of theirs by the summed similarity of the neighbours holding it.
"""

from __future__ import annotations

import heapq
import math
import sys
from collections import OrderedDict, defaultdict, deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import count, islice

import pulse_kernels

from ranking.state import UserState


def current_session(state: UserState, gap_ms: float) -> list[str]:
    """The items of the shopper's current session, oldest first."""
    recent = state.recent
    start = len(recent) - 1
    while start > 0 and recent[start][1] - recent[start - 1][1] <= gap_ms:
        start -= 1
    return [item for item, _ in recent[max(start, 0) :]]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    k: int = 100
    sample: int = 200
    candidates_from: int = 5
    max_sessions: int = 100_000
    postings: int = 500


@dataclass(slots=True)  # made by the score for every list: see ranking.blend.Proposal
class Neighbour:
    item_id: str
    score: float
    # the shopper's session item the best neighbours shared: the reason's evidence
    because: str


class SessionIndex:
    def __init__(self, cfg: SessionConfig | None = None) -> None:
        self.cfg = cfg or SessionConfig()
        # shopper -> (distinct items of their latest session, time of its latest event, the
        # shopper's number here), LRU order; a tuple costs a fifth of a frozenset's memory
        self.sessions: OrderedDict[str, tuple[tuple[str, ...], int, int]] = OrderedDict()
        # Postings hold shoppers' numbers, not their ids: a forgotten shopper's number names
        # no one, wherever it still is.
        self.postings: dict[str, deque[int]] = defaultdict(deque)
        self.shopper_of: dict[int, str] = {}
        self._numbers = count()

    def __len__(self) -> int:
        return len(self.sessions)

    def observe(self, shopper: str, items: Sequence[str], ts_ms: int) -> None:
        """The shopper's current session is now ``items`` (latest event at ``ts_ms``)."""
        known = self.sessions.pop(shopper, None)
        before = set(known[0]) if known is not None else set()
        number = known[2] if known is not None else next(self._numbers)
        self.shopper_of[number] = shopper
        # Item ids are shared by every session and posting that holds them, not copied.
        now = tuple(dict.fromkeys(map(sys.intern, items)))
        self.sessions[shopper] = (now, max(ts_ms, known[1] if known else ts_ms), number)
        for item in (i for i in now if i not in before):
            posting = self.postings[item]
            posting.append(number)
            if len(posting) > self.cfg.postings:
                posting.popleft()
        while len(self.sessions) > self.cfg.max_sessions:
            self.shopper_of.pop(self.sessions.popitem(last=False)[1][2], None)

    def forget(self, shopper: str) -> None:
        """Drop the shopper's session; the postings keep only a number that names no one."""
        known = self.sessions.pop(shopper, None)
        if known is not None:
            self.shopper_of.pop(known[2], None)

    def neighbours(self, shopper: str, session: Sequence[str], n: int) -> list[Neighbour]:
        """The ``n`` best items of the sessions most like ``session`` (oldest item first),
        other than the session's own."""
        if not session:
            return []
        # Later items of the shopper's session weigh more (1, 1/2, 1/3, ... from the latest).
        latest_first = list(dict.fromkeys(reversed(session)))
        rank_of = {item: rank for rank, item in enumerate(latest_first)}.get
        norm = math.sqrt(len(latest_first))
        sessions = self.sessions
        shopper_of = self.shopper_of
        sample = self.cfg.sample
        # Candidates: the latest ``sample`` shoppers in the postings of the session's
        # ``candidates_from`` latest items, so a list's work is bounded however long the
        # session (numbers of forgotten or evicted shoppers name no one and drop out).
        numbers: set[int] = set()
        for item in latest_first[: self.cfg.candidates_from]:
            posting = self.postings.get(item)
            if posting:
                numbers.update(islice(reversed(posting), sample))
        candidates = {shopper_of[x] for x in numbers if x in shopper_of}
        candidates.discard(shopper)
        if len(candidates) > sample:  # the most recently active of them
            candidates = set(heapq.nlargest(sample, candidates, key=lambda s: (sessions[s][1], s)))
        similarity: dict[str, float] = {}
        # the latest item of the shopper's session each neighbour shares: the reason's evidence
        shares: dict[str, str] = {}
        sqrt, fsum = math.sqrt, math.fsum
        for other in candidates:
            items = sessions[other][0]
            ranks = [r for i in items if (r := rank_of(i)) is not None]
            if ranks:
                # fsum: exact, so the similarity does not depend on the order items are met
                similarity[other] = fsum([1.0 / (1 + r) for r in ranks]) / (norm * sqrt(len(items)))
                shares[other] = latest_first[min(ranks)]
        best = heapq.nlargest(self.cfg.k, similarity, key=lambda s: (similarity[s], s))
        scores: dict[str, float] = defaultdict(float)
        # Best first: an item's reason is the share of the most similar session holding it.
        because: dict[str, str] = {}
        for other in best:
            sim, share = similarity[other], shares[other]
            for item in sessions[other][0]:
                scores[item] += sim
                if item not in because:
                    because[item] = share
        for item in latest_first:
            scores.pop(item, None)  # the session's own items are not news to the shopper
        top = heapq.nsmallest(n, scores, key=lambda i: (-scores[i], i))
        return [Neighbour(item, scores[item], because[item]) for item in top]


class NativeSessionIndex:
    """:class:`SessionIndex` compiled (``kernels/src/sessions.rs``): the same answers, about
    twenty times faster, with the GIL released while a query runs."""

    def __init__(self, cfg: SessionConfig | None = None) -> None:
        self.cfg = cfg or SessionConfig()
        self._index = pulse_kernels.SessionIndex(**asdict(self.cfg))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, shopper: str) -> bool:
        return shopper in self._index

    def observe(self, shopper: str, items: Sequence[str], ts_ms: int) -> None:
        self._index.observe(shopper, list(items), ts_ms)

    def forget(self, shopper: str) -> None:
        self._index.forget(shopper)

    def posting(self, item: str) -> list[int]:
        """The numbers of the shoppers whose session took ``item`` in, oldest first."""
        return self._index.posting(item)

    def neighbours(self, shopper: str, session: Sequence[str], n: int) -> list[Neighbour]:
        return self.neighbours_many([(shopper, session)], n)[0]

    def neighbours_many(
        self, queries: Sequence[tuple[str, Sequence[str]]], n: int
    ) -> list[list[Neighbour]]:
        """``neighbours`` of each ``(shopper, session)``, in one call (one release of the GIL)."""
        asked = [(shopper, list(session)) for shopper, session in queries]
        return [
            [Neighbour(*found) for found in row] for row in self._index.neighbours_many(asked, n)
        ]


def neighbours_of(
    index: NativeSessionIndex, states: dict[str, UserState], gap_ms: float, n: int
) -> dict[str, list[Neighbour] | Exception]:
    """The ``n`` best items of the sessions most like each shopper's current one, queried in
    one call (``neighbours_many``); should that fail, shopper by shopper, each with its own
    answer or error (so that one shopper's error costs only their list)."""
    try:
        queries = [(uid, current_session(state, gap_ms)) for uid, state in states.items()]
        return dict(zip(states, index.neighbours_many(queries, n), strict=True))
    except Exception:
        out: dict[str, list[Neighbour] | Exception] = {}
        for uid, state in states.items():
            try:
                out[uid] = index.neighbours(uid, current_session(state, gap_ms), n)
            except Exception as exc:
                out[uid] = exc
        return out


def answer(found: list[Neighbour] | Exception) -> list[Neighbour]:
    """A shopper's entry of ``neighbours_of``: their neighbours, or their error raised."""
    if isinstance(found, Exception):
        raise found
    return found
