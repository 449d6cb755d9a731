"""The HTTP API of a worker, without the web framework: requests in, :class:`Reply` out.

``streams.views`` mounts these handlers on the Faust app; unit tests call them with a fake
worker. What the API needs of a worker is :class:`WorkerOps`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import BodyError, ServiceError
from core.events import Event, EventKind
from core.metrics import Metrics
from core.settings import Settings
from streams.http_batch import prepare_batch, split_body
from trends.tracker import KINDS

JSON = "application/json"
PROMETHEUS = "text/plain; version=0.0.4"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None
    text: str | None = None
    content_type: str = JSON


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

    async def recommendations(self, user_id: str, k: int) -> dict[str, Any]: ...

    async def trends(self, kind: str, limit: int) -> dict[str, Any]: ...

    async def health(self) -> dict[str, Any]: ...

    def metrics_text(self) -> str: ...


def error(status: int, code: str, message: str, **extra: Any) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}, **extra})


def count_param(query: Mapping[str, str], name: str, default: int) -> int | Reply:
    """An integer query parameter between 1 and 100, or the 400 reply that says what is wrong."""
    try:
        value = int(query.get(name, default))
    except ValueError:
        return error(400, "wrong_type", f"'{name}' must be an integer")
    if not 1 <= value <= 100:
        return error(400, "out_of_range", f"'{name}' must be between 1 and 100")
    return value


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

    async def get_recommendations(self, user_id: str, query: Mapping[str, str]) -> Reply:
        """``GET /users/{id}/recommendations?k=``."""
        k = count_param(query, "k", self.settings.recommendations_k)
        if isinstance(k, Reply):
            return k
        if not self.worker.personalising:
            return error(503, "not_personalising", "this worker runs with PULSE_PERSONALISE=false")
        try:
            return Reply(200, await self.worker.recommendations(user_id, k))
        except ServiceError as exc:
            return error(503, "redis_unavailable", str(exc))

    async def get_trends(self, query: Mapping[str, str]) -> Reply:
        """``GET /trends?kind=&limit=``."""
        kind = query.get("kind", "trending_item")
        if kind not in KINDS:
            return error(400, "bad_choice", f"'kind' must be one of {', '.join(KINDS)}")
        limit = count_param(query, "limit", 20)
        if isinstance(limit, Reply):
            return limit
        if not self.worker.trending:
            return error(503, "no_trends", "this worker runs without trends (PULSE_TRENDS=false)")
        try:
            return Reply(200, await self.worker.trends(kind, limit))
        except ServiceError as exc:
            return error(503, "redis_unavailable", str(exc))

    async def get_health(self) -> Reply:
        """``GET /health``: 200 while Redis and Kafka answer and the worker processes, else 503."""
        body = await self.worker.health()
        return Reply(200 if body["status"] == "ok" else 503, body)

    def get_metrics(self) -> Reply:
        """``GET /metrics`` in the Prometheus text format."""
        return Reply(200, text=self.worker.metrics_text(), content_type=PROMETHEUS)

    def _refused(self, reply: Reply) -> Reply:
        self._count_refused(str(reply.status))
        return reply

    def _count_refused(self, status: str) -> None:
        self.metrics.inc("pulse_http_requests_refused_total", "status", status)
