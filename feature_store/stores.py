"""What the personalisation pipeline reads, and the bundle of stores it runs on.

The read seams are Protocols; :func:`redis_stores` builds the real adapters around one Redis
client, ``feature_store.memory.memory_stores`` the in-memory fakes. Every write goes through
the bundle's one :class:`~feature_store.writes.BatchWriter`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from core.retry import Transient, never
from feature_store.bandit import BanditStore
from feature_store.clients import RedisClient
from feature_store.counts import RedisCountStore
from feature_store.covisit import CovisitStore
from feature_store.keys import Keys
from feature_store.offsets import RedisOffsets
from feature_store.repeats import RepeatStore
from feature_store.trend_signals import TrendSignalStore
from feature_store.users import UserStore
from feature_store.writes import BatchWriter, RedisBatchWriter, redis_transient
from ranking.state import UserState


class ShopperStore(Protocol):
    """``feature_store.users.UserStore`` (Redis) or ``feature_store.memory.MemoryUserStore``."""

    def clear_cache(self) -> None: ...

    def evict(self, user_id: str) -> None: ...

    async def erase(self, user_ids: Iterable[str]) -> None: ...

    async def stored(self, user_id: str) -> tuple[UserState | None, dict[str, Any] | None]: ...

    async def load(self, user_ids: Iterable[str]) -> dict[str, UserState]: ...

    async def recommendations(self, user_id: str) -> dict[str, Any] | None: ...

    async def recommendations_many(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...


class CovisitWeights(Protocol):
    """``feature_store.covisit.CovisitStore`` (Redis) or ``feature_store.memory`` fake."""

    async def neighbours(
        self, items: Iterable[str], n: int = 30
    ) -> dict[str, list[tuple[str, float]]]: ...


class RepeatRates(Protocol):
    """``feature_store.repeats.RepeatStore`` (Redis) or ``feature_store.memory`` fake."""

    async def rates(self, items: Iterable[str]) -> dict[str, float]: ...


class BanditTotals(Protocol):
    """``feature_store.bandit.BanditStore``: the exploration counts every worker shares."""

    async def due_totals(self) -> tuple[dict[str, float], dict[str, float]] | None: ...


class TrendSignals(Protocol):
    """``feature_store.trend_signals.TrendSignalStore``: every worker's latest signals."""

    async def latest(self, kind: str, limit: int) -> list[dict[str, Any]]: ...

    async def naming(self, user_id: str) -> list[dict[str, Any]]: ...

    async def scrub(self, user_ids: Collection[str]) -> int: ...


@dataclass(slots=True)
class Stores:
    """The stores of one personalisation pipeline: what it reads, and its one writer.

    Without ``repeats`` the history source ranks by decayed purchase occasions alone; without
    ``bandit`` each worker's exploration learns alone, from its start; without ``signals``
    trend signals are published but not kept for ``GET /trends``. ``transient`` says which
    errors are worth retrying a read on (a lost connection); none for in-memory stores.
    """

    users: ShopperStore
    covisit: CovisitWeights
    writer: BatchWriter
    repeats: RepeatRates | None = None
    bandit: BanditTotals | None = None
    signals: TrendSignals | None = None
    transient: Transient = never


def redis_stores(
    client: RedisClient,
    keys: Keys,
    dim: int,
    ttl_s: int,
    offsets: RedisOffsets | None = None,
    cluster: bool = False,
) -> Stores:
    """Every store in Redis, written with one transaction per batch (with the input offsets it
    applies, ``offsets``; on a Redis Cluster, ``cluster``, by slot: ``RedisBatchWriter``);
    shoppers expire after ``ttl_s`` seconds without an event."""
    users = UserStore(client, keys, dim, ttl_s=ttl_s, cluster=cluster)
    covisit = CovisitStore(client, keys, cluster=cluster)
    repeats = RepeatStore(client, keys)
    bandit = BanditStore(client, keys)
    signals = TrendSignalStore(client, keys)
    writer = RedisBatchWriter(
        client,
        RedisCountStore(client, keys),
        users,
        covisit,
        repeats,
        bandit,
        signals,
        offsets or RedisOffsets(client, keys),
        cluster=cluster,
    )
    return Stores(users, covisit, writer, repeats, bandit, signals, redis_transient)
