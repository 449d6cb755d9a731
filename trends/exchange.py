"""Trend observations on their way to their owners: routing, encoding, decoding. Pure.

Every trend subject has one owner at a time: an item, a query and a category each for its burst
statistics, and each peak profile (the shop's, ``all``, and one per category) for its
hour-of-week activity. A subject belongs to the partition of the observations topic that its
kind and name hash to (CRC-32, modulo the partition count), so whichever worker holds that
partition owns it, wherever the events came from.

A worker turns one micro-batch into one message per partition: the observations of that
partition's subjects, each with the position of its event in the input (``topic:partition`` and
offset), so that an owner applies an event once however often it is delivered, and the batch's
span in event time, which moves every owner's clock. A partition none of whose subjects the batch
saw gets the clock alone, so quiet subjects' windows still close: with every batch from
:func:`route`, with :class:`Router` only when it moves that partition's clock by a second or more
of event time (N workers sending P messages per batch would not scale).

>>> from core.events import Click
>>> from trends.tracker import Observations
>>> obs = Observations()
>>> obs.add(Click("e1", "u1", 1_000, "i1", "click"), "Home")
>>> routed = route(obs, {"e1": ("pulse.events.clicks:0", 7)}, 2)
>>> sorted(routed), [len(decode(m).entries) for _, m in sorted(routed.items())]
([0, 1], [2, 2])
>>> decode(routed[0]).clock
(1000, 1000)
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from trends.tracker import ACTIVITY, ALL, BURSTS, Observations, TrendTracker

VERSION = 1
WHATS = (*BURSTS, ACTIVITY)
Position = tuple[str, int]  # ("topic:partition", offset) of an event in the input


class InvalidShipment(ValueError):
    """A message on the observations topic that Pulse cannot read."""


@dataclass(frozen=True, slots=True)
class Entry:
    what: str  # a burst kind, or ACTIVITY
    subject: str  # the item, query or category; for ACTIVITY the profile (ALL or a category)
    source: str | None  # "topic:partition" of the event, None when unknown
    offset: int
    ts: int
    weight: float


@dataclass(frozen=True, slots=True)
class Shipment:
    clock: tuple[int, int]  # the batch's earliest and latest event time
    entries: tuple[Entry, ...]


def partition_of(what: str, subject: str, partitions: int) -> int:
    """The observations topic's partition that owns ``subject`` of kind ``what``."""
    return zlib.crc32(f"{what}\x1f{subject}".encode()) % partitions


class Router:
    """A worker's routing of its batches: a partition with observations gets its message; one
    without gets the clock alone when it is ``clock_every_ms`` (event time) or more ahead of the
    clock this worker last sent it. Deterministic: it depends on the batches only."""

    def __init__(self, partitions: int, clock_every_ms: int = 1_000) -> None:
        self.partitions = partitions
        self.clock_every_ms = clock_every_ms
        self._sent: dict[int, int] = {}  # partition -> the latest clock this worker sent it

    def route(self, obs: Observations, positions: Mapping[str, Position]) -> dict[int, bytes]:
        latest = max((ts for _, _, ts, _, _ in obs.keyed), default=0)

        def due(partition: int) -> bool:
            sent = self._sent.get(partition)
            return sent is None or latest - sent >= self.clock_every_ms

        routed = route(obs, positions, self.partitions, clock_only=due)
        for p in routed:
            self._sent[p] = max(self._sent.get(p, latest), latest)
        return routed


def route(
    obs: Observations,
    positions: Mapping[str, Position],
    partitions: int,
    clock_only: Callable[[int], bool] = lambda _partition: True,
) -> dict[int, bytes]:
    """A batch's observations as one message per partition (none when the batch had no event);
    a partition without observations only where ``clock_only`` says so.

    ``positions`` maps event ids to where the events are in the input; an event without one is
    applied each time it is delivered.
    """
    if not obs.keyed:
        return {}
    stamps = [ts for _, _, ts, _, _ in obs.keyed]
    sources: dict[str, int] = {}
    rows: dict[int, list[list[Any]]] = {p: [] for p in range(partitions)}
    for what, subject, ts, weight, event_id in obs.keyed:
        source, offset = positions.get(event_id, (None, -1))
        src = -1 if source is None else sources.setdefault(source, len(sources))
        targets = [ALL, subject] if what == ACTIVITY else [subject]
        for target in targets:
            if target is not None:
                row = [what, target, src, offset, ts, weight]
                rows[partition_of(what, target, partitions)].append(row)
    clock = [min(stamps), max(stamps)]
    names = list(sources)
    return {
        p: orjson.dumps({"v": VERSION, "clock": clock, "sources": names, "entries": entries})
        for p, entries in rows.items()
        if entries or clock_only(p)
    }


def observe(
    tracker: TrendTracker,
    obs: Observations,
    positions: Mapping[str, Position],
    router: Router | None,
) -> tuple[list[dict[str, Any]], dict[int, bytes]]:
    """A worker's trend step for a batch: its signals and its shipments by partition. Without a
    ``router`` every statistic is in ``tracker`` (one process sees every event); with one
    ``tracker`` keeps the intent shifts (about this worker's own shoppers) and the rest is
    routed to the subjects' owners."""
    if router is None:
        return tracker.observe(obs), {}
    return tracker.observe_shifts(obs.shifts), router.route(obs, positions)


def decode(raw: bytes | None) -> Shipment:
    """The shipment in a message of the observations topic; InvalidShipment says what is wrong."""
    try:
        data = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidShipment(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise InvalidShipment(f"not a version {VERSION} trend shipment")
    clock = data.get("clock")
    sources = data.get("sources")
    rows = data.get("entries")
    if not (isinstance(clock, list) and len(clock) == 2 and all(_is_int(t) for t in clock)):
        raise InvalidShipment("clock must be two integer timestamps")
    if clock[0] > clock[1]:
        raise InvalidShipment("clock starts after it ends")
    if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise InvalidShipment("sources must be a list of strings")
    if not isinstance(rows, list):
        raise InvalidShipment("entries must be a list")
    return Shipment((clock[0], clock[1]), tuple(_entry(row, sources) for row in rows))


def _entry(row: Any, sources: list[str]) -> Entry:
    if not (isinstance(row, list) and len(row) == 6):
        raise InvalidShipment(
            f"an entry must be [what, subject, source, offset, ts, weight]: {row!r}"[:300]
        )
    what, subject, src, offset, ts, weight = row
    if what not in WHATS:
        raise InvalidShipment(f"unknown observation kind {what!r}"[:200])
    if not isinstance(subject, str):
        raise InvalidShipment("an entry's subject must be a string")
    if not (_is_int(src) and -1 <= src < len(sources)):
        raise InvalidShipment(f"an entry names no listed source: {src!r}"[:200])
    if not (_is_int(offset) and _is_int(ts)):
        raise InvalidShipment("an entry's offset and timestamp must be integers")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise InvalidShipment("an entry's weight must be a finite number")
    return Entry(what, subject, sources[src] if src >= 0 else None, offset, ts, float(weight))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
