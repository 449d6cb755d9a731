"""The HTTP API of a worker, without the web framework: requests in, :class:`Reply` out.

``streams.views`` mounts these handlers on the Faust app; unit tests call them with a fake
worker. What the API needs of a worker is :class:`WorkerOps`.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import BodyError, InvalidEventError, ServiceError
from core.events import Event, EventKind
from core.forget import check_user_id
from core.metrics import Metrics
from core.settings import Settings
from feature_store.trend_signals import SHOPPER_KIND
from personalisation.serving import ListFilter
from streams import openapi
from streams.http_batch import prepare_batch, split_body
from streams.schemas import (
    BatchRequest,
    M,
    RecommendationsQuery,
    SearchQuery,
    SimilarQuery,
    TrendsQuery,
    parse_body,
    parse_query,
)

JSON = "application/json"
ADMIN_ONLY = "this route needs the admin token: 'Authorization: Bearer <PULSE_ADMIN_TOKEN>'"
PROMETHEUS = "text/plain; version=0.0.4"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None
    text: str | None = None
    content_type: str = JSON
    headers: dict[str, str] | None = None


class WorkerOps(Protocol):
    """The named operations of ``streams.worker.Worker`` the API uses."""

    settings: Settings
    metrics: Metrics

    @property
    def personalising(self) -> bool: ...

    @property
    def trending(self) -> bool: ...

    def prepare_event(
        self, kind: EventKind, event: Mapping[str, Any]
    ) -> tuple[bytes, bytes, Event]: ...

    async def send_events(
        self, messages: list[tuple[EventKind, bytes, bytes]]
    ) -> list[BaseException | None]:
        """``None`` for each message Kafka acknowledged, the error for each it did not."""

    async def recommendations(
        self, user_id: str, k: int, rules: ListFilter | None = None
    ) -> dict[str, Any]: ...

    async def recommendations_many(
        self, user_ids: list[str], k: int, rules: ListFilter
    ) -> list[dict[str, Any]]: ...

    async def similar_items(self, item_id: str, k: int) -> list[dict[str, Any]]: ...

    async def search(
        self, query: str, k: int, user_id: str | None, rules: ListFilter, strength: float
    ) -> dict[str, Any]: ...

    async def forget(self, user_id: str) -> dict[str, Any]: ...

    async def stored_about(self, user_id: str) -> dict[str, Any]: ...

    async def trends(self, kind: str, limit: int) -> dict[str, Any]: ...

    async def health(self) -> dict[str, Any]: ...


def error(status: int, code: str, message: str, **extra: Any) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}, **extra})


NOT_PERSONALISING = error(503, "not_personalising", "this worker runs with PULSE_PERSONALISE=false")


def query_of(model: type[M], query: Mapping[str, str]) -> M | Reply:
    """The query string as ``model``, or the 400 reply that says what is wrong."""
    parsed = parse_query(model, query)
    if isinstance(parsed, tuple):
        return error(400, *parsed)
    return parsed


def user_id_error(user_id: str) -> Reply | None:
    try:
        check_user_id(user_id)
    except InvalidEventError as exc:
        return error(400, exc.code, exc.message)
    return None


class Api:
    def __init__(self, worker: WorkerOps) -> None:
        self.worker = worker
        self.settings = worker.settings
        self.metrics = worker.metrics
        self.metrics.describe(
            "pulse_http_events_accepted_total", "Events accepted by POST /events."
        )
        self.metrics.describe("pulse_http_requests_refused_total", "POST /events requests refused.")

    async def post_events(
        self, declared_length: str, read: Callable[[], Awaitable[bytes]]
    ) -> Reply:
        """``POST /events``: ``read`` returns the body, or raises ``BodyError("oversize")``
        when it is over the limit."""
        limit = self.settings.http_max_body_bytes
        if declared_length.isdigit() and int(declared_length) > limit:
            return self._refused(error(413, "oversize", f"request body exceeds {limit} bytes"))
        try:
            body = await read()
        except BodyError as exc:
            if exc.code == "oversize":
                return self._refused(error(413, "oversize", f"request body exceeds {limit} bytes"))
            return self._refused(error(400, exc.code, exc.message, accepted=0))
        try:
            events = split_body(body, self.settings.http_max_batch_events)
        except BodyError as exc:
            status = 413 if exc.code == "oversize" else 400
            self._count_refused("400")
            return error(status, exc.code, exc.message, accepted=0)
        batch = prepare_batch(events, self.worker.prepare_event)
        if batch.errors:
            return self._refused(Reply(400, {"accepted": 0, "errors": batch.errors}))
        results = await self.worker.send_events(batch.messages)
        taken = [n for n, result in enumerate(results) if result is None]
        ids = [getattr(r, "event_id", None) for r in batch.records]
        self.metrics.inc("pulse_http_events_accepted_total", n=len(taken))
        if len(taken) == len(results):
            return Reply(202, {"accepted": len(taken), "by_type": batch.by_type, "event_ids": ids})
        # Some (or all) did not reach Kafka: say exactly which did, so a retry resends only
        # the others (with the same event ids, which the worker drops when seen twice).
        failed = [n for n, result in enumerate(results) if result is not None]
        first = results[failed[0]]
        return self._refused(
            error(
                503,
                "kafka_unavailable",
                f"{len(failed)} of {len(results)} events did not reach Kafka: {first!r}",
                accepted=len(taken),
                accepted_indices=taken,
                failed_indices=failed,
                event_ids=ids,
            )
        )

    def authorised(self, authorization: str | None) -> Reply | None:
        """None when ``authorization`` carries the admin token (``Bearer <token>``); else 401
        without a bearer token, 403 with a wrong one. Compared in constant time."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Reply(
                401,
                {"error": {"code": "unauthorised", "message": ADMIN_ONLY}},
                headers={"WWW-Authenticate": 'Bearer realm="pulse-admin"'},
            )
        expected = self.settings.admin_token.get_secret_value().encode()
        if not hmac.compare_digest(token.strip().encode(), expected):
            return error(403, "forbidden", "the admin token is wrong")
        return None

    async def get_recommendations(self, user_id: str, query: Mapping[str, str]) -> Reply:
        """``GET /users/{id}/recommendations?k=&category=&exclude=&in_stock_only=``."""
        params = query_of(RecommendationsQuery, query)
        if isinstance(params, Reply):
            return params
        if (refused := user_id_error(user_id)) is not None:
            return refused
        if not self.worker.personalising:
            return NOT_PERSONALISING
        rules = ListFilter(params.category, params.excluded, params.in_stock_only)
        k = params.k or self.settings.recommendations_k
        return await self._answer(lambda: self.worker.recommendations(user_id, k, rules))

    async def post_batch(self, read: Callable[[], Awaitable[bytes]]) -> Reply:
        """``POST /recommendations:batch``: the lists of up to 100 shoppers in one call."""
        try:
            body = await read()
        except BodyError as exc:
            return error(413 if exc.code == "oversize" else 400, exc.code, exc.message)
        request = parse_body(BatchRequest, body)
        if isinstance(request, tuple):
            return error(400, *request)
        if not self.worker.personalising:
            return NOT_PERSONALISING
        rules = ListFilter(request.category, frozenset(request.exclude), request.in_stock_only)
        k = request.k or self.settings.recommendations_k
        users = list(request.user_ids)
        return await self._answer(
            lambda: self._results(self.worker.recommendations_many(users, k, rules))
        )

    async def get_similar(self, item_id: str, query: Mapping[str, str]) -> Reply:
        """``GET /items/{id}/similar?k=``: co-visit and content neighbours, with reasons."""
        params = query_of(SimilarQuery, query)
        if isinstance(params, Reply):
            return params
        if not self.worker.personalising:
            return NOT_PERSONALISING
        try:
            items = await self.worker.similar_items(item_id, params.k)
        except KeyError:
            return error(404, "unknown_item", f"the catalogue holds no item {item_id[:200]!r}")
        except ServiceError as exc:
            return error(503, "unavailable", str(exc))
        return Reply(200, {"item_id": item_id, "items": items})

    async def get_search(self, query: Mapping[str, str]) -> Reply:
        """``GET /search?q=&user_id=&k=&category=&in_stock_only=&personalise=&record=``."""
        params = query_of(SearchQuery, query)
        if isinstance(params, Reply):
            return params
        if params.user_id is not None and (refused := user_id_error(params.user_id)):
            return refused
        if params.record and params.user_id is None:
            return error(400, "invalid_query", "record=true needs the shopper's user_id")
        if not self.worker.personalising:
            return NOT_PERSONALISING
        rules = ListFilter(params.category, frozenset(), params.in_stock_only)
        strength = params.personalise
        if strength is None:
            strength = self.settings.search_personalisation
        reply = await self._answer(
            lambda: self.worker.search(params.q, params.k, params.user_id, rules, strength)
        )
        if params.record and reply.status == 200 and reply.body is not None:
            reply.body["recorded"] = await self._record_search(params)
        return reply

    async def _record_search(self, params: SearchQuery) -> dict[str, Any]:
        """The search as the shopper's event on the searches topic, like ``POST /events``
        would send it (its event id drops a second copy)."""
        event: dict[str, Any] = {
            "event_id": params.event_id or f"search-{uuid.uuid4().hex}",
            "user_id": params.user_id,
            "ts": int(time.time() * 1000),
            "query": params.q,
            "session_id": params.session_id,
        }
        try:
            key, value, _ = self.worker.prepare_event(EventKind.SEARCH, event)
        except InvalidEventError as exc:
            return {"event_id": event["event_id"], "accepted": False, "error": exc.message}
        (result,) = await self.worker.send_events([(EventKind.SEARCH, key, value)])
        out = {"event_id": event["event_id"], "accepted": result is None}
        if result is not None:
            out["error"] = f"the search did not reach Kafka: {result!r}"
        return out

    @staticmethod
    async def _results(lists: Awaitable[list[dict[str, Any]]]) -> dict[str, Any]:
        return {"results": await lists}

    async def get_trends(self, query: Mapping[str, str], authorization: str | None = None) -> Reply:
        """``GET /trends?kind=&limit=``; intent shifts name shoppers: admin only."""
        params = query_of(TrendsQuery, query)
        if isinstance(params, Reply):
            return params
        if params.kind == SHOPPER_KIND and (refused := self.authorised(authorization)):
            return refused
        if not self.worker.trending:
            return error(503, "no_trends", "this worker runs without trends (PULSE_TRENDS=false)")
        return await self._answer(lambda: self.worker.trends(params.kind, params.limit))

    async def delete_user(self, user_id: str, authorization: str | None) -> Reply:
        """``DELETE /users/{id}`` (admin): forget the shopper; 202 with when it is complete."""
        if (refused := self.authorised(authorization) or user_id_error(user_id)) is not None:
            return refused
        if not self.worker.personalising:
            return NOT_PERSONALISING
        return await self._answer(lambda: self.worker.forget(user_id), status=202)

    async def get_user(self, user_id: str, authorization: str | None) -> Reply:
        """``GET /users/{id}`` (admin): what Pulse holds about the shopper."""
        if (refused := self.authorised(authorization) or user_id_error(user_id)) is not None:
            return refused
        if not self.worker.personalising:
            return NOT_PERSONALISING
        return await self._answer(lambda: self.worker.stored_about(user_id))

    async def _answer(
        self, call: Callable[[], Awaitable[dict[str, Any]]], status: int = 200
    ) -> Reply:
        try:
            return Reply(status, await call())
        except ServiceError as exc:
            return error(503, "unavailable", str(exc))

    async def get_health(self) -> Reply:
        """``GET /health``: 200 while Redis and Kafka answer and the worker processes, else 503."""
        body = await self.worker.health()
        return Reply(200 if body["status"] == "ok" else 503, body)

    def get_openapi(self) -> Reply:
        """``GET /openapi.json``: the document of this API."""
        return Reply(200, openapi.document())

    def get_metrics(self, authorization: str | None = None) -> Reply:
        """``GET /metrics`` in the Prometheus text format (admin only if so configured)."""
        if self.settings.metrics_admin_only and (refused := self.authorised(authorization)):
            return refused
        return Reply(200, text=self.worker.metrics.render(), content_type=PROMETHEUS)

    def _refused(self, reply: Reply) -> Reply:
        self._count_refused(str(reply.status))
        return reply

    def _count_refused(self, status: str) -> None:
        self.metrics.inc("pulse_http_requests_refused_total", "status", status)
