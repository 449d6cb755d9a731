"""Search as a worker answers it: the query encoded by the worker's encoder (its cache and
micro-batcher, shared with the stream), matched by words and by meaning over the worker's item
index, and ordered for the shopper (``ranking.search``). ``GET /search`` and the benchmark
call :func:`search_items`; it reads only.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from encoders.batcher import EncodeTiming
from personalisation.pipeline import Personaliser
from personalisation.serving import ListFilter
from ranking.item_index import ItemInfo
from ranking.search import SearchConfig, SearchHit, Shopper, search
from ranking.session_sources import covisit_sources


async def search_items(
    personaliser: Personaliser,
    query: str,
    k: int,
    cfg: SearchConfig,
    user_id: str | None = None,
    rules: ListFilter | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The ``k`` best items for ``query``, ordered for ``user_id`` when given, with reasons and
    where the time went (``timings_ms``: encoding, of it the wait for its batch and the batch's
    run, retrieval, the shopper's reads, ranking)."""
    p = personaliser
    index = p.index
    started = time.perf_counter()
    timing = EncodeTiming()
    # The shopper's reads go on while the query is encoded (a new query's encoding takes
    # milliseconds; each read waits for a turn of the event loop).
    reads = (
        asyncio.ensure_future(_shopper(p, user_id, now_ms))
        if user_id is not None and cfg.strength > 0
        else None
    )
    try:
        vector = await p.encoder.encode_query(query, timing)
    except BaseException:
        if reads is not None:
            reads.cancel()
            reads.add_done_callback(_consume)
        raise
    encoded = time.perf_counter()
    lexical = index.words.search(query, cfg.candidates)
    semantic = index.search(vector, cfg.candidates)
    retrieved = time.perf_counter()
    shopper = await reads if reads is not None else None
    read = time.perf_counter()
    allowed = (rules or ListFilter()).allows(index)
    hits = search(query, lexical, semantic, index, k, cfg, allowed, shopper)
    ranked = time.perf_counter()
    return {
        "query": query,
        "user_id": user_id,
        "personalised": shopper is not None,
        "items": [hit_message(hit, index.info(hit.item_id)) for hit in hits],
        "timings_ms": {
            "encode": round(1000 * (encoded - started), 3),
            # of which: waiting for the query's batch to start, and the batch's run (both 0
            # when the vector came from the cache)
            "encode_queue": round(1000 * timing.queued_s, 3),
            "encode_run": round(1000 * timing.run_s, 3),
            "retrieve": round(1000 * (retrieved - encoded), 3),
            # what was left of the shopper's reads (begun with the encoding) after retrieval
            "shopper": round(1000 * (read - retrieved), 3),
            "rank": round(1000 * (ranked - read), 3),
        },
    }


async def _shopper(p: Personaliser, user_id: str, now_ms: int | None) -> Shopper:
    """The shopper's state, the co-visits of their session's items, the ranking configuration
    and the time, as :func:`ranking.search.search` takes them."""
    state = (await p.stores.users.load([user_id]))[user_id]
    neighbours = await p.stores.covisit.neighbours(covisit_sources(state, p.ranking))
    at = now_ms if now_ms is not None else int(p.clock() * 1000)
    return state, neighbours, p.ranking, at


def _consume(task: asyncio.Future[Any]) -> None:
    """A read nobody waits for any more: its failure is not news."""
    if not task.cancelled():
        task.exception()


def hit_message(hit: SearchHit, info: ItemInfo | None) -> dict[str, Any]:
    return {
        "item_id": hit.item_id,
        "title": info.title if info is not None else None,
        "score": hit.score,
        "reason": hit.reason,
        "matched_by": [
            name
            for name, rank in (("words", hit.lexical_rank), ("meaning", hit.semantic_rank))
            if rank is not None
        ],
    }
