"""The store seams the personalisation step talks to: Redis adapters and in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from feature_store.user_state import UserState


class ShopperStore(Protocol):
    """``feature_store.users.UserStore`` (Redis) or ``feature_store.memory.MemoryUserStore``."""

    def clear_cache(self) -> None: ...

    async def load(self, user_ids: Iterable[str]) -> dict[str, UserState]: ...

    def write(self, pipe: Any, states: dict[str, UserState]) -> None: ...

    def remember(self, states: dict[str, UserState]) -> None: ...

    def write_recommendations(self, pipe: Any, user_id: str, message: dict[str, Any]) -> None: ...

    async def recommendations(self, user_id: str) -> dict[str, Any] | None: ...

    async def recommendations_many(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...


class CovisitWeights(Protocol):
    """``feature_store.covisit.CovisitStore`` (Redis) or ``feature_store.memory`` fake."""

    async def neighbours(
        self, items: Iterable[str], n: int = 30
    ) -> dict[str, list[tuple[str, float]]]: ...

    def add(self, pipe: Any, pairs: dict[tuple[str, str], float]) -> None: ...


class RepeatRates(Protocol):
    """``feature_store.repeats.RepeatStore`` (Redis) or ``feature_store.memory`` fake."""

    async def rates(self, items: Iterable[str]) -> dict[str, float]: ...

    def add(self, pipe: Any, increments: dict[str, tuple[int, int]]) -> None: ...

    def remember(self, increments: dict[str, tuple[int, int]]) -> None: ...
