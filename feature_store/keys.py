"""Redis key layout. Every key starts with the prefix (``pulse`` by default).

User keys carry the user id as a hash tag, ``pulse:u:{<user_id>}``, so that one shopper's keys
share a Redis Cluster slot.
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

    def user(self, user_id: str) -> str:
        return f"{self.prefix}:u:{{{user_id}}}"
