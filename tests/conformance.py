"""Checks an answer of the HTTP API against its OpenAPI document: the status is documented for
the route and the body validates against the schema (a real validator: openapi-schema-validator
for OpenAPI 3.1)."""

from __future__ import annotations

import re
from typing import Any

from openapi_schema_validator import OAS31Validator

from streams.openapi import document


def operation(method: str, path: str) -> dict[str, Any]:
    """The documented operation that serves ``path`` (a concrete path, as requested)."""
    doc = document()
    for template, ops in doc["paths"].items():
        pattern = "^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path.split("?")[0]) and method.lower() in ops:
            return ops[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def conforms(
    method: str, path: str, status: int, body: Any, media: str = "application/json"
) -> None:
    """Raise AssertionError unless the answer is one the document describes."""
    op = operation(method, path)
    answers = op["responses"]
    assert str(status) in answers, f"{method} {path} answered {status}, not documented: {body}"
    content = answers[str(status)]["content"]
    assert media in content, f"{method} {path} {status}: {media} is not documented"
    schema = {**content[media]["schema"], "components": document()["components"]}
    errors = sorted(OAS31Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method} {path} {status}: {errors[0].message} in {body}"
