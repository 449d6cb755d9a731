"""Typed records of the event contract (design §3), produced by ``core.validation``.

Times are normalised to integer epoch milliseconds (``ts_ms``). Fields the contract does not
name are kept in ``extra`` and otherwise ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeGuard


class EventKind(StrEnum):
    """The five kinds of input, each with a topic of its own."""

    CLICK = "click"
    SEARCH = "search"
    PURCHASE = "purchase"
    REVIEW = "review"
    CATALOG = "catalog"


ClickAction = Literal["view", "click", "add_to_cart", "dismiss"]


@dataclass(frozen=True, slots=True)
class Click:
    event_id: str
    user_id: str
    ts_ms: int
    item_id: str
    action: ClickAction = "click"
    session_id: str | None = None
    rec_id: str | None = None
    position: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Search:
    event_id: str
    user_id: str
    ts_ms: int
    query: str
    session_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Purchase:
    event_id: str
    user_id: str
    ts_ms: int
    item_id: str
    quantity: int
    price: float
    order_id: str | None = None
    currency: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Review:
    event_id: str
    user_id: str
    ts_ms: int
    item_id: str
    rating: int
    text: str
    title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class CatalogItem:
    item_id: str
    title: str
    description: str | None = None
    category: str | None = None
    price: float | None = None
    in_stock: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def category_path(self) -> tuple[str, ...]:
        """``"Home > Kitchen"`` as ``("Home", "Kitchen")``; empty when there is no category."""
        if not self.category:
            return ()
        return tuple(part.strip() for part in self.category.split(">") if part.strip())


@dataclass(frozen=True, slots=True)
class CatalogRemoval:
    """A tombstone on the catalogue topic: the item is gone."""

    item_id: str


UserEvent = Click | Search | Purchase | Review
CatalogEvent = CatalogItem | CatalogRemoval
Event = UserEvent | CatalogEvent


def partition_key(event: Event) -> str:
    """What a message is keyed by: the shopper for user events, the item for the catalogue."""
    if isinstance(event, CatalogItem | CatalogRemoval):
        return event.item_id
    return event.user_id


def chosen(event: UserEvent) -> TypeGuard[Click | Purchase]:
    """A click or purchase that chose its item (a dismissal waves it away)."""
    return isinstance(event, Purchase) or (isinstance(event, Click) and event.action != "dismiss")
