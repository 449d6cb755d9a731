"""The OpenAPI document: valid (openapi-spec-validator), covering every route the worker
serves with the parameters its models validate, and the API's own answers (errors, the
document itself) conforming to it. Real workers' answers: tests/integration/test_openapi.py."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from core.settings import Settings
from streams.api import Api
from streams.app import create_app
from streams.openapi import ROUTES, document
from tests.conformance import conforms
from tests.unit.test_api import TOKEN, FakeWorker

RIGHT = f"Bearer {TOKEN}"


def test_the_document_is_valid_openapi() -> None:
    doc = document()
    validate(doc)  # raises on any violation of the OpenAPI 3.1 specification
    assert doc["openapi"] == "3.1.0"


def test_every_route_the_worker_serves_is_documented_and_nothing_else() -> None:
    app, _worker = create_app(Settings(dev=True))
    served = {
        (method, re.sub(r"{(\w+):[^}]*}", r"{\1}", path))
        for path, view in app.web.views.items()
        for method in ("get", "post", "delete", "put", "patch")
        if method in type(view).__dict__
    }
    documented = {(m, p) for p, ops in document()["paths"].items() for m in ops}
    # "/" is Faust's own liveness page, documented as served.
    assert documented - served == {("get", "/")}
    assert served <= documented


def test_query_parameters_are_those_the_models_validate() -> None:
    doc = document()
    for route in ROUTES:
        params = doc["paths"][route.path][route.method]["parameters"]
        in_query = {p["name"] for p in params if p["in"] == "query"}
        assert in_query == set(route.query.model_fields if route.query else ()), route.path


async def test_the_apis_own_answers_conform() -> None:
    api = Api(FakeWorker())
    checks = [
        ("get", "/users/u1/recommendations", await api.get_recommendations("u1", {"k": "0"})),
        ("get", "/users/u1/recommendations", await api.get_recommendations("u1", {"x": "1"})),
        ("get", "/trends", await api.get_trends({"kind": "nope"})),
        ("get", "/trends", await api.get_trends({"kind": "intent_shift"})),
        ("get", "/trends", await api.get_trends({"kind": "intent_shift"}, "Bearer no")),
        ("delete", "/users/u1", await api.delete_user("u1", None)),
        ("delete", "/users/u1", await api.delete_user("u1", "Bearer no")),
        ("get", "/users/u1", await api.get_user("u1", None)),
        ("get", "/users/" + "x" * 129, await api.get_user("x" * 129, RIGHT)),
        ("get", "/items/zz/similar", await api.get_similar("zz", {})),
        ("get", "/items/i1/similar", await api.get_similar("i1", {"k": "many"})),
        ("post", "/recommendations:batch", await api.post_batch(_body(b"{}"))),
        ("post", "/recommendations:batch", await api.post_batch(_body(b"[1]"))),
        ("get", "/openapi.json", api.get_openapi()),
    ]
    for method, path, reply in checks:
        conforms(method, path, reply.status, reply.body)
    off = Api(FakeWorker(personalising=False))
    conforms("get", "/items/i1/similar", 503, (await off.get_similar("i1", {})).body)


def _body(data: bytes):  # type: ignore[no-untyped-def]
    async def read() -> bytes:
        return data

    return read
