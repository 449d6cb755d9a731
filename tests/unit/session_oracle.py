"""The plain reference of session-kNN (``ranking.sessions.SessionIndex.neighbours``): written
for reading, not speed; the property tests hold the fast one to it."""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Sequence
from itertools import islice

from ranking.sessions import Neighbour, SessionIndex


def neighbours(
    index: SessionIndex, shopper: str, session: Sequence[str], n: int
) -> list[Neighbour]:
    if not session:
        return []
    latest_first = list(dict.fromkeys(reversed(session)))
    weight = {item: 1.0 / (1 + rank) for rank, item in enumerate(latest_first)}
    norm = math.sqrt(len(weight))
    sessions = index.sessions
    candidates = {
        index.shopper_of[number]
        for item in latest_first[: index.cfg.candidates_from]
        for number in islice(reversed(index.postings.get(item, ())), index.cfg.sample)
        if number in index.shopper_of
    }
    candidates.discard(shopper)
    recent = heapq.nlargest(
        index.cfg.sample,
        (s for s in candidates if s in sessions),
        key=lambda s: (sessions[s][1], s),
    )
    similarity: dict[str, float] = {}
    shares: dict[str, str] = {}
    for other in recent:
        items = sessions[other][0]
        shared = weight.keys() & items
        if shared:
            similarity[other] = math.fsum(weight[i] for i in shared) / (
                norm * math.sqrt(len(items))
            )
            shares[other] = max(shared, key=weight.__getitem__)
    best = heapq.nlargest(index.cfg.k, similarity, key=lambda s: (similarity[s], s))
    scores: dict[str, float] = defaultdict(float)
    because: dict[str, tuple[float, str]] = {}
    for other in best:
        sim = similarity[other]
        for item in sessions[other][0]:
            scores[item] += sim
            if item not in because or sim > because[item][0]:
                because[item] = (sim, shares[other])
    for item in weight:
        scores.pop(item, None)
    top = heapq.nsmallest(n, scores, key=lambda i: (-scores[i], i))
    return [Neighbour(item, scores[item], because[item][1]) for item in top]
