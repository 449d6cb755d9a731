"""The models of the HTTP API's queries: each request's parameters are validated by them, and
the OpenAPI document is generated from them (one source of truth)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.forget import MAX_USER_ID

M = TypeVar("M", bound=BaseModel)
MAX_EXCLUDE = 100


class Query(BaseModel):
    """Parameters of a query string: strings in, typed values out; unknown ones refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RecommendationsQuery(Query):
    k: int | None = Field(
        None, ge=1, le=100, description="How many items (default PULSE_RECOMMENDATIONS_K)."
    )
    category: str | None = Field(
        None,
        min_length=1,
        max_length=300,
        description="Only items of this category or one below it ('Home > Kitchen').",
    )
    exclude: str | None = Field(
        None,
        max_length=MAX_EXCLUDE * (MAX_USER_ID + 1),
        description=f"Comma-separated item ids to leave out (at most {MAX_EXCLUDE}).",
    )
    in_stock_only: bool = Field(
        True, description="Leave out items out of stock now (removed items never come)."
    )

    @field_validator("exclude")
    @classmethod
    def _few_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value.split(",")) > MAX_EXCLUDE:
            raise ValueError(f"at most {MAX_EXCLUDE} item ids")
        return value

    @property
    def excluded(self) -> frozenset[str]:
        return frozenset(i.strip() for i in (self.exclude or "").split(",") if i.strip())


TREND_KINDS = Literal[
    "trending_item", "trending_query", "trending_category", "peak_time", "intent_shift"
]


class TrendsQuery(Query):
    kind: TREND_KINDS = Field("trending_item", description="Which trend signals.")
    limit: int = Field(20, ge=1, le=100, description="How many signals.")


class NoQuery(Query):
    """A route without parameters."""


# Pydantic's error types -> the API's error codes (those of the event contract where they fit).
_CODES = {
    "extra_forbidden": "unknown_parameter",
    "literal_error": "bad_choice",
    "int_parsing": "wrong_type",
    "int_from_float": "wrong_type",
    "bool_parsing": "wrong_type",
    "string_type": "wrong_type",
}


def parse_query(model: type[M], query: Mapping[str, str]) -> M | tuple[str, str]:
    """The query as ``model``, or the code and the reason it is refused (for the 400)."""
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        code = _CODES.get(errors[0]["type"], "out_of_range")
        return code, "; ".join(_reason(e) for e in errors)


def _reason(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "query"
    if error["type"] == "extra_forbidden":
        return f"unknown parameter {where!r}"
    return f"{where!r}: {error['msg']}"
