"""Redis key layout. Every key starts with the prefix (``pulse`` by default).

User keys carry the user id as a hash tag, ``pulse:u:{<user_id>}``, so that one shopper's keys
share a Redis Cluster slot. Redis takes the tag from the first ``{`` to the first ``}`` after
it, so an id that starts with ``}`` would give an empty tag (the whole key hashed, the
shopper's keys in different slots): such ids go under ``pulse:U:{_}<user_id>}``, one slot for
all of them, keys distinct from every other shopper's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "pulse"

    @property
    def processed(self) -> str:
        """Hash: event kind -> number of valid events processed."""
        return f"{self.prefix}:stats:processed"

    @property
    def dead_lettered(self) -> str:
        """Hash: error code -> number of messages sent to the dead-letter topic."""
        return f"{self.prefix}:stats:dead_lettered"

    @property
    def applied(self) -> str:
        """Hash: ``topic:partition`` -> the next input offset not yet applied (offsets.py)."""
        return f"{self.prefix}:applied"

    def user(self, user_id: str) -> str:
        """String: the shopper's packed interest state (``feature_store.state_codec``)."""
        if user_id.startswith("}"):
            return f"{self.prefix}:U:{{_}}{user_id}}}"
        return f"{self.prefix}:u:{{{user_id}}}"

    def recommendations(self, user_id: str) -> str:
        """String: JSON of the latest recommendation list, as published."""
        return f"{self.user(user_id)}:recs"

    def shopper(self, user_id: str) -> tuple[str, ...]:
        """Every key of one shopper (all in the shopper's Cluster slot): what forgetting them
        deletes."""
        return (self.user(user_id), self.recommendations(user_id))

    def covisit(self, item_id: str) -> str:
        """Sorted set: neighbour item -> co-visitation weight (bounded)."""
        return f"{self.prefix}:cv:{{{item_id}}}"

    def item(self, item_id: str) -> str:
        """Hash: title, category, in_stock, text hash and fp16 vector of a catalogue item."""
        return f"{self.prefix}:i:{{{item_id}}}"

    @property
    def purchase_occasions(self) -> str:
        """Hash: item -> purchase occasions (``feature_store.repeats``)."""
        return f"{self.prefix}:rep:occasions"

    @property
    def repeat_occasions(self) -> str:
        """Hash: item -> occasions on which a shopper bought the item again."""
        return f"{self.prefix}:rep:repeats"

    @property
    def bandit(self) -> str:
        """Hash: impressions:<arm>, clicks:<arm> -> totals of the exploration bandit."""
        return f"{self.prefix}:bandit"

    def trend_partition(self, partition: int) -> str:
        """The prefix of one trend partition's keys (``feature_store.trend_state``), all in one
        Cluster slot: ``:meta`` (hash), ``:base:<kind>`` (hash), ``:win:<kind>:<window>``
        (hash), ``:peaks`` (hash) and ``:signals:<kind>`` (list)."""
        return f"{self.prefix}:T:{{t{partition}}}"

    def trend_signals(self, kind: str) -> str:
        """List: the latest trend signals of ``kind`` (JSON), newest first, trimmed."""
        return f"{self.prefix}:trends:{kind}"
