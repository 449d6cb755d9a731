"""HTTP routes of a worker on the Faust app: each hands its request to ``streams.api``."""

from __future__ import annotations

import zlib
from typing import Any, cast

import faust
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import HTTPRequestEntityTooLarge
from aiohttp.web_protocol import RequestPayloadError
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
                except (RequestPayloadError, HttpProcessingError, zlib.error, ValueError) as exc:
                    # The body cannot be read (a Content-Encoding it does not have): answer 400,
                    # and let the server close the connection rather than drain the body again.
                    cast(Any, request).content.feed_eof()  # aiohttp's request under Faust
                    encoding = request.headers.get("Content-Encoding", "none")
                    raise BodyError(
                        "bad_encoding",
                        f"the body could not be decoded as Content-Encoding {encoding[:40]!r}: "
                        f"{exc}"[:300],
                    ) from exc

            declared = request.headers.get("Content-Length", "")
            reply = await api.post_events(declared, read)
            response = _respond(self, reply)
            if reply.status in (400, 413):
                cast(Any, response).force_close()
            return response

    # Any user id but a slash (aiohttp's default pattern leaves out braces, which ids may hold).
    @app.page("/users/{user_id:[^/]+}/recommendations")
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
