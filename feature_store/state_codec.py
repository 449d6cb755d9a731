"""The compact binary form of a shopper's state (``ranking.state.UserState``) in Redis.

Layout (little-endian): a header (version, the two decayed vectors' weights, reference times and
int8 scales), the short- and long-term vectors as int8 with a scale (384 bytes each), the
recent event-id hashes (8 bytes each), the recent items and the purchases as packed records
(length-prefixed item id, times in ms; purchase counts in 1e-4 units, as the profile rounds
them), then a small JSON tail (category affinities, last query, session intent). About 1.3 KiB
for a shopper with a few clicks; each remembered purchase adds about 20 bytes. Version 1 (items
and purchases in the JSON tail) is still read.
"""

from __future__ import annotations

import struct

import numpy as np
import orjson
from pulse_kernels import dequantise_i8, pack_records, quantise_i8, unpack_records

from ranking.interest import DecayedVector
from ranking.state import UserState

VERSION = 2
_ID = struct.Struct("<H")
_RECENT = struct.Struct("<q")  # ts_ms
_PURCHASE = struct.Struct("<Iq")  # count in 1e-4 units, last ts_ms
_COUNT_UNIT = 10_000
_HEADER = struct.Struct(
    "<BxxxfqffqfII"
)  # version, sw, sref, sscale, lw, lref, lscale, n_seen, n_events


# The definitions of the int8 codes, in numpy; the codec runs their compiled twins
# (``pulse_kernels.quantise_i8``/``dequantise_i8``), which property tests hold to these bit for
# bit.
def quantise_reference(v: np.ndarray) -> tuple[bytes, float]:
    peak = float(np.max(np.abs(v))) if v.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    # A vector of subnormal values only has a scale that is 0 in float32: its codes are then
    # +-127 or 0 (as the kernel's), and they decode to zeros, which such a vector is to float32.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.rint(v / scale), -127, 127).astype(np.int8).tobytes(), scale


def dequantise_reference(data: bytes, scale: float) -> np.ndarray:
    return (np.frombuffer(data, dtype=np.int8).astype(np.float32) * np.float32(scale)).astype(
        np.float32
    )


def encode(state: UserState) -> bytes:
    short, s_scale = quantise_i8(np.ascontiguousarray(state.short.total, dtype=np.float32))
    long, l_scale = quantise_i8(np.ascontiguousarray(state.long.total, dtype=np.float32))
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
    records = pack_records(state.recent, state.purchases)
    tail = orjson.dumps(
        {
            "c": {k: round(v, 4) for k, v in state.categories.items()},
            "cr": state.categories_ref_ms,
            "q": state.last_query,
            "i": state.intent,
            "d": state.drifted,
            **({"x": state.dismissed} if state.dismissed else {}),
        }
    )
    return header + struct.pack("<H", len(short)) + short + long + seen + records + tail


# The definitions of the records (recent items, purchases), in Python; the codec runs their
# compiled twins (``pulse_kernels.pack_records``/``unpack_records``), which property tests
# hold to these byte for byte and value for value.
def pack_records_reference(
    recent: tuple[tuple[str, int], ...], purchases: dict[str, tuple[float, int]]
) -> bytes:
    records = bytearray(struct.pack("<HH", len(recent), len(purchases)))
    for item, ts in recent:
        records += _packed_id(item) + _RECENT.pack(ts)
    for item, (count, last) in purchases.items():
        records += _packed_id(item) + _PURCHASE.pack(round(count * _COUNT_UNIT), last)
    return bytes(records)


def unpack_records_reference(
    data: bytes, offset: int
) -> tuple[tuple[tuple[str, int], ...], dict[str, tuple[float, int]], int]:
    n_recent, n_purchases = struct.unpack_from("<HH", data, offset)
    offset += 4
    recent: list[tuple[str, int]] = []
    purchases: dict[str, tuple[float, int]] = {}
    for _ in range(n_recent):
        item, offset = _unpack_id(data, offset)
        (ts,) = _RECENT.unpack_from(data, offset)
        offset += _RECENT.size
        recent.append((item, ts))
    for _ in range(n_purchases):
        item, offset = _unpack_id(data, offset)
        count, last = _PURCHASE.unpack_from(data, offset)
        offset += _PURCHASE.size
        purchases[item] = (count / _COUNT_UNIT, last)
    return tuple(recent), purchases, offset


def _packed_id(item: str) -> bytes:
    data = item.encode()
    return _ID.pack(len(data)) + data


def _unpack_id(data: bytes, offset: int) -> tuple[str, int]:
    (n,) = _ID.unpack_from(data, offset)
    start = offset + _ID.size
    if start + n > len(data):
        raise struct.error(f"the state's records end early (at byte {offset})")
    return data[start : start + n].decode(), start + n


def decode(data: bytes) -> UserState:
    (version, sw, sref, sscale, lw, lref, lscale, n_seen, n_events) = _HEADER.unpack_from(data)
    if version not in (1, VERSION):
        raise ValueError(f"unknown user-state version {version}")
    offset = _HEADER.size
    (dim,) = struct.unpack_from("<H", data, offset)
    offset += 2
    short = np.frombuffer(dequantise_i8(data[offset : offset + dim], sscale), dtype=np.float32)
    long = np.frombuffer(dequantise_i8(data[offset + dim : offset + 2 * dim], lscale), np.float32)
    offset += 2 * dim
    seen = struct.unpack_from(f"<{n_seen}Q", data, offset)
    offset += 8 * n_seen
    recent: tuple[tuple[str, int], ...] = ()
    purchases: dict[str, tuple[float, int]] = {}
    if version >= 2:
        recent, purchases, offset = unpack_records(data, offset)
    tail = orjson.loads(data[offset:])
    if version == 1:
        recent = tuple((str(i), int(t)) for i, t in tail["r"])
        purchases = {str(k): (float(v[0]), int(v[1])) for k, v in tail["p"].items()}
    return UserState(
        short=DecayedVector(short, sw, sref),
        long=DecayedVector(long, lw, lref),
        recent=recent,
        categories={str(k): float(v) for k, v in tail["c"].items()},
        categories_ref_ms=int(tail["cr"]),
        purchases=purchases,
        seen=tuple(seen),
        last_query=(str(tail["q"][0]), int(tail["q"][1])) if tail["q"] else None,
        events=n_events,
        intent=tail.get("i"),
        drifted=bool(tail.get("d", False)),
        dismissed=tuple((str(i), int(t)) for i, t in tail.get("x", ())),
    )
