"""HTTP views of a worker: ingest, recommendations, trends, health and metrics."""

from __future__ import annotations

from typing import Any

import faust
from aiohttp.web import HTTPRequestEntityTooLarge
from faust.web import Request, Response, View
from redis.exceptions import RedisError

from streams.errors import ServiceError
from streams.http_batch import BodyError, prepare_batch, split_body
from streams.runtime import Runtime
from trends.tracker import KINDS


def _error(view: View, status: int, code: str, message: str, **extra: Any) -> Response:
    return view.json({"error": {"code": code, "message": message}, **extra}, status=status)


def register(app: faust.App, runtime: Runtime) -> None:
    settings = runtime.settings
    metrics = runtime.metrics
    metrics.describe("pulse_http_events_accepted_total", "Events accepted by POST /events.")
    metrics.describe("pulse_http_requests_refused_total", "POST /events requests refused.")

    @app.page("/events")
    class Events(View):
        async def post(self, request: Request) -> Response:
            limit = settings.http_max_body_bytes
            declared = request.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                metrics.inc("pulse_http_requests_refused_total", "status", "413")
                return _error(self, 413, "oversize", f"request body exceeds {limit} bytes")
            try:
                body = await request.read()
            except HTTPRequestEntityTooLarge:
                metrics.inc("pulse_http_requests_refused_total", "status", "413")
                return _error(self, 413, "oversize", f"request body exceeds {limit} bytes")
            try:
                events = split_body(body, settings.http_max_batch_events)
            except BodyError as exc:
                metrics.inc("pulse_http_requests_refused_total", "status", "400")
                status = 413 if exc.code == "oversize" else 400
                return _error(self, status, exc.code, exc.message, accepted=0)
            batch = prepare_batch(events, runtime.producer.prepare)
            if batch.errors:
                metrics.inc("pulse_http_requests_refused_total", "status", "400")
                return self.json({"accepted": 0, "errors": batch.errors}, status=400)
            try:
                await runtime.producer.send_and_wait(batch.messages)
            except ServiceError as exc:
                metrics.inc("pulse_http_requests_refused_total", "status", "503")
                return _error(self, 503, "kafka_unavailable", str(exc), accepted=0)
            metrics.inc("pulse_http_events_accepted_total", n=len(batch.messages))
            return self.json(
                {
                    "accepted": len(batch.messages),
                    "by_type": batch.by_type,
                    "event_ids": [getattr(r, "event_id", None) for r in batch.records],
                },
                status=202,
            )

    @app.page("/users/{user_id}/recommendations")
    class UserRecommendations(View):
        async def get(self, request: Request, user_id: str) -> Response:
            try:
                k = int(request.query.get("k", settings.recommendations_k))
            except ValueError:
                return _error(self, 400, "wrong_type", "'k' must be an integer")
            if not 1 <= k <= 100:
                return _error(self, 400, "out_of_range", "'k' must be between 1 and 100")
            personaliser = runtime.ingest.personaliser
            if personaliser is None:
                return _error(
                    self, 503, "not_personalising", "this worker runs with PULSE_PERSONALISE=false"
                )
            try:
                stored = await personaliser.users.recommendations(user_id)
            except (RedisError, OSError) as exc:
                return _error(self, 503, "redis_unavailable", str(exc))
            if stored is None:
                return self.json(
                    {
                        "user_id": user_id,
                        "items": personaliser.cold_start(k),
                        "rec_id": None,
                        "generated_at": None,
                        "cold_start": True,
                    }
                )
            items = stored["items"][:k]
            return self.json({**stored, "items": items, "cold_start": False})

    @app.page("/trends")
    class Trends(View):
        async def get(self, request: Request) -> Response:
            kind = request.query.get("kind", "trending_item")
            if kind not in KINDS:
                return _error(self, 400, "bad_choice", f"'kind' must be one of {', '.join(KINDS)}")
            try:
                limit = int(request.query.get("limit", 20))
            except ValueError:
                return _error(self, 400, "wrong_type", "'limit' must be an integer")
            if not 1 <= limit <= 100:
                return _error(self, 400, "out_of_range", "'limit' must be between 1 and 100")
            personaliser = runtime.ingest.personaliser
            tracker = personaliser.trends if personaliser is not None else None
            if tracker is None:
                return _error(
                    self, 503, "no_trends", "this worker runs without trends (PULSE_TRENDS=false)"
                )
            summary = tracker.summary(kind, limit)
            if personaliser is not None and personaliser.signals is not None:
                try:  # every worker's signals, not only this one's
                    summary["signals"] = await personaliser.signals.latest(kind, limit)
                except (RedisError, OSError) as exc:
                    return _error(self, 503, "redis_unavailable", str(exc))
            return self.json(summary)

    inputs = set(runtime.topics.inputs)

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            try:
                await runtime.ingest.redis.ping()
                redis_ok = True
            except (RedisError, OSError):
                redis_ok = False
            body = {
                "status": "ok" if redis_ok else "degraded",
                "redis": redis_ok,
                # Input partitions this worker consumes now (0 until the group has assigned it).
                "partitions": sum(tp.topic in inputs for tp in app.consumer.assignment()),
                # The catalogue is loaded and encoded: events are being processed.
                "ready": runtime.ingest.is_ready,
            }
            return self.json(body, status=200 if redis_ok else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.text(metrics.render(), content_type="text/plain; version=0.0.4")
