"""Shopper state in Redis, with a write-through cache of the shoppers this worker owns.

One shopper's events all land on one partition, so one worker owns a shopper at a time and may
keep the state in memory; every write goes to Redis in the batch's pipeline. The cache is
cleared when partitions are reassigned.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson

from feature_store.clients import Pipeline, RedisClient
from feature_store.keys import Keys
from feature_store.state_codec import decode, encode
from ranking.state import UserState

# SET each key to its value with the same expiry (the last argument), in one atomic step.
SET_EACH = "for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i], 'EX', ARGV[#ARGV]) end"


class UserStore:
    """On one Redis (not ``cluster``) a batch's states are read with one MGET and its states and
    lists written with one script call: one reply each instead of one per shopper (each reply
    costs the worker's event loop a read with its timeout). A Redis Cluster spreads shoppers
    over slots, which one command cannot span: there each shopper's keys go in a command of
    their own, all in one pipeline."""

    def __init__(
        self,
        client: RedisClient,
        keys: Keys,
        dim: int,
        ttl_s: int,
        cache_size: int = 200_000,
        cluster: bool = False,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.keys = keys
        self.dim = dim
        self.ttl_s = ttl_s
        self.cache_size = cache_size
        # Each owned shopper's state exactly as written to Redis (packed: a third of the memory
        # of a decoded state, and decoded only if the shopper comes back).
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._written: dict[str, bytes] = {}

    def clear_cache(self) -> None:
        self._cache.clear()

    def evict(self, user_id: str) -> None:
        """The shopper is forgotten: nothing of theirs stays in this worker's cache."""
        self._cache.pop(user_id, None)
        self._written.pop(user_id, None)

    async def erase(self, user_ids: Iterable[str]) -> None:
        """Delete every key of the shoppers, in one round trip (one DEL per shopper: a
        shopper's keys share a slot, so each is atomic on a Cluster too)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for uid in user_ids:
                pipe.delete(*self.keys.shopper(uid))
            await pipe.execute()

    async def stored(self, user_id: str) -> tuple[UserState | None, dict[str, Any] | None]:
        """The shopper's state and list as Redis holds them now (None where there is none)."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.user(user_id))
            pipe.get(self.keys.recommendations(user_id))
            blob, packed = await pipe.execute()
        return (decode(blob) if blob else None, unpack_list(packed) if packed else None)

    async def load(self, user_ids: Iterable[str]) -> dict[str, UserState]:
        """States of ``user_ids``: from the cache, else Redis (one pipeline), else new."""
        out: dict[str, UserState] = {}
        missing: list[str] = []
        for uid in user_ids:
            packed = self._cache.get(uid)
            if packed is None:
                missing.append(uid)
            else:
                out[uid] = decode(packed)
        if missing:
            blobs = await self._get_each([self.keys.user(uid) for uid in missing])
            for uid, blob in zip(missing, blobs, strict=True):
                out[uid] = decode(blob) if blob else UserState.new(self.dim)
        return out

    async def _get_each(self, keys: list[str]) -> list[Any]:
        if not self.cluster:
            return list(await self.client.mget(keys))
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            return list(await pipe.execute())

    def write(
        self,
        pipe: Pipeline,
        states: dict[str, UserState],
        messages: Iterable[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        """Queue the states' and lists' writes on ``pipe``, one script call for all (one Redis:
        a Cluster writes shoppers by slot, ``queue_shopper``); ``remember`` the states once it
        has executed."""
        keys, values = [], []
        for uid, blob in self.encoded(states).items():
            keys.append(self.keys.user(uid))
            values.append(blob)
        for uid, message in messages:
            keys.append(self.keys.recommendations(uid))
            values.append(pack_list(message))
        if keys:
            pipe.eval(SET_EACH, len(keys), *keys, *values, self.ttl_s)

    def encoded(self, states: dict[str, UserState]) -> dict[str, bytes]:
        """The states as they will be stored (and remembered once written)."""
        self._written = {uid: encode(state) for uid, state in states.items()}
        return self._written

    def remember(self, states: dict[str, UserState]) -> None:
        """Cache exactly what Redis now holds (the states as the codec stores them), so a
        shopper's next events meet the same state from the cache as from Redis."""
        for uid, state in states.items():
            self._cache[uid] = self._written.get(uid) or encode(state)
            self._cache.move_to_end(uid)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def queue_shopper(
        self, pipe: Pipeline, user_id: str, blob: bytes | None, message: dict[str, Any] | None
    ) -> None:
        """The shopper's state and list set together in one command (a script: atomic, both
        keys in the shopper's slot), so that on a Redis Cluster many shoppers go in one
        pipeline, which a transaction across their slots could not."""
        keys, values = [], []
        if blob is not None:
            keys.append(self.keys.user(user_id))
            values.append(blob)
        if message is not None:
            keys.append(self.keys.recommendations(user_id))
            values.append(pack_list(message))
        if keys:
            pipe.eval(SET_EACH, len(keys), *keys, *values, self.ttl_s)

    async def recommendations(self, user_id: str) -> dict[str, Any] | None:
        return (await self.recommendations_many([user_id])).get(user_id)

    async def recommendations_many(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored lists of ``user_ids`` that have one, in one round trip."""
        wanted = list(user_ids)
        if not wanted:
            return {}
        blobs = await self._get_each([self.keys.recommendations(uid) for uid in wanted])
        return {uid: unpack_list(b) for uid, b in zip(wanted, blobs, strict=True) if b}


_LIST_FIELDS = ("user_id", "rec_id", "trigger_event_id", "event_ts", "ingested_at", "generated_at")


def pack_list(message: dict[str, Any]) -> bytes:
    """A published list, compactly: each distinct source and reason is stored once.

    >>> m = {"user_id": "u", "rec_id": "r", "trigger_event_id": "e", "event_ts": 1,
    ...      "ingested_at": 2, "generated_at": 3, "items": [
    ...      {"item_id": "a", "score": 1.0, "source": "similar", "reason": "x"},
    ...      {"item_id": "b", "score": 0.5, "source": "similar", "reason": "x"},
    ...      {"item_id": "c", "score": 0.0, "source": "explore", "reason": "x", "arm": "covisit"}]}
    >>> len(pack_list(m)) < len(orjson.dumps(m)) and unpack_list(pack_list(m)) == m
    True
    """
    index: dict[str, int] = {}  # each word's number: its place in the order first met
    ref = index.setdefault
    items = []
    for i in message["items"]:
        item = [i["item_id"], i["score"], ref(i["source"], len(index))]
        item.append(ref(i["reason"], len(index)))  # numbered after the source, as read
        if "arm" in i:
            item.append(ref(i["arm"], len(index)))
        items.append(item)
    return orjson.dumps([[message[f] for f in _LIST_FIELDS], list(index), items])


def unpack_list(blob: bytes | str) -> dict[str, Any]:
    head, words, items = orjson.loads(blob)
    message: dict[str, Any] = dict(zip(_LIST_FIELDS, head, strict=True))
    message["items"] = [
        {"item_id": i, "score": s, "source": words[src], "reason": words[why]}
        | ({"arm": words[rest[0]]} if rest else {})
        for i, s, src, why, *rest in items
    ]
    return message
