"""Baselines of the next-click benchmark (Ludewig & Jannach 2018), learning online from the
stream they are scored on. Each sees ``session``, the items of the current session so far
(oldest first) and ``session_id``, and learns each event after it has been scored."""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict, deque

from bench.session_data import Event

Ranked = list[str]


class Popularity:
    name = "global popularity"

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def update(self, event: Event) -> None:
        self.counts[event.item] += 1

    def recommend(self, session: list[str], session_id: str, k: int) -> Ranked:
        return [item for item, _ in self.counts.most_common(k)]


class SessionPopularity:
    """S-POP: the session's items by how often they were clicked in it, ties by global
    popularity, then the most popular items."""

    name = "session popularity"

    def __init__(self, popularity: Popularity) -> None:
        self.popularity = popularity

    def update(self, event: Event) -> None:
        pass  # the shared Popularity learns

    def recommend(self, session: list[str], session_id: str, k: int) -> Ranked:
        counts = Counter(session)
        pop = self.popularity.counts
        ranked = sorted(counts, key=lambda i: (-counts[i], -pop[i], i))[:k]
        for item, _ in pop.most_common(k + len(ranked)):
            if len(ranked) == k:
                break
            if item not in counts:
                ranked.append(item)
        return ranked


class AssociationRules:
    """Items clicked in the same session as the last item, by number of such sessions' pairs."""

    name = "association rules"

    def __init__(self) -> None:
        self.pairs: dict[str, Counter[str]] = defaultdict(Counter)
        self.sessions: dict[str, list[str]] = {}

    def update(self, event: Event) -> None:
        items = self.sessions.setdefault(event.session, [])
        for other in items:
            if other != event.item:
                self.pairs[other][event.item] += 1
                self.pairs[event.item][other] += 1
        items.append(event.item)

    def recommend(self, session: list[str], session_id: str, k: int) -> Ranked:
        row = self.pairs.get(session[-1])
        return [item for item, _ in row.most_common(k)] if row else []


class SessionKNN:
    """Session-kNN: the ``sample`` most recent sessions sharing an item with the current one,
    the ``k`` most similar of them by cosine over item sets; an item scores the summed
    similarity of the neighbours that contain it."""

    name = "session-kNN"

    def __init__(self, k: int = 100, sample: int = 500) -> None:
        self.k = k
        self.sample = sample
        self.items: dict[str, set[str]] = {}
        self.last_ts: dict[str, int] = {}
        # item -> the sessions containing it, most recent last (bounded)
        self.postings: dict[str, deque[str]] = defaultdict(deque)

    def update(self, event: Event) -> None:
        items = self.items.setdefault(event.session, set())
        self.last_ts[event.session] = event.ts_ms
        if event.item in items:
            return
        items.add(event.item)
        posting = self.postings[event.item]
        posting.append(event.session)
        if len(posting) > 4 * self.sample:
            posting.popleft()

    def recommend(self, session: list[str], session_id: str, k: int) -> Ranked:
        mine = set(session)
        candidates = {s for i in mine for s in self.postings.get(i, ()) if s != session_id}
        recent = heapq.nlargest(self.sample, candidates, key=lambda s: (self.last_ts[s], s))
        similarity = {
            s: len(mine & self.items[s]) / math.sqrt(len(mine) * len(self.items[s])) for s in recent
        }
        neighbours = heapq.nlargest(self.k, similarity, key=lambda s: (similarity[s], s))
        scores: dict[str, float] = defaultdict(float)
        for s in neighbours:
            for item in self.items[s]:
                scores[item] += similarity[s]
        return heapq.nsmallest(k, scores, key=lambda i: (-scores[i], i))
