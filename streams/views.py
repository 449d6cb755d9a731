"""HTTP routes of a worker on the Faust app: each hands its request to ``streams.api``."""

from __future__ import annotations

import zlib
from typing import Any, cast

import faust
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import HTTPRequestEntityTooLarge
from aiohttp.web_protocol import RequestPayloadError
from faust.web import Request, Response, View

from core.errors import BodyError
from streams.api import Api, Reply


@web.middleware
async def unread_bodies_close(request: web.Request, handler: Any) -> web.StreamResponse:
    """A route that does not read a request's body (a 404, a 405, a GET with a body) must not
    leave aiohttp to drain it afterwards: a body that cannot be decoded (a Content-Encoding it
    does not have) would break the connection before the client reads the answer. The unread
    body is dropped and the connection closed after the answer instead."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        _drop_unread_body(request, exc)
        raise
    _drop_unread_body(request, response)
    return response


def _drop_unread_body(request: web.Request, response: web.StreamResponse) -> None:
    if request.body_exists and not request.content.is_eof():
        request.content.feed_eof()
        response.force_close()


def _respond(view: View, reply: Reply) -> Response:
    if reply.text is not None:
        return view.text(
            reply.text, content_type=reply.content_type, status=reply.status, headers=reply.headers
        )
    return view.json(reply.body, status=reply.status, headers=reply.headers)


def _respond_to_body(view: View, reply: Reply) -> Response:
    """The answer to a request with a body: a refused body (400, 413) closes the connection,
    so aiohttp does not go on reading what is left of it."""
    response = _respond(view, reply)
    if reply.status in (400, 413):
        cast(Any, response).force_close()
    return response


async def _read(request: Request) -> bytes:
    """The request's body; BodyError when it is over the limit or cannot be decoded."""
    try:
        return await request.read()
    except HTTPRequestEntityTooLarge as exc:
        raise BodyError("oversize", "request body is too large") from exc
    except (RequestPayloadError, HttpProcessingError, zlib.error, ValueError) as exc:
        # The body cannot be read (a Content-Encoding it does not have): answer 400, and let
        # the server close the connection rather than drain the body again.
        cast(Any, request).content.feed_eof()  # aiohttp's request under Faust
        encoding = request.headers.get("Content-Encoding", "none")
        raise BodyError(
            "bad_encoding",
            f"the body could not be decoded as Content-Encoding {encoding[:40]!r}: {exc}"[:300],
        ) from exc


def _token(request: Request) -> str | None:
    return request.headers.get("Authorization")


def register(app: faust.App, api: Api) -> None:
    @app.page("/events")
    class Events(View):
        async def post(self, request: Request) -> Response:
            declared = request.headers.get("Content-Length", "")
            return _respond_to_body(self, await api.post_events(declared, lambda: _read(request)))

    # Any user id but a slash (aiohttp's default pattern leaves out braces, which ids may hold).
    @app.page("/users/{user_id:[^/]+}/recommendations")
    class UserRecommendations(View):
        async def get(self, request: Request, user_id: str) -> Response:
            return _respond(self, await api.get_recommendations(user_id, request.query))

    @app.page("/users/{user_id:[^/]+}")
    class User(View):
        async def get(self, request: Request, user_id: str) -> Response:
            return _respond(self, await api.get_user(user_id, _token(request)))

        async def delete(self, request: Request, user_id: str) -> Response:
            return _respond(self, await api.delete_user(user_id, _token(request)))

    @app.page("/recommendations:batch")
    class Batch(View):
        async def post(self, request: Request) -> Response:
            return _respond_to_body(self, await api.post_batch(lambda: _read(request)))

    @app.page("/items/{item_id:[^/]+}/similar")
    class Similar(View):
        async def get(self, request: Request, item_id: str) -> Response:
            return _respond(self, await api.get_similar(item_id, request.query))

    @app.page("/search")
    class Search(View):
        async def get(self, request: Request) -> Response:
            return _respond(self, await api.get_search(request.query))

    @app.page("/trends")
    class Trends(View):
        async def get(self, request: Request) -> Response:
            return _respond(self, await api.get_trends(request.query, _token(request)))

    @app.page("/openapi.json")
    class OpenApi(View):
        async def get(self, request: Request) -> Response:
            return _respond(self, api.get_openapi())

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return _respond(self, await api.get_health())

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return _respond(self, api.get_metrics(_token(request)))
