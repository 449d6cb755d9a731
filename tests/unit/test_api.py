"""The HTTP API's handlers against a fake worker: statuses, bodies and metrics, no Faust."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from core.errors import BodyError, ServiceError
from core.events import Event, EventKind
from core.metrics import Metrics
from core.settings import Settings
from personalisation.serving import ListFilter
from streams.api import PROMETHEUS, Api
from streams.producer import EventProducer
from tests.unit.examples import VALID

TOKEN = "a-token-of-the-tests-0123456789"
STORED = {
    "user_id": "u1",
    "rec_id": "r1",
    "items": [
        {"item_id": f"i{n}", "score": 1.0 - n / 10, "source": "similar", "reason": "x"}
        for n in range(5)
    ],
    "trigger_event_id": "e1",
}


class FakeWorker:
    """The named operations of a worker, in memory; ``fail`` makes them raise ServiceError."""

    def __init__(
        self, *, personalising: bool = True, trending: bool = True, **settings: Any
    ) -> None:
        self.settings = Settings(
            http_max_body_bytes=2048, http_max_batch_events=3, admin_token=TOKEN, **settings
        )
        self.forgotten: list[str] = []
        self.rules: ListFilter | None = None
        self.metrics = Metrics()
        self.personalising = personalising
        self.trending = trending
        self.fail = False
        self.takes: int | None = None
        self.redis_ok = True
        self.sent: list[tuple[EventKind, bytes, bytes]] = []
        self._producer = EventProducer(self.settings)

    def prepare_event(
        self, kind: EventKind, event: Mapping[str, Any]
    ) -> tuple[bytes, bytes, Event]:
        return self._producer.prepare(kind, event)

    async def send_events(
        self, messages: list[tuple[EventKind, bytes, bytes]]
    ) -> list[BaseException | None]:
        """Kafka takes the first ``self.takes`` messages (all unless set), refuses the rest."""
        results: list[BaseException | None] = []
        for n, message in enumerate(messages):
            if self.fail or (self.takes is not None and n >= self.takes):
                results.append(ServiceError("Kafka is away"))
            else:
                self.sent.append(message)
                results.append(None)
        return results

    async def recommendations(
        self, user_id: str, k: int, rules: ListFilter | None = None
    ) -> dict[str, Any]:
        if self.fail:
            raise ServiceError("Redis is away")
        self.rules = rules
        return {**STORED, "user_id": user_id, "items": STORED["items"][:k], "cold_start": False}

    async def recommendations_many(
        self, user_ids: list[str], k: int, rules: ListFilter
    ) -> list[dict[str, Any]]:
        return [await self.recommendations(uid, k, rules) for uid in user_ids]

    async def similar_items(self, item_id: str, k: int) -> list[dict[str, Any]]:
        if not item_id.startswith("i"):
            raise KeyError(item_id)
        return STORED["items"][:k]

    async def forget(self, user_id: str) -> dict[str, Any]:
        if self.fail:
            raise ServiceError("Kafka is away")
        self.forgotten.append(user_id)
        return {"user_id": user_id, "forgotten_at": 1, "complete_by": 1001}

    async def stored_about(self, user_id: str) -> dict[str, Any]:
        return {"user_id": user_id, "state": None, "recommendations": None, "signals": []}

    async def trends(self, kind: str, limit: int) -> dict[str, Any]:
        if self.fail:
            raise ServiceError("Redis is away")
        return {"kind": kind, "signals": [], "limit": limit}

    async def health(self) -> dict[str, Any]:
        return {"status": "ok" if self.redis_ok else "degraded", "redis": self.redis_ok}


def body_of(*events: dict[str, Any]) -> bytes:
    return orjson.dumps(list(events))


async def post(api: Api, body: bytes, declared: str | None = None) -> Any:
    async def read() -> bytes:
        return body

    return await api.post_events(str(len(body)) if declared is None else declared, read)


def refused(worker: FakeWorker, status: str) -> float:
    return worker.metrics.get("pulse_http_requests_refused_total", "status", status)


async def test_a_valid_batch_is_sent_and_accepted_with_its_event_ids() -> None:
    worker = FakeWorker()
    api = Api(worker)
    click = {"type": "click", **VALID[EventKind.CLICK]}
    search = {"type": "search", "user_id": "u2", "query": "tea"}
    reply = await post(api, body_of(click, search))
    assert reply.status == 202
    assert reply.body["accepted"] == 2
    assert reply.body["by_type"] == {"click": 1, "search": 1}
    assert reply.body["event_ids"][0] == VALID[EventKind.CLICK]["event_id"]
    assert len(reply.body["event_ids"][1]) == 32  # filled in
    assert [kind for kind, _, _ in worker.sent] == [EventKind.CLICK, EventKind.SEARCH]
    assert worker.metrics.get("pulse_http_events_accepted_total") == 2


async def test_one_bad_event_refuses_the_whole_batch() -> None:
    worker = FakeWorker()
    reply = await post(
        Api(worker), body_of({"type": "click", **VALID[EventKind.CLICK]}, {"type": "click"})
    )
    assert reply.status == 400 and reply.body["accepted"] == 0
    assert [e["index"] for e in reply.body["errors"]] == [1]
    assert worker.sent == [] and refused(worker, "400") == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "not_json"),
        (b"42", 400, "not_object"),
        (b"[]", 400, "missing_field"),
        (orjson.dumps([{"type": "search", "user_id": "u", "query": "q"}] * 4), 413, "oversize"),
    ],
)
async def test_unusable_bodies_are_refused_with_their_code(
    body: bytes, status: int, code: str
) -> None:
    worker = FakeWorker()
    reply = await post(Api(worker), body)
    assert (reply.status, reply.body["error"]["code"], reply.body["accepted"]) == (status, code, 0)
    assert refused(worker, "400") == 1 and worker.sent == []


async def test_oversize_bodies_are_refused_before_and_while_reading() -> None:
    worker = FakeWorker()
    api = Api(worker)
    declared = await post(api, b"{}", declared="4096")
    assert declared.status == 413 and declared.body["error"]["code"] == "oversize"

    async def too_large() -> bytes:
        raise BodyError("oversize", "request body is too large")

    read = await api.post_events("", too_large)
    assert read.status == 413 and read.body["error"]["message"].endswith("2048 bytes")
    assert refused(worker, "413") == 2

    async def undecodable() -> bytes:
        raise BodyError("bad_encoding", "not gzip")

    bad = await api.post_events("", undecodable)
    assert (bad.status, bad.body["error"]["code"], bad.body["accepted"]) == (400, "bad_encoding", 0)


async def test_a_partly_sent_batch_says_exactly_which_events_kafka_took() -> None:
    worker = FakeWorker()
    worker.takes = 1
    events = [
        {"type": "search", "user_id": f"u{n}", "query": "tea", "event_id": f"q{n}"}
        for n in range(3)
    ]
    reply = await post(Api(worker), body_of(*events))
    assert reply.status == 503 and reply.body["error"]["code"] == "kafka_unavailable"
    assert reply.body["accepted"] == 1 and reply.body["accepted_indices"] == [0]
    assert reply.body["failed_indices"] == [1, 2]
    assert reply.body["event_ids"] == ["q0", "q1", "q2"]
    assert worker.metrics.get("pulse_http_events_accepted_total") == 1


async def test_kafka_away_is_a_503_and_nothing_is_accepted() -> None:
    worker = FakeWorker()
    worker.fail = True
    reply = await post(Api(worker), body_of({"type": "click", **VALID[EventKind.CLICK]}))
    assert reply.status == 503 and reply.body["error"]["code"] == "kafka_unavailable"
    assert reply.body["accepted"] == 0 and refused(worker, "503") == 1


async def test_recommendations_checks_k_and_answers_the_worker_list() -> None:
    worker = FakeWorker()
    api = Api(worker)
    reply = await api.get_recommendations("u7", {"k": "3"})
    assert reply.status == 200 and reply.body["user_id"] == "u7"
    assert [i["item_id"] for i in reply.body["items"]] == ["i0", "i1", "i2"]
    default = await api.get_recommendations("u7", {})
    assert len(default.body["items"]) == 5  # k defaults to PULSE_RECOMMENDATIONS_K (10)
    assert (await api.get_recommendations("u7", {"k": "x"})).body["error"]["code"] == "wrong_type"
    for k in ("0", "101"):
        reply = await api.get_recommendations("u7", {"k": k})
        assert (reply.status, reply.body["error"]["code"]) == (400, "out_of_range")


async def test_recommendations_say_why_there_is_no_list() -> None:
    off = await Api(FakeWorker(personalising=False)).get_recommendations("u", {})
    assert (off.status, off.body["error"]["code"]) == (503, "not_personalising")
    worker = FakeWorker()
    worker.fail = True
    away = await Api(worker).get_recommendations("u", {})
    assert (away.status, away.body["error"]) == (
        503,
        {"code": "unavailable", "message": "Redis is away"},
    )


async def test_trends_check_kind_and_limit() -> None:
    api = Api(FakeWorker())
    ok = await api.get_trends({"kind": "peak_time", "limit": "5"})
    assert ok.status == 200 and ok.body == {"kind": "peak_time", "signals": [], "limit": 5}
    assert (await api.get_trends({})).body["kind"] == "trending_item"
    cases = [
        ({"kind": "weather"}, "bad_choice"),
        ({"limit": "many"}, "wrong_type"),
        ({"limit": "0"}, "out_of_range"),
    ]
    for query, code in cases:
        reply = await api.get_trends(query)
        assert (reply.status, reply.body["error"]["code"]) == (400, code)
    off = await Api(FakeWorker(trending=False)).get_trends({})
    assert (off.status, off.body["error"]["code"]) == (503, "no_trends")


async def test_health_is_503_while_redis_is_away_and_metrics_are_prometheus_text() -> None:
    worker = FakeWorker()
    api = Api(worker)
    assert (await api.get_health()).status == 200
    worker.redis_ok = False
    down = await api.get_health()
    assert down.status == 503 and down.body["status"] == "degraded"
    worker.metrics.inc("pulse_batches_total", n=4)
    metrics = api.get_metrics()
    assert metrics.content_type == PROMETHEUS and "pulse_batches_total 4" in metrics.text
