"""The models of the HTTP API's answers, for the OpenAPI document (``streams.openapi``); the
tests check every route's real answers against it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Reply):
    code: str = Field(description="Stable, for programs: what went wrong.")
    message: str = Field(description="For people: what went wrong and what to do.")


class ErrorReply(BaseModel):
    """An error; some carry more fields (``POST /events``: which events Kafka took)."""

    model_config = ConfigDict(extra="allow")
    error: ErrorDetail


class ListedItem(Reply):
    item_id: str
    score: float
    source: str = Field(description="The candidate source, or 'explore' for exploration slots.")
    reason: str = Field(description="Why the shopper sees the item, in words.")
    arm: str | None = Field(None, description="For 'explore': the source the slot went to.")


class RecommendationList(Reply):
    user_id: str
    items: list[ListedItem]
    rec_id: str | None = Field(description="Send it back with clicks on the list.")
    generated_at: int | None = Field(description="When the list was made (epoch ms).")
    cold_start: bool = Field(description="True: trending items, Pulse has not seen the shopper.")
    trigger_event_id: str | None = None
    event_ts: int | None = None
    ingested_at: int | None = None


class BatchReply(Reply):
    results: list[RecommendationList] = Field(description="One per user id, in request order.")


class SimilarReply(Reply):
    item_id: str
    items: list[ListedItem]


class SearchResult(Reply):
    item_id: str
    title: str | None
    score: float
    reason: str
    matched_by: list[Literal["words", "meaning"]]


class SearchReply(Reply):
    query: str
    user_id: str | None
    personalised: bool = Field(description="Whether the order is the shopper's own.")
    items: list[SearchResult]
    timings_ms: dict[str, float] = Field(
        description="Where the time went: encode (of it encode_queue, the wait for the query's "
        "batch, and encode_run, the batch's run; 0 from the cache), retrieve, shopper (reads), "
        "rank."
    )
    recorded: dict[str, Any] | None = Field(
        None, description="With record=true: the event id and whether Kafka took it."
    )


class Signal(Reply):
    kind: str
    subject: str = Field(description="The item, query, category or (intent shifts) shopper.")
    score: float
    window: dict[str, Any] | None
    ts: int
    details: dict[str, Any]


class TrendsReply(Reply):
    kind: str
    signals: list[Signal]
    profiles: list[dict[str, Any]] | None = Field(None, description="peak_time: next peaks.")
    towards: list[dict[str, Any]] | None = Field(
        None, description="intent_shift: categories shoppers move towards."
    )


class HealthReply(Reply):
    status: Literal["ok", "degraded", "halted"]
    redis: bool
    kafka: bool
    partitions: int
    trend_partitions: list[int] = Field(
        description="The observations topic's partitions whose trend subjects this worker owns."
    )
    ready: bool
    failing: dict[str, dict[str, Any]]
    tasks: dict[str, dict[str, Any]]
    halted: str | None


class EventsAccepted(Reply):
    accepted: int
    by_type: dict[str, int]
    event_ids: list[str | None]


class EventsRefused(Reply):
    accepted: Literal[0]
    errors: list[dict[str, Any]] = Field(description="Each refused event: index, code, message.")


class ForgetAccepted(Reply):
    user_id: str
    forgotten_at: int = Field(description="The deletion's time (epoch ms).")
    complete_by: int = Field(description="When every worker will have applied it (epoch ms).")
    events_forgotten: str = Field(description="Which of the shopper's events are forgotten.")


class Timed(Reply):
    item_id: str
    ts: int


class Purchase(Reply):
    item_id: str
    occasions: float
    last_ts: int


class Query(Reply):
    query: str
    ts: int


class ShopperState(Reply):
    events: int
    recent_items: list[Timed]
    categories: dict[str, float]
    purchases: list[Purchase]
    last_query: Query | None
    intent: str | None
    dismissed_items: list[Timed]
    short_term_interest_weight: float
    long_term_interest_weight: float
    event_ids_remembered: int


class StoredList(Reply):
    """A list as stored (what ``GET /users/{id}/recommendations`` serves, before rules)."""

    user_id: str
    items: list[ListedItem]
    rec_id: str | None
    generated_at: int | None
    trigger_event_id: str | None
    event_ts: int | None
    ingested_at: int | None


class ShopperData(Reply):
    user_id: str
    state: ShopperState | None
    recommendations: StoredList | None
    signals: list[Signal]
    forgotten_at: int | None = Field(description="When the shopper was forgotten, if they were.")


class Index(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str
