"""Where a worker's time goes: the personalisation pipeline replayed in process.

    python -m bench.pipeline_profile [--events 120000] [--profile]

The end-to-end benchmark's load (random clicks by 100,000 shoppers over the Online Retail
catalogue's item ids, 500-event batches) through the workers' own ``Personaliser`` over the
in-memory stores, with random unit vectors for the items (the encoder is not what is measured
here), the garbage collector set as in a worker (``PULSE_GC_THRESHOLD``, ``--gc-threshold``,
and what each batch leaves alive frozen, ``core.heap.BatchHeap``).
Prints events/s per segment of the replay (the rate falls as the engine holds more shoppers)
and, with ``--profile``, the functions that took the most time in the last segment (the ranking
then runs on the loop's thread, so the profile sees it).
No Kafka, no Redis: an upper bound of what one worker's ranking allows.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import pstats
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from bench.common import NoText
from bench.datasets import RETAIL, need
from bench.e2e_load import catalogue_events
from core.events import Click
from core.heap import BatchHeap, settle_heap
from core.settings import Settings
from feature_store.memory import memory_stores
from personalisation.configs import ranking_configs
from personalisation.pipeline import Personaliser
from ranking.item_index import ItemIndex, ItemInfo

DIM = 384


def random_index(seed: int = 0) -> tuple[ItemIndex, list[str]]:
    need(RETAIL)
    items = catalogue_events(RETAIL)
    rng = np.random.default_rng(seed)
    index = ItemIndex(DIM, capacity=len(items) + 1)
    for item in items:
        vector = rng.standard_normal(DIM).astype(np.float32)
        info = ItemInfo(item["item_id"], item["title"], item.get("category"), True)
        index.upsert(info, vector / np.linalg.norm(vector))
    return index, [item["item_id"] for item in items]


def clicks(n: int, users: int, items: list[str], seed: int = 1) -> list[Click]:
    rng = random.Random(seed)
    now = 1_700_000_000_000  # fixed, so that every run replays the same events
    actions = ("view", "view", "click", "add_to_cart")
    return [
        Click(
            f"e{i}",
            f"bench-{rng.randrange(users)}",
            now + i,
            rng.choice(items),
            rng.choice(actions),
        )
        for i in range(n)
    ]


async def replay(args: argparse.Namespace) -> None:
    index, items = random_index()
    profile, ranking = ranking_configs(Settings(explore_share=0.1))
    personaliser = Personaliser(
        index, memory_stores(index.dim), NoText(), profile=profile, ranking=ranking
    )
    if args.profile:
        # The ranking on the loop's thread, where cProfile sees it (not on the pipeline's).
        async def inline(step: Callable[..., Any], *step_args: Any) -> Any:
            return step(*step_args)

        personaliser._off_loop = inline  # type: ignore[method-assign]
    events = clicks(args.events, args.users, items)
    # The collector as a worker sets it after its start, and after each batch (core.heap).
    settle_heap(args.gc_threshold)
    heap = BatchHeap(Settings().gc_full_pass_seconds)
    segment = args.events // args.segments
    profiler = cProfile.Profile()
    digest = hashlib.sha256()
    for part in range(args.segments):
        chunk = events[part * segment : (part + 1) * segment]
        last = part == args.segments - 1
        if last and args.profile:
            profiler.enable()
        start = time.perf_counter()
        for at in range(0, len(chunk), args.batch):
            writes = await personaliser.run(chunk[at : at + args.batch])
            heap.after_batch()
            for uid, message in writes.messages:  # what a list says, not its id or time
                said = [
                    (i["item_id"], i["score"], i["source"], i["reason"], i.get("arm"))
                    for i in message["items"]
                ]
                digest.update(orjson.dumps([uid, said]))
        took = time.perf_counter() - start
        if last and args.profile:
            profiler.disable()
        print(
            f"events {part * segment:>7,} to {(part + 1) * segment:>7,}: {len(chunk) / took:7,.0f} "
            f"events/s ({took / len(chunk) * 1e3:.3f} ms each; {len(personaliser.sessions):,} "
            "sessions held)"
        )
    # Equal digests of two versions of the code: the same lists, item by item.
    print(f"digest of every list published: {digest.hexdigest()[:16]}")
    if args.profile:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--segments", type=int, default=6)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=Settings().gc_threshold,
        help="the youngest objects collected after this many allocations (0: Python's 700)",
    )
    asyncio.run(replay(parser.parse_args()))


if __name__ == "__main__":
    main()
