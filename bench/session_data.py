"""Click streams of the next-click benchmark: YOOCHOOSE (RecSys Challenge 2015) sessions and
Taobao UserBehavior, as time-ordered events split into training, validation and test spans.

A session's events all belong to the span its first event falls in. Evaluation sessions keep
only items seen in the stream before the span starts (the protocol drops unseen items), and
only sessions that still have at least two events.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.datasets import DATA, TAOBAO, need

YOOCHOOSE = DATA / "yoochoose-rsc15-train" / "yoochoose-clicks-100k_train_full.tsv.gz"
# Taobao sessions: a shopper's events with no gap over 30 minutes.
SESSION_GAP_MS = 30 * 60 * 1000
TAOBAO_ACTIONS = {"pv": "view", "fav": "click", "cart": "add_to_cart", "buy": "purchase"}


@dataclass(frozen=True, slots=True)
class Event:
    session: str
    user: str
    item: str
    ts_ms: int
    action: str  # view, click, add_to_cart or purchase
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Stream:
    name: str
    events: list[Event]  # in time order
    span_ms: int  # length of the test span (and of the validation span before it)

    @property
    def end_ms(self) -> int:
        return self.events[-1].ts_ms + 1

    def split(self, which: str) -> tuple[list[Event], list[Event]]:
        """``(history, evaluation)`` for ``which`` = "validation" or "test".

        The validation span is the span before the test span, and its stream ends where the
        test span starts: tuning never sees a test event.
        """
        test_from = self.end_ms - self.span_ms
        start, stop = (
            (test_from - self.span_ms, test_from) if which == "validation" else (test_from, None)
        )
        first: dict[str, int] = {}
        for e in self.events:
            first.setdefault(e.session, e.ts_ms)
        history = [e for e in self.events if first[e.session] < start]
        known = {e.item for e in history}
        sessions: dict[str, list[Event]] = defaultdict(list)
        for e in self.events:
            at = first[e.session]
            if at >= start and (stop is None or at < stop) and e.item in known:
                sessions[e.session].append(e)
        kept = {s for s, evs in sessions.items() if len(evs) >= 2}
        return history, [e for e in self.events if e.session in kept and e.item in known]


def yoochoose(path: Path = YOOCHOOSE) -> Stream:
    """Anonymous sessions: the session is the shopper. Test span: the last day."""
    need(path)
    events = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            session = row["SessionId"]
            ts = round(float(row["Time"]) * 1000)
            events.append(Event(session, session, row["ItemId"], ts, "click"))
    events.sort(key=lambda e: e.ts_ms)  # stable: file order breaks ties
    return Stream("yoochoose", events, 86_400_000)


def taobao(path: Path = TAOBAO) -> Stream:
    """Shoppers with sessions cut at 30-minute gaps. Test span: the last 30 minutes."""
    need(path)
    rows = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for user, item, category, behaviour, ts in csv.reader(handle):
            rows.append((user, item, category, TAOBAO_ACTIONS[behaviour], int(ts) * 1000))
    rows.sort(key=lambda r: r[4])
    last: dict[str, int] = {}
    number: dict[str, int] = defaultdict(int)
    events = []
    for user, item, category, action, ts in rows:
        if user in last and ts - last[user] > SESSION_GAP_MS:
            number[user] += 1
        last[user] = ts
        events.append(Event(f"{user}/{number[user]}", user, item, ts, action, category))
    return Stream("taobao", events, SESSION_GAP_MS)


STREAMS = {"yoochoose": yoochoose, "taobao": taobao}


def add_stream_arguments(p: argparse.ArgumentParser) -> None:
    """``--streams`` and a path option for each stream's file (default: the shared data)."""

    def names(text: str) -> list[str]:
        chosen = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in chosen if n not in STREAMS]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"streams are a comma-separated list of {', '.join(STREAMS)}; got {text!r}"
            )
        return chosen

    def existing(text: str) -> Path:
        if not Path(text).is_file():
            raise argparse.ArgumentTypeError(f"{text} is not a file")
        return Path(text)

    p.add_argument("--streams", type=names, default=list(STREAMS), help="yoochoose,taobao")
    p.add_argument("--yoochoose", type=existing, default=YOOCHOOSE, help="YOOCHOOSE clicks (TSV)")
    p.add_argument("--taobao", type=existing, default=TAOBAO, help="Taobao UserBehavior (CSV)")


def chosen_streams(args: argparse.Namespace) -> Iterator[Stream]:
    """The streams ``--streams`` names, each read from its file when its turn comes."""
    for name in args.streams:
        yield STREAMS[name](getattr(args, name))
