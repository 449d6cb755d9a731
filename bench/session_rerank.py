"""How far a learned re-ranker over the engine's candidates gets on the next-click protocol.

    python -m bench.session_rerank [--span validation] [--streams yoochoose,taobao]

The streams, spans and engine of ``bench/session_bench.py``, with every source's top 50
candidates (``--per-source``) and lists of 50. The first quarter of the history
(``--learn-share``) is learned from as there; the rest of it is replayed with lists, and each of
its events after a session's first becomes a training case: the candidates the engine had for
that shopper before the event, each with 24 features (its rank and share in each source, its
place in the engine's list, how often and how lately the session touched it, its popularity
overall and in the last hour and day, the session's length, the time since its last event),
labelled by whether it was the item clicked. LightGBM's LambdaRank (``lightgbm``, fixed
parameters, not tuned) learns from those cases and re-orders the candidates of every case of
the span; the engine's own top 20 of the same run is scored beside it, with a 95 % interval
on the difference from resampling whole sessions. Also reported: the share of targets among
the candidates (what any re-ordering can reach), and where the new targets that no source
proposed stand in the shop's popularity of the last hour. Writes bench/results/<name>.json and
.png.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, save
from bench.session_bench import (
    ENGINE,
    LEARN_BATCH,
    Engine,
    K,
    Scores,
    bootstrap,
    build_index,
    plot,
    summary,
)
from bench.session_candidates import SourceTap
from bench.session_data import Event, Stream, add_stream_arguments, chosen_streams
from core.errors import ConfigError
from core.settings import CANDIDATE_SOURCES, Settings

# The rank of an item a source did not propose (above any --per-source in use).
ABSENT = 10_000.0
FEATURES = [
    *(f"{source} {what}" for source in CANDIDATE_SOURCES for what in ("rank", "share")),
    "place in the engine's list",
    "clicks in the session",
    "events since the session touched it",
    "log clicks so far",
    "clicks in the last hour (decayed)",
    "clicks in the last day (decayed)",
    "session length",
    "distinct session items",
    "sources proposing it",
    "log seconds since the session's last event",
]


class Decayed:
    """Counts that halve every ``half_ms``. Each count is also kept lifted to a common time
    (``count * 2 ** ((at - start) / half)``): all decay alike, so the lifted values order the
    items as their counts do at any moment, and ``rank`` is one comparison over an array.

    >>> hour = Decayed(3_600_000)
    >>> for item, at in (("a", 0), ("a", 0), ("b", 3_600_000)):
    ...     hour.add(item, at)
    >>> hour.get("a", 3_600_000), hour.get("b", 3_600_000)
    (1.0, 1.0)
    >>> hour.add("b", 7_200_000)
    >>> hour.get("a", 7_200_000), hour.get("b", 7_200_000), hour.rank("a"), hour.rank("b")
    (0.5, 1.5, 1, 0)
    """

    def __init__(self, half_ms: float) -> None:
        self.half_ms = half_ms
        self.counts: dict[str, tuple[float, int]] = {}
        self.slot: dict[str, int] = {}
        self.lifted = np.zeros(1024)
        self.start: int | None = None

    def get(self, item: str, ts_ms: int) -> float:
        count, at = self.counts.get(item, (0.0, ts_ms))
        return count * 0.5 ** ((ts_ms - at) / self.half_ms)

    def add(self, item: str, ts_ms: int) -> None:
        count = self.get(item, ts_ms) + 1.0
        self.counts[item] = (count, ts_ms)
        if self.start is None:
            self.start = ts_ms
        n = self.slot.setdefault(item, len(self.slot))
        if n == len(self.lifted):
            self.lifted = np.concatenate([self.lifted, np.zeros(n)])
        self.lifted[n] = count * 2.0 ** ((ts_ms - self.start) / self.half_ms)

    def rank(self, item: str) -> int:
        """How many items count more than ``item`` now (0: the most counted)."""
        mine = self.lifted[self.slot[item]] if item in self.slot else 0.0
        return int((self.lifted[: len(self.slot)] > mine).sum())


class Popularity:
    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.hour = Decayed(3_600_000)
        self.day = Decayed(86_400_000)

    def add(self, e: Event) -> None:
        self.total[e.item] += 1
        self.hour.add(e.item, e.ts_ms)
        self.day.add(e.item, e.ts_ms)


@dataclass(slots=True)
class Case:
    session: str
    target: str
    repeat: bool
    engine_top: list[str]  # the engine's own top K
    items: list[str]  # the candidates
    features: np.ndarray  # a row per candidate


def candidate_rows(
    sources: dict[str, dict[str, tuple[int, float]]],
    listed: list[str],
    session: list[str],
    last_ms: int,
    now_ms: int,
    popularity: Popularity,
) -> tuple[list[str], np.ndarray]:
    items = list(dict.fromkeys([*listed, *(i for found in sources.values() for i in found)]))
    place = {item: n for n, item in enumerate(listed)}
    touched = {item: n for n, item in enumerate(session)}
    clicks = Counter(session)
    rows = []
    for item in items:
        row: list[float] = []
        for source in CANDIDATE_SOURCES:
            rank, share = sources.get(source, {}).get(item, (ABSENT, 0.0))
            row += [float(rank), share]
        row += [
            float(place.get(item, ABSENT)),
            float(clicks[item]),
            float(len(session) - 1 - touched[item]) if item in touched else ABSENT,
            math.log1p(popularity.total[item]),
            popularity.hour.get(item, now_ms),
            popularity.day.get(item, now_ms),
            float(len(session)),
            float(len(clicks)),
            float(sum(item in found for found in sources.values())),
            math.log1p(max(0, now_ms - last_ms) / 1000),
        ]
        rows.append(row)
    return items, np.array(rows, np.float32).reshape(len(items), len(FEATURES))


async def collect(
    stream: Stream, span: str, models_dir: Path, per_source: int, learn_share: float
) -> tuple[list[Case], list[Case], list[int]]:
    """Training cases (the replayed history), the span's cases, and for every new target of
    the span that no source proposed, its rank in the last hour's popularity."""
    history, evaluation = stream.split(span)
    index = build_index(history + evaluation, models_dir)
    settings = Settings(recommendations_k=per_source, explore_share=0.0)
    engine = Engine(index, settings, per_source=per_source)
    popularity = Popularity()
    cut = int(len(history) * learn_share)
    for start in range(0, cut, LEARN_BATCH):
        chunk = history[start : min(cut, start + LEARN_BATCH)]
        await engine.learn(chunk)
        for e in chunk:
            popularity.add(e)
    cases: dict[bool, list[Case]] = {False: [], True: []}
    unproposed_ranks: list[int] = []
    sessions: dict[str, list[str]] = defaultdict(list)
    last_ms: dict[str, int] = {}
    candidates: dict[str, dict[str, dict[str, tuple[int, float]]]] = {}
    replayed = history[cut:]
    with SourceTap() as tap:
        for n, e in enumerate([*replayed, *evaluation]):
            scored, session = n >= len(replayed), sessions[e.session]
            if session:
                listed = engine.recommend(e.user)
                sources = candidates.get(e.user, {})
                items, rows = candidate_rows(
                    sources, listed, session, last_ms[e.session], e.ts_ms, popularity
                )
                repeat = e.item in session
                cases[scored].append(Case(e.session, e.item, repeat, listed[:K], items, rows))
                if scored and not repeat and e.item not in items:
                    unproposed_ranks.append(popularity.hour.rank(e.item))
            await engine.step(e)
            candidates[e.user] = tap.latest
            popularity.add(e)
            session.append(e.item)
            last_ms[e.session] = e.ts_ms
    return cases[False], cases[True], unproposed_ranks


def fit(cases: list[Case], seed: int) -> Any:
    import lightgbm as lgb

    usable = [c for c in cases if c.target in c.items]
    if not usable:
        raise ConfigError(
            "no training case has its target among the candidates: replay more of the history "
            "with lists (a lower --learn-share) or take more candidates (--per-source)"
        )
    model = lgb.LGBMRanker(
        objective="lambdarank",
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        lambdarank_truncation_level=30,
        random_state=seed,
        verbose=-1,
    )
    model.fit(
        np.vstack([c.features for c in usable]),
        np.concatenate([[item == c.target for item in c.items] for c in usable]).astype(int),
        group=[len(c.items) for c in usable],
    )
    return model


def reranked(model: Any, case: Case) -> list[str]:
    if not case.items:
        return []
    scores = model.predict(case.features)
    return [case.items[j] for j in np.argsort(-scores, kind="stable")[:K]]


async def measure(
    stream: Stream, span: str, models_dir: Path, per_source: int, learn_share: float, seed: int
) -> dict[str, Any]:
    train, scored, unproposed = await collect(stream, span, models_dir, per_source, learn_share)
    model = fit(train, seed)
    runs = {ENGINE: Scores(), "re-ranker": Scores()}
    for case in scored:
        runs[ENGINE].add(case.engine_top, case.target)
        runs["re-ranker"].add(reranked(model, case), case.target)
    repeat = np.array([c.repeat for c in scored])
    reach = np.array([c.target in c.items for c in scored])
    masks = {"overall": np.ones(len(scored), bool), "repeat": repeat, "new": ~repeat}
    table = {
        name: {part: summary(s, mask) for part, mask in masks.items()} for name, s in runs.items()
    }
    sessions = [c.session for c in scored]
    difference = {
        metric: bootstrap(getattr(runs["re-ranker"], field), getattr(runs[ENGINE], field), sessions)
        for metric, field in (("hitrate@20", "hit"), ("mrr@20", "rr"))
    }
    ranks = np.array(unproposed)
    importance = model.booster_.feature_importance("gain")
    result = {
        "training_cases": len(train),
        "training_cases_with_target": sum(c.target in c.items for c in train),
        "cases": len(scored),
        "repeat_cases": int(repeat.sum()),
        "targets_among_candidates": {
            "overall": float(reach.mean()),
            "new": float(reach[~repeat].mean()),
        },
        "table": table,
        "reranker_minus_engine": difference,
        "unproposed_new_targets": len(ranks),
        "unproposed_in_hour_top": {
            str(n): float((ranks < n).mean()) if ranks.size else 0.0 for n in (20, 50, 200)
        },
        "feature_gain": dict(
            zip(FEATURES, (importance / max(importance.sum(), 1e-9)).tolist(), strict=True)
        ),
    }
    report(stream.name, result)
    return result


def report(name: str, r: dict[str, Any]) -> None:
    print(
        f"{name}: {r['training_cases']:,} training cases ({r['training_cases_with_target']:,} "
        f"with the target among the candidates), {r['cases']:,} scored ({r['repeat_cases']:,} "
        f"repeat); targets among the candidates: {r['targets_among_candidates']['overall']:.3f} "
        f"(new {r['targets_among_candidates']['new']:.3f})"
    )
    for model, row in r["table"].items():
        print(
            f"  {model:14} "
            + "  ".join(
                f"{part} HR@20 {row[part]['hitrate@20']:.3f} MRR@20 {row[part]['mrr@20']:.3f}"
                for part in ("overall", "repeat", "new")
            )
        )
    for metric, d in r["reranker_minus_engine"].items():
        print(
            f"  re-ranker - engine {metric}: {d['difference']:+.3f} "
            f"(95 % interval {d['low']:+.3f} .. {d['high']:+.3f})"
        )
    tops = ", ".join(f"top {n}: {v:.3f}" for n, v in r["unproposed_in_hour_top"].items())
    print(f"  new targets no source proposed: {r['unproposed_new_targets']:,}; hour's {tops}")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--span", choices=("validation", "test"), default="validation")
    add_stream_arguments(p)
    p.add_argument("--models", default="onnx_models")
    p.add_argument("--per-source", type=int, default=50, help="candidates a source (1 to 1000)")
    p.add_argument(
        "--learn-share",
        type=float,
        default=0.25,
        help="share of the history learned from without lists (0 to below 1); the rest trains",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="session-rerank")
    args = p.parse_args()
    if not 1 <= args.per_source <= 1000:
        p.error(f"--per-source must be 1 to 1000, got {args.per_source}")
    if not 0 <= args.learn_share < 1:
        p.error(f"--learn-share must be at least 0 and below 1, got {args.learn_share}")
    result: dict[str, Any] = {
        "machine": machine(),
        "span": args.span,
        "k": K,
        "per_source": args.per_source,
        "learn_share": args.learn_share,
        "features": FEATURES,
        "streams": {},
    }
    for stream in chosen_streams(args):
        result["streams"][stream.name] = asyncio.run(
            measure(
                stream,
                args.span,
                Path(args.models),
                args.per_source,
                args.learn_share,
                args.seed,
            )
        )
    save(args.name, result, plot)


if __name__ == "__main__":
    main()
