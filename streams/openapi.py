"""The OpenAPI 3.1 document of a worker's HTTP API (``GET /openapi.json``), generated from the
models that validate the requests (``streams.schemas``) and describe the answers
(``streams.replies``), and one table of the routes. ``POST /events`` bodies are validated by
the event contract (``core.validation``); the document gives their shape and kinds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from core.events import EventKind
from core.forget import MAX_USER_ID
from streams import replies, schemas

# A model, models one of which answers, or a media type (its body not described further).
Answer = type[BaseModel] | tuple[type[BaseModel], ...] | str


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    answers: dict[int, Answer]
    query: type[schemas.Query] | None = None
    body: type[BaseModel] | None = None
    # A body validated elsewhere than by a model (the event contract): its schema as written.
    body_schema: dict[str, Any] | None = None
    admin: bool = False
    # The admin token is needed for some queries only (said in the description).
    admin_sometimes: bool = False
    description: str = ""
    tags: tuple[str, ...] = field(default=())


EVENT = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": [k.value for k in EventKind]},
        "user_id": {"type": "string", "minLength": 1, "maxLength": MAX_USER_ID},
    },
    "additionalProperties": True,
    "description": "An event of the contract (README: event contract); its fields by type.",
}

E = replies.ErrorReply
ROUTES = (
    Route(
        "post",
        "/events",
        "Send events (one object or an array of up to PULSE_HTTP_MAX_BATCH_EVENTS)",
        {202: replies.EventsAccepted, 400: (replies.EventsRefused, E), 413: E, 503: E},
        body_schema={"oneOf": [EVENT, {"type": "array", "items": EVENT, "minItems": 1}]},
        description="Every event is checked against the contract first: one bad event refuses "
        "the whole request (400, each refusal with its index, code and message). 503: some "
        "did not reach Kafka (the answer says which; resend those with the same event ids).",
        tags=("events",),
    ),
    Route(
        "get",
        "/users/{user_id}/recommendations",
        "A shopper's list, with request-time filters",
        {200: replies.RecommendationList, 400: E, 503: E},
        query=schemas.RecommendationsQuery,
        tags=("recommendations",),
    ),
    Route(
        "post",
        "/recommendations:batch",
        f"The lists of up to {schemas.MAX_BATCH_USERS} shoppers in one call",
        {200: replies.BatchReply, 400: E, 413: E, 503: E},
        body=schemas.BatchRequest,
        tags=("recommendations",),
    ),
    Route(
        "get",
        "/items/{item_id}/similar",
        "Items like this one: co-visit and content neighbours, with reasons",
        {200: replies.SimilarReply, 400: E, 404: E, 503: E},
        query=schemas.SimilarQuery,
        tags=("recommendations",),
    ),
    Route(
        "get",
        "/search",
        "Products for a query, ordered for the shopper, with reasons",
        {200: replies.SearchReply, 400: E, 503: E},
        query=schemas.SearchQuery,
        description="Matches by words (BM25) and by meaning (the query's vector) fused by "
        "reciprocal rank, then ordered by what Pulse knows of user_id. record=true also sends "
        "the search as the shopper's event (the answer's 'recorded' says whether Kafka took it).",
        tags=("search",),
    ),
    Route(
        "get",
        "/trends",
        "Trend signals of one kind, with the learned picture",
        {200: replies.TrendsReply, 400: E, 401: E, 403: E, 503: E},
        query=schemas.TrendsQuery,
        admin_sometimes=True,
        description="kind=intent_shift names shoppers: it needs the admin token.",
        tags=("trends",),
    ),
    Route(
        "delete",
        "/users/{user_id}",
        "Forget a shopper",
        {202: replies.ForgetAccepted, 400: E, 401: E, 403: E, 503: E},
        admin=True,
        description="Erases what Pulse holds about the shopper (state, list, signals naming "
        "them) on every worker; their events that happened at or before the deletion are "
        "dropped wherever they still are, later ones start a new profile.",
        tags=("privacy",),
    ),
    Route(
        "get",
        "/users/{user_id}",
        "What Pulse holds about a shopper (data access request)",
        {200: replies.ShopperData, 400: E, 401: E, 403: E, 503: E},
        admin=True,
        tags=("privacy",),
    ),
    Route(
        "get",
        "/health",
        "Whether Redis and Kafka answer and the worker processes",
        {200: replies.HealthReply, 503: replies.HealthReply},
        tags=("operations",),
    ),
    Route(
        "get",
        "/metrics",
        "Prometheus metrics (admin only with PULSE_METRICS_ADMIN_ONLY)",
        {200: "text/plain", 401: E, 403: E},
        admin_sometimes=True,
        tags=("operations",),
    ),
    Route("get", "/openapi.json", "This document", {200: "application/json"}, tags=("operations",)),
    Route("get", "/", "Liveness of the web server", {200: replies.Index}, tags=("operations",)),
)


@cache
def document() -> dict[str, Any]:
    models = {r.body for r in ROUTES if r.body is not None}
    for route in ROUTES:
        for answer in route.answers.values():
            if not isinstance(answer, str):
                models |= set(answer if isinstance(answer, tuple) else (answer,))
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    ref = {m: refs[(m, "validation")] for m in ordered}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = _operation(route, ref)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pulse",
            "version": "1",
            "description": "Streaming personalisation for web shops: one worker's HTTP API.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(route: Route, ref: dict[type[BaseModel], Any]) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema()
        for name, prop in schema["properties"].items():
            prop = dict(prop)
            description = prop.pop("description", None)
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", ()),
                    "schema": prop,
                    **({"description": description} if description else {}),
                }
            )
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.method + "_".join(["", *re.findall(r"[a-z]+", route.path)]),
        "tags": list(route.tags),
        "parameters": params,
        "responses": {
            str(status): _answer(status, answer, ref) for status, answer in route.answers.items()
        },
    }
    if route.description:
        op["description"] = route.description
    if route.admin:
        op["security"] = [{"admin": []}]
    elif route.admin_sometimes:
        op["security"] = [{}, {"admin": []}]
    body = ref[route.body] if route.body is not None else route.body_schema
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _answer(status: int, answer: Answer, ref: dict[type[BaseModel], Any]) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    if isinstance(answer, str):
        text = {"type": "string" if answer.startswith("text/") else "object"}
        return {"description": phrase, "content": {answer: {"schema": text}}}
    models = answer if isinstance(answer, tuple) else (answer,)
    each = [ref[m] for m in models]
    schema: dict[str, Any] = each[0] if len(each) == 1 else {"anyOf": each}
    return {
        "description": phrase,
        "content": {"application/json": {"schema": schema}},
    }
