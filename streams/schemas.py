"""The models of the HTTP API's queries: each request's parameters are validated by them, and
the OpenAPI document is generated from them (one source of truth)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

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


class SimilarQuery(Query):
    k: int = Field(10, ge=1, le=100, description="How many items.")


class SearchQuery(Query):
    q: str = Field(
        min_length=1, max_length=512, description="What the shopper typed (1 to 512 characters)."
    )
    user_id: str | None = Field(
        None, min_length=1, max_length=MAX_USER_ID, description="Order the results for them."
    )
    k: int = Field(10, ge=1, le=100, description="How many items.")
    category: str | None = Field(
        None, min_length=1, max_length=300, description="Only items of this category or below."
    )
    in_stock_only: bool = Field(
        True,
        description="Leave out items out of stock now (found by meaning they never come; removed "
        "items never come).",
    )
    personalise: float | None = Field(
        None,
        ge=0,
        le=4,
        description="Strength of the shopper's influence (default PULSE_SEARCH_PERSONALISATION; "
        "0: the same order for everyone).",
    )
    record: bool = Field(
        False, description="Also send the search as the shopper's event (needs user_id)."
    )
    event_id: str | None = Field(
        None, min_length=1, max_length=64, description="The recorded event's id (default: new)."
    )
    session_id: str | None = Field(None, min_length=1, max_length=128)

    @field_validator("q")
    @classmethod
    def _words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank")
        return value


MAX_BATCH_USERS = 100


class BatchRequest(BaseModel):
    """The body of ``POST /recommendations:batch``: the lists of many shoppers at once, under
    the same rules as ``GET /users/{id}/recommendations``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    user_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_USER_ID)]] = Field(
        ..., min_length=1, max_length=MAX_BATCH_USERS
    )
    k: int | None = Field(None, ge=1, le=100)
    category: str | None = Field(None, min_length=1, max_length=300)
    exclude: list[Annotated[str, Field(min_length=1, max_length=MAX_USER_ID)]] = Field(
        default_factory=list, max_length=MAX_EXCLUDE
    )
    in_stock_only: bool = True


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
    "int_type": "wrong_type",
    "bool_type": "wrong_type",
    "list_type": "wrong_type",
    "json_invalid": "not_json",
    "model_type": "not_object",
    "missing": "missing_field",
}


def parse_query(model: type[M], query: Mapping[str, str]) -> M | tuple[str, str]:
    """The query as ``model``, or the code and the reason it is refused (for the 400)."""
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        return _refusal(exc, "query", "parameter")


def parse_body(model: type[M], body: bytes) -> M | tuple[str, str]:
    """A JSON body as ``model``, or the code and the reason it is refused (for the 400)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        return _refusal(exc, "body", "field")


def _refusal(exc: ValidationError, root: str, part: str) -> tuple[str, str]:
    errors = exc.errors(include_url=False)
    code = _CODES.get(errors[0]["type"], "out_of_range")
    return code, "; ".join(_reason(e, root, part) for e in errors)[:2000]


def _reason(error: Any, root: str, part: str) -> str:
    where = ".".join(str(step) for step in error["loc"]) or root
    if error["type"] == "extra_forbidden":
        return f"unknown {part} {where!r}"
    return f"{where!r}: {error['msg']}"
