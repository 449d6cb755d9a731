"""HTTP routes of a worker on the Faust app: each hands its request to ``streams.api``."""

from __future__ import annotations

import faust
from aiohttp.web import HTTPRequestEntityTooLarge
from faust.web import Request, Response, View

from core.errors import BodyError
from streams.api import Api, Reply


def _respond(view: View, reply: Reply) -> Response:
    if reply.text is not None:
        return view.text(reply.text, content_type=reply.content_type, status=reply.status)
    return view.json(reply.body, status=reply.status)


def register(app: faust.App, api: Api) -> None:
    @app.page("/events")
    class Events(View):
        async def post(self, request: Request) -> Response:
            async def read() -> bytes:
                try:
                    return await request.read()
                except HTTPRequestEntityTooLarge as exc:
                    raise BodyError("oversize", "request body is too large") from exc

            declared = request.headers.get("Content-Length", "")
            return _respond(self, await api.post_events(declared, read))

    @app.page("/users/{user_id}/recommendations")
    class UserRecommendations(View):
        async def get(self, request: Request, user_id: str) -> Response:
            return _respond(self, await api.get_recommendations(user_id, request.query))

    @app.page("/trends")
    class Trends(View):
        async def get(self, request: Request) -> Response:
            return _respond(self, await api.get_trends(request.query))

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return _respond(self, await api.get_health())

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return _respond(self, api.get_metrics())
