"""Next-click quality on click streams (Ludewig & Jannach 2018), engine and baselines in one run.

    python -m bench.session_bench [--span validation|test] [--streams yoochoose,taobao]
        [--yoochoose PATH] [--taobao PATH]

Events are replayed in time order. The history (sessions that start before the span) is learned
from; then, during the span, before each event after a session's first, every model gives its
top 20 and is scored on that event's item: HitRate@20 and MRR@20, overall and separately for
targets already clicked in the session ("repeat") and new ones. Every model keeps learning from
each event after it is scored. The engine is the workers' own personalisation step
(``Personaliser.run``, default settings, exploration off) over in-memory stores: the list it
builds after a shopper's event is its guess for the next one. Items carry no meaningful text in
these data sets (YOOCHOOSE: ids only; Taobao: a bare category id): they are encoded as such.
Tune on ``--span validation`` (the span before the test span; its stream stops where the test
span starts), report ``--span test``. Writes bench/results/sessions.json and sessions.png.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import NoText, machine, pyplot, save
from bench.session_baselines import AssociationRules, Popularity, SessionKNN, SessionPopularity
from bench.session_data import Event, Stream, add_stream_arguments, chosen_streams
from core.events import Click, Purchase, UserEvent
from core.settings import Settings
from encoders.encoder import OnnxEncoder
from feature_store.memory import memory_stores
from personalisation.configs import ranking_configs
from personalisation.pipeline import Personaliser
from ranking.item_index import ItemIndex, ItemInfo

K = 20
ENGINE = "Pulse engine"
LEARN_BATCH = 500


def item_texts(events: list[Event]) -> dict[str, tuple[str, str | None]]:
    """Each item's catalogue text and category as such a shop would send them."""
    out: dict[str, tuple[str, str | None]] = {}
    for e in events:
        if e.item not in out:
            text = f"category {e.category}" if e.category else e.item
            out[e.item] = (text, e.category)
    return out


def build_index(events: list[Event], models: Path) -> ItemIndex:
    items = item_texts(events)
    texts = sorted({text for text, _ in items.values()})
    encoder = OnnxEncoder.load(models, device="cpu", precision="int8")
    vectors = {}
    for start in range(0, len(texts), 256):
        chunk = texts[start : start + 256]
        vectors.update(zip(chunk, encoder.encode(chunk), strict=True))
    index = ItemIndex(encoder.dim, capacity=len(items) + 1)
    for item, (text, category) in sorted(items.items()):
        index.upsert(ItemInfo(item, text, category, True), vectors[text])
    # a worker searches a catalogue past ``ann_from`` items through the HNSW graph once it is
    # built (in the background, half a minute here); the replay starts there, not halfway through
    index.wait_for_ann()
    return index


def user_event(n: int, e: Event) -> UserEvent:
    if e.action == "purchase":
        return Purchase(f"e{n}", e.user, e.ts_ms, e.item, 1, 0.0)
    return Click(f"e{n}", e.user, e.ts_ms, e.item, e.action, e.session)  # type: ignore[arg-type]


class Engine:
    name = ENGINE

    def __init__(self, index: ItemIndex, settings: Settings, per_source: int | None = None) -> None:
        profile, ranking = ranking_configs(settings)
        if per_source is not None:  # candidates a source (a diagnosis; workers keep the default)
            ranking = replace(ranking, per_source=per_source)
        self.personaliser = Personaliser(
            index, memory_stores(index.dim), NoText(), profile=profile, ranking=ranking
        )
        self.lists: dict[str, list[str]] = {}
        self.n = 0

    async def learn(self, events: list[Event]) -> None:
        batch = [user_event(self.n + i, e) for i, e in enumerate(events)]
        self.n += len(batch)
        await self.personaliser.run(batch, rank=False)

    async def step(self, e: Event) -> None:
        """The event in, the shopper's fresh list kept as the guess for their next event."""
        self.n += 1
        writes = await self.personaliser.run([user_event(self.n, e)])
        for uid, message in writes.messages:
            self.lists[uid] = [item["item_id"] for item in message["items"]]

    def recommend(self, user: str) -> list[str]:
        return self.lists.get(user, [])


class Scores:
    def __init__(self) -> None:
        self.hit: list[float] = []
        self.rr: list[float] = []

    def add(self, ranked: list[str], target: str) -> None:
        rank = ranked[:K].index(target) + 1 if target in ranked[:K] else 0
        self.hit.append(1.0 if rank else 0.0)
        self.rr.append(1.0 / rank if rank else 0.0)


def summary(scores: Scores, mask: np.ndarray) -> dict[str, float]:
    hit, rr = np.array(scores.hit)[mask], np.array(scores.rr)[mask]
    return {
        "hitrate@20": float(hit.mean()) if hit.size else 0.0,
        "mrr@20": float(rr.mean()) if rr.size else 0.0,
        "cases": int(hit.size),
    }


def bootstrap(
    engine: list[float], best: list[float], sessions: list[str], reps: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Engine minus best baseline, mean over cases, with a 95 % interval from resampling
    whole sessions (cases of one session are not independent)."""
    ids = {s: n for n, s in enumerate(dict.fromkeys(sessions))}
    group = np.array([ids[s] for s in sessions])
    diff = np.bincount(group, weights=np.array(engine) - np.array(best))
    count = np.bincount(group)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(ids), size=(reps, len(ids)))
    means = diff[draws].sum(axis=1) / count[draws].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"difference": float(diff.sum() / count.sum()), "low": float(low), "high": float(high)}


async def evaluate(
    stream: Stream, span: str, models_dir: Path, limit: int | None
) -> dict[str, Any]:
    history, evaluation = stream.split(span)
    started = time.perf_counter()
    index = build_index(history + evaluation, models_dir)
    engine = Engine(index, Settings(recommendations_k=K, explore_share=0.0))
    popularity = Popularity()
    baselines = [popularity, SessionPopularity(popularity), AssociationRules(), SessionKNN()]
    print(
        f"{stream.name}: {len(history):,} history events, {len(evaluation):,} in the {span} span; "
        f"{len(index):,} items encoded in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    started = time.perf_counter()
    for start in range(0, len(history), LEARN_BATCH):
        chunk = history[start : start + LEARN_BATCH]
        await engine.learn(chunk)
        for e in chunk:
            for model in baselines:
                model.update(e)
    learned = time.perf_counter() - started
    scores = {m.name: Scores() for m in [engine, *baselines]}
    sessions: dict[str, list[str]] = defaultdict(list)
    case_sessions: list[str] = []
    repeat: list[bool] = []
    timings = {m.name: 0.0 for m in [engine, *baselines]}
    started = time.perf_counter()
    for e in evaluation:
        items = sessions[e.session]
        if items and (limit is None or len(repeat) < limit):
            case_sessions.append(e.session)
            repeat.append(e.item in items)
            scores[ENGINE].add(engine.recommend(e.user), e.item)
            for model in baselines:
                t = time.perf_counter()
                scores[model.name].add(model.recommend(items, e.session, K), e.item)
                timings[model.name] += time.perf_counter() - t
        t = time.perf_counter()
        await engine.step(e)
        timings[ENGINE] += time.perf_counter() - t
        for model in baselines:
            model.update(e)
        items.append(e.item)
    masks = {"overall": np.ones(len(repeat), bool), "repeat": np.array(repeat)}
    masks["new"] = ~masks["repeat"]
    table = {
        name: {part: summary(s, mask) for part, mask in masks.items()} for name, s in scores.items()
    }
    names = [m.name for m in baselines]
    intervals: dict[str, Any] = {}
    for metric, field in (("hitrate@20", "hit"), ("mrr@20", "rr")):
        best = max(names, key=lambda n: table[n]["overall"][metric])
        intervals[metric] = {
            "best_baseline": best,
            **bootstrap(
                getattr(scores[ENGINE], field), getattr(scores[best], field), case_sessions
            ),
        }
    cases = len(repeat)
    print(
        f"{stream.name}: {cases:,} cases ({int(np.sum(repeat)):,} repeat) in "
        f"{len(set(case_sessions)):,} sessions; history learned in {learned:.1f} s, "
        f"span in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    for name, row in table.items():
        print(
            f"  {name:20} "
            + "  ".join(
                f"{part} HR@20 {row[part]['hitrate@20']:.3f} MRR@20 {row[part]['mrr@20']:.3f}"
                for part in ("overall", "repeat", "new")
            )
            + f"  ({1000 * timings[name] / max(1, cases):.2f} ms/case)",
            flush=True,
        )
    for metric, iv in intervals.items():
        print(
            f"  engine - {iv['best_baseline']} {metric}: {iv['difference']:+.3f} "
            f"(95 % interval {iv['low']:+.3f} .. {iv['high']:+.3f})",
            flush=True,
        )
    return {
        "history_events": len(history),
        "span_events": len(evaluation),
        "cases": cases,
        "repeat_cases": int(np.sum(repeat)),
        "sessions": len(set(case_sessions)),
        "table": table,
        "engine_minus_best": intervals,
        "ms_per_case": {n: 1000 * t / max(1, cases) for n, t in timings.items()},
    }


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    streams = list(result["streams"])
    fig, axes = plt.subplots(len(streams), 2, figsize=(12, 4 * len(streams)), squeeze=False)
    parts = ["overall", "repeat", "new"]
    for row, name in enumerate(streams):
        table = result["streams"][name]["table"]
        for col, metric in enumerate(("hitrate@20", "mrr@20")):
            ax = axes[row][col]
            width = 0.8 / len(table)
            x = np.arange(len(parts))
            for n, model in enumerate(table):
                ax.bar(x + n * width, [table[model][p][metric] for p in parts], width, label=model)
            ax.set_xticks(x + 0.4 - width / 2, parts)
            ax.set_title(f"{name}, {result['span']} span: {metric}")
            if row == 0 and col == 0:
                ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--span", choices=("validation", "test"), default="test")
    add_stream_arguments(p)
    p.add_argument("--models", default="onnx_models")
    p.add_argument("--limit-cases", type=int, default=None, help="score only the first N cases")
    p.add_argument("--name", default="sessions")
    args = p.parse_args()
    result: dict[str, Any] = {"machine": machine(), "span": args.span, "k": K, "streams": {}}
    for stream in chosen_streams(args):
        result["streams"][stream.name] = asyncio.run(
            evaluate(stream, args.span, Path(args.models), args.limit_cases)
        )
    save(args.name, result, plot)


if __name__ == "__main__":
    main()
