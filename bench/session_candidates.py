"""Where the engine's next-click misses come from: candidates or ranking.

    python -m bench.session_candidates [--span validation] [--streams yoochoose,taobao]

The next-click protocol of ``bench/session_bench.py`` (same streams, spans and engine), engine
only. For every case whose target is new to the session, it records which candidate sources
proposed the target in the list before it (``ranking.recommend.candidate_sources``, each
source's own top ``per_source``), and where the target stood in the list: in the top 20, in
some source's candidates but ranked below 20 by the blend, or in no source at all. A miss of
the last kind no weighting can fix; one of the middle kind is the blend's. Prints the shares
and writes bench/results/<name>.json (no plot: a table of shares).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import ranking.recommend as recommend_module
from bench.common import machine, write_json
from bench.session_bench import ENGINE, LEARN_BATCH, Engine, K, build_index
from bench.session_data import Stream, add_stream_arguments, chosen_streams
from core.settings import Settings
from ranking.blend import Proposal


class SourceTap:
    """Wraps ``candidate_sources`` and keeps the latest call's candidates per source, each item
    with its rank in the source and its share of the source's total score (the engine ranks
    one shopper per step here, so the latest call is that shopper's)."""

    def __init__(self) -> None:
        self.original = recommend_module.candidate_sources
        self.latest: dict[str, dict[str, tuple[int, float]]] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, list[Proposal]]:
        sources = self.original(*args, **kwargs)
        self.latest = {}
        for name, found in sources.items():
            total = sum(p.score for p in found) or 1.0
            self.latest[name] = {p.item_id: (n, p.score / total) for n, p in enumerate(found)}
        return sources

    def __enter__(self) -> SourceTap:
        recommend_module.candidate_sources = self  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        recommend_module.candidate_sources = self.original  # type: ignore[assignment]


async def diagnose(stream: Stream, span: str, models_dir: Path) -> dict[str, Any]:
    history, evaluation = stream.split(span)
    index = build_index(history + evaluation, models_dir)
    engine = Engine(index, Settings(recommendations_k=K, explore_share=0.0))
    for start in range(0, len(history), LEARN_BATCH):
        await engine.learn(history[start : start + LEARN_BATCH])
    with SourceTap() as tap:
        candidates: dict[str, dict[str, dict[str, tuple[int, float]]]] = {}
        sessions: dict[str, list[str]] = defaultdict(list)
        where: Counter[str] = Counter()
        by_source: Counter[str] = Counter()
        only: Counter[str] = Counter()
        for e in evaluation:
            items = sessions[e.session]
            if items and e.item not in items:
                ranked = engine.recommend(e.user)[:K]
                proposed = candidates.get(e.user, {})
                holding = [name for name, ids in proposed.items() if e.item in ids]
                by_source.update(holding)
                if len(holding) == 1:
                    only[holding[0]] += 1
                if e.item in ranked:
                    where["in the list"] += 1
                elif holding:
                    where["a candidate, ranked below the list"] += 1
                else:
                    where["in no source"] += 1
            await engine.step(e)
            candidates[e.user] = tap.latest
            items.append(e.item)
    cases = sum(where.values())
    result = {
        "new_target_cases": cases,
        "where": {k: v / cases for k, v in where.items()},
        "proposed_by": {k: v / cases for k, v in by_source.most_common()},
        "proposed_only_by": {k: v / cases for k, v in only.most_common()},
    }
    print(f"{stream.name}, {span} span: {cases:,} cases with a target new to the session")
    for key in ("where", "proposed_by", "proposed_only_by"):
        print(
            f"  {key.replace('_', ' ')}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in result[key].items())
        )
    return result


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--span", choices=("validation", "test"), default="validation")
    add_stream_arguments(p)
    p.add_argument("--models", default="onnx_models")
    p.add_argument("--name", default="session-candidates")
    args = p.parse_args()
    result: dict[str, Any] = {"machine": machine(), "span": args.span, "model": ENGINE, "k": K}
    result["streams"] = {
        stream.name: asyncio.run(diagnose(stream, args.span, Path(args.models)))
        for stream in chosen_streams(args)
    }
    print(f"wrote {write_json(args.name, result)}")


if __name__ == "__main__":
    main()
