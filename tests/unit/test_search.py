"""Search: fusion and personalisation on hand-made examples, the in-process entry point over
in-memory stores, and GET /search on any query and parameters (200 or 400, never a 5xx)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import EncoderInputError
from core.events import Click, EventKind, Purchase
from encoders.batcher import EncodeTiming
from feature_store.memory import memory_stores
from personalisation.pipeline import Personaliser
from personalisation.search import search_items
from personalisation.serving import ListFilter
from ranking.item_index import ItemIndex, ItemInfo
from ranking.profile import ProfileConfig, apply
from ranking.recommend_config import RecommendConfig
from ranking.search import SearchConfig, evidence, fuse, search
from ranking.state import UserState
from streams.api import Api
from tests.unit.test_api import FakeWorker

T0 = 1_700_000_000_000
DIM = 16
CATALOGUE = [
    ("k1", "Gift box of kitchen tea towels", "Kitchen", True),
    ("k2", "Kitchen gift set: wooden spoons", "Kitchen", True),
    ("c1", "Scented candle gift", "Candles", True),
    ("c2", "Candle holder gift, glass", "Candles", True),
    ("g1", "Gift card", "Gifts", True),
    ("x1", "Gift wrap, out of stock", "Gifts", False),
]


def vector_of(text: str) -> np.ndarray:
    """A bag of hashed words: texts sharing words are close."""
    v = np.zeros(DIM, np.float32)
    for word in text.lower().replace(",", " ").replace(":", " ").split():
        v[int(hashlib.sha1(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return v / (np.linalg.norm(v) or 1.0)


class HashEncoder:
    async def encode_query(self, query: str, timing: EncodeTiming | None = None) -> np.ndarray:
        return vector_of(query)

    async def encode_text(self, text: str) -> np.ndarray:
        return vector_of(text)


def catalogue() -> ItemIndex:
    index = ItemIndex(DIM)
    for item, title, category, in_stock in CATALOGUE:
        index.upsert(ItemInfo(item, title, category, in_stock), vector_of(f"{title} {category}"))
    return index


def shopper(*items: str, bought: str | None = None) -> UserState:
    index = catalogue()
    state = UserState.new(DIM)
    for n, item in enumerate(items):
        click = Click(f"e{n}", "u", T0 + n * 1000, item)
        info = index.info(item)
        category = info.category if info else None
        state = apply(state, click, ProfileConfig(), index.vector(item), category=category)
    if bought is not None:
        purchase = Purchase("p", "u", T0 + 10_000, bought, 1, 1.0)
        state = apply(state, purchase, ProfileConfig(), index.vector(bought), category="Candles")
    return state


def test_an_item_both_retrievers_found_leads_and_ranks_are_kept() -> None:
    fused = fuse([("a", 5.0), ("b", 4.0)], [("b", 0.9), ("c", 0.8)], rrf_k=60)
    assert max(fused, key=lambda i: fused[i][0]) == "b"
    assert fused["a"] == (pytest.approx(1 / 61), 1, None)
    assert fused["b"] == (pytest.approx(1 / 62 + 1 / 61), 2, 1)
    assert fused["c"] == (pytest.approx(1 / 62), None, 2)


def test_the_vectors_of_items_are_their_rows_in_order_and_unknown_items_are_left_out() -> None:
    index = catalogue()
    known, vectors = index.vectors_of(["c2", "nope", "k1", "c2"])
    assert known == ["c2", "k1", "c2"]
    assert vectors.shape == (3, DIM) and vectors.dtype == np.float32
    for item, row in zip(known, vectors, strict=True):
        assert np.array_equal(row, index.vector(item))
    none, empty = index.vectors_of(["nope"])
    assert none == [] and empty.shape == (0, DIM)


def test_the_evidence_of_a_shopper_computed_by_hand() -> None:
    index = catalogue()
    state = shopper("k1", "k2", bought="c1")
    neighbours = {"k2": [("c2", 3.0), ("g1", 1.0)], "k1": [("g1", 2.0)]}
    got = evidence(["k1", "c1", "c2", "g1"], state, index, neighbours, RecommendConfig(), T0)
    assert got["c1"]["bought"] == 1.0
    assert got["k1"]["seen"] == 1.0 and "seen" not in got["c2"]
    # the session is k1, k2, c1 (bought last): c1 weighs 1 (no co-visits), k2 1/2 (c2 3/4,
    # g1 1/4), k1 1/3 (g1 all)
    assert got["c2"]["covisit"] == pytest.approx(0.75 / 2)
    assert got["g1"]["covisit"] == pytest.approx(0.25 / 2 + 1 / 3)
    # the closest of the four to the shopper's interest scores 1, the farthest 0
    interests = [got[i].get("interest", 0.0) for i in ("k1", "c1", "c2", "g1")]
    assert max(interests) == pytest.approx(1.0) and min(interests) == 0.0
    shares = state.categories
    assert got["k1"]["category"] == pytest.approx(shares["Kitchen"] / sum(shares.values()))


def test_two_shoppers_get_the_same_matches_in_their_own_order_with_reasons() -> None:
    index = catalogue()
    words = index.words.search("gift", 10)
    meaning = index.search(vector_of("gift"), 10)
    allowed = ListFilter().allows(index)
    cfg = SearchConfig()
    plain = search("gift", words, meaning, index, 5, cfg, allowed)
    kitchen = (shopper("k1", "k2"), {}, RecommendConfig(), T0 + 20_000)
    candles = (shopper("c1", "c2"), {}, RecommendConfig(), T0 + 20_000)
    for_kitchen = search("gift", words, meaning, index, 5, cfg, allowed, kitchen)
    for_candles = search("gift", words, meaning, index, 5, cfg, allowed, candles)
    assert {h.item_id for h in for_kitchen} == {h.item_id for h in plain}
    # Each shopper's own kind of gift comes before the other kind, with the reason why.
    kinds = [
        [h.item_id[0] for h in hits if h.item_id[0] in "kc"] for hits in (for_kitchen, for_candles)
    ]
    assert kinds[0][0] == "k" and kinds[1][0] == "c", (for_kitchen, for_candles)
    assert {h.reason for h in for_kitchen if h.item_id == "k2"} == {"you looked at this earlier"}
    assert {h.reason for h in for_candles if h.item_id == "c1"} == {"you looked at this earlier"}
    # Without the gift card the first results differ.
    no_card = ListFilter(exclude=frozenset({"g1"})).allows(index)
    firsts = {
        search("gift", words, meaning, index, 1, cfg, no_card, s)[0].item_id
        for s in (kitchen, candles)
    }
    assert len(firsts) == 2
    # No shopper, or strength 0: the fused order, each result saying how it matches the query.
    assert [h.item_id for h in search("gift", words, meaning, index, 5, cfg, allowed, None)] == [
        h.item_id for h in plain
    ]
    assert all(h.reason in {"matches 'gift'", "related to 'gift'"} for h in plain)
    no_strength = SearchConfig(strength=0.0)
    assert [
        h.item_id for h in search("gift", words, meaning, index, 5, no_strength, allowed, kitchen)
    ] == [h.item_id for h in plain]


def test_out_of_stock_and_removed_items_never_come_back() -> None:
    index = catalogue()
    assert "x1" in {item for item, _ in index.words.search("gift wrap", 10)}
    index.remove("g1")
    words = index.words.search("gift", 10)
    meaning = index.search(vector_of("gift wrap"), 10)
    got = search("gift wrap", words, meaning, index, 10, SearchConfig(), ListFilter().allows(index))
    assert {h.item_id for h in got}.isdisjoint({"x1", "g1"})
    assert "g1" not in {item for item, _ in words}


def personaliser() -> Personaliser:
    return Personaliser(catalogue(), memory_stores(DIM), HashEncoder())


async def test_search_items_orders_for_a_known_shopper_only() -> None:
    p = personaliser()
    await p.run(
        [Click(f"e{n}", "kitchen-fan", T0 + n, item) for n, item in enumerate(["k2", "k1"])]
    )
    cfg = SearchConfig(strength=2.0)
    mine = await search_items(p, "gift", 3, cfg, user_id="kitchen-fan", now_ms=T0 + 1000)
    anyone = await search_items(p, "gift", 3, cfg)
    stranger = await search_items(p, "gift", 3, cfg, user_id="nobody", now_ms=T0)
    assert mine["personalised"] and not anyone["personalised"]
    assert mine["items"][0]["item_id"] in {"k1", "k2"}
    assert [i["item_id"] for i in stranger["items"]] == [i["item_id"] for i in anyone["items"]]
    parts = {"encode", "encode_queue", "encode_run", "retrieve", "shopper", "rank"}
    assert set(mine["timings_ms"]) == parts
    assert all(i["matched_by"] and i["title"] for i in mine["items"])


class BrokenEncoder(HashEncoder):
    async def encode_query(self, query: str, timing: EncodeTiming | None = None) -> np.ndarray:
        await asyncio.sleep(0.01)  # the shopper's reads are under way meanwhile
        raise EncoderInputError("the encoder refused it")


async def test_a_failed_encoding_fails_the_search_and_stops_the_shoppers_reads() -> None:
    p = Personaliser(catalogue(), memory_stores(DIM), BrokenEncoder())
    loads: list[list[str]] = []
    load = p.stores.users.load

    async def slow_load(users: list[str]) -> Any:
        loads.append(users)
        await asyncio.sleep(1.0)
        return await load(users)

    p.stores.users.load = slow_load  # type: ignore[method-assign]
    before = asyncio.all_tasks()
    with pytest.raises(EncoderInputError):
        await search_items(p, "gift", 3, SearchConfig(strength=2.0), user_id="u", now_ms=T0)
    await asyncio.sleep(0)  # the cancelled read ends
    assert loads == [["u"]]  # the reads began beside the encoding...
    assert asyncio.all_tasks() - before == set()  # ...and were stopped with it


async def test_a_failed_read_of_the_shopper_fails_the_search() -> None:
    p = personaliser()

    async def broken(users: list[str]) -> Any:
        raise ConnectionError("redis is away")

    p.stores.users.load = broken  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await search_items(p, "gift", 3, SearchConfig(strength=2.0), user_id="u", now_ms=T0)
    anyone = await search_items(p, "gift", 3, SearchConfig(strength=2.0))  # no shopper: no reads
    assert anyone["items"]


class SearchWorker(FakeWorker):
    """The API's fake worker (``test_api``), searching a real in-memory personaliser."""

    def __init__(self) -> None:
        super().__init__()
        self.personaliser = personaliser()

    async def search(
        self, query: str, k: int, user_id: str | None, rules: ListFilter, strength: float
    ) -> dict[str, Any]:
        cfg = SearchConfig(strength=strength)
        return await search_items(self.personaliser, query, k, cfg, user_id, rules)


WORKER = SearchWorker()
API = Api(WORKER)  # type: ignore[arg-type]
PARAMS = [
    "q",
    "user_id",
    "k",
    "category",
    "in_stock_only",
    "personalise",
    "record",
    "event_id",
    "session_id",
    "unknown",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    query=st.dictionaries(
        st.sampled_from(PARAMS),
        st.one_of(
            st.text(max_size=40),
            st.text(min_size=500, max_size=10_000),
            st.sampled_from(
                ["gift", "", " ", "\x00\x1f", "茶 подарок", "-1", "1e9", "true", "AND"]
            ),
            st.integers(-5, 200).map(str),
        ),
    )
)
async def test_any_query_and_parameters_give_200_or_400_with_a_reason(
    query: dict[str, str],
) -> None:
    reply = await API.get_search(query)
    assert reply.status in (200, 400), reply
    assert reply.body is not None
    if reply.status == 400:
        assert reply.body["error"]["message"]
    else:
        assert len(reply.body["items"]) <= int(query.get("k", "10"))
        assert all(item["reason"] for item in reply.body["items"])


async def test_a_recorded_search_is_sent_as_the_shoppers_event() -> None:
    worker = SearchWorker()
    api = Api(worker)  # type: ignore[arg-type]
    reply = await api.get_search({"q": "gift", "user_id": "u1", "record": "true", "event_id": "s1"})
    assert reply.status == 200 and reply.body is not None
    assert reply.body["recorded"] == {"event_id": "s1", "accepted": True}
    ((kind, key, value),) = worker.sent
    assert kind == EventKind.SEARCH and key == b"u1" and b'"query":"gift"' in value
    refused = await api.get_search({"q": "gift", "record": "true"})
    assert refused.status == 400 and "user_id" in refused.body["error"]["message"]  # type: ignore[index]
