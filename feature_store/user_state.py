"""A shopper's interest state and its compact binary form in Redis.

Layout (little-endian): a header (version, the two decayed vectors' weights, reference times and
int8 scales), the short- and long-term vectors as int8 with a scale (384 bytes each), the
recent event-id hashes (8 bytes each), then a small JSON tail (recent items, category
affinities, purchases, last query). About 1.3 KiB for an active shopper.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field, replace

import numpy as np
import orjson

from ranking.interest import DecayedVector

VERSION = 1
_HEADER = struct.Struct(
    "<BxxxfqffqfII"
)  # version, sw, sref, sscale, lw, lref, lscale, n_seen, n_events
MAX_RECENT = 20
MAX_PURCHASES = 30
MAX_SEEN = 32
MAX_CATEGORIES = 12


def event_hash(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True, slots=True)
class UserState:
    short: DecayedVector
    long: DecayedVector
    recent: tuple[tuple[str, int], ...] = ()  # (item_id, ts_ms), oldest first
    categories: dict[str, float] = field(default_factory=dict)  # decayed with the long half-life
    categories_ref_ms: int = 0
    # item -> (purchase occasions decayed with the long half-life to the last one, last ts)
    purchases: dict[str, tuple[float, int]] = field(default_factory=dict)
    seen: tuple[int, ...] = ()  # hashes of the latest event ids, oldest first
    last_query: tuple[str, int] | None = None
    events: int = 0

    @classmethod
    def new(cls, dim: int) -> UserState:
        return cls(DecayedVector.empty(dim), DecayedVector.empty(dim))

    def has_seen(self, event_id: str) -> bool:
        return event_hash(event_id) in self.seen

    def mark_seen(self, event_id: str) -> UserState:
        seen = (*self.seen, event_hash(event_id))[-MAX_SEEN:]
        return replace(self, seen=seen, events=self.events + 1)


def _quantise(v: np.ndarray) -> tuple[bytes, float]:
    peak = float(np.max(np.abs(v))) if v.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    return np.clip(np.rint(v / scale), -127, 127).astype(np.int8).tobytes(), scale


def _dequantise(data: bytes, scale: float) -> np.ndarray:
    return (np.frombuffer(data, dtype=np.int8).astype(np.float32) * np.float32(scale)).astype(
        np.float32
    )


def encode(state: UserState) -> bytes:
    short, s_scale = _quantise(state.short.total)
    long, l_scale = _quantise(state.long.total)
    header = _HEADER.pack(
        VERSION,
        state.short.weight,
        state.short.ref_ms,
        s_scale,
        state.long.weight,
        state.long.ref_ms,
        l_scale,
        len(state.seen),
        state.events,
    )
    seen = struct.pack(f"<{len(state.seen)}Q", *state.seen)
    tail = orjson.dumps(
        {
            "r": state.recent,
            "c": {k: round(v, 4) for k, v in state.categories.items()},
            "cr": state.categories_ref_ms,
            "p": state.purchases,
            "q": state.last_query,
        }
    )
    return header + struct.pack("<H", len(short)) + short + long + seen + tail


def decode(data: bytes) -> UserState:
    (version, sw, sref, sscale, lw, lref, lscale, n_seen, n_events) = _HEADER.unpack_from(data)
    if version != VERSION:
        raise ValueError(f"unknown user-state version {version}")
    offset = _HEADER.size
    (dim,) = struct.unpack_from("<H", data, offset)
    offset += 2
    short = _dequantise(data[offset : offset + dim], sscale)
    long = _dequantise(data[offset + dim : offset + 2 * dim], lscale)
    offset += 2 * dim
    seen = struct.unpack_from(f"<{n_seen}Q", data, offset)
    offset += 8 * n_seen
    tail = orjson.loads(data[offset:])
    return UserState(
        short=DecayedVector(short, sw, sref),
        long=DecayedVector(long, lw, lref),
        recent=tuple((str(i), int(t)) for i, t in tail["r"]),
        categories={str(k): float(v) for k, v in tail["c"].items()},
        categories_ref_ms=int(tail["cr"]),
        purchases={str(k): (float(v[0]), int(v[1])) for k, v in tail["p"].items()},
        seen=tuple(seen),
        last_query=(str(tail["q"][0]), int(tail["q"][1])) if tail["q"] else None,
        events=n_events,
    )
