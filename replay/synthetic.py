"""A small synthetic shop, generated from a seed, for when no real data is at hand.

Shoppers each prefer one category; they view, click, add to cart, buy, search and review,
mostly in their category. Deterministic for a given seed and size.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from core.events import EventKind
from replay.source import Item, Skipped, Source

CATEGORIES = {
    "Home > Kitchen": ["tea towel", "mixing bowl", "teapot", "chopping board", "apron"],
    "Home > Candles": ["scented candle", "tea light holder", "lantern", "candle set", "wax melt"],
    "Garden > Outdoor": ["watering can", "bird feeder", "plant pot", "garden gloves", "trowel"],
    "Beauty > Skin": ["face cream", "lip balm", "hand lotion", "cleanser", "serum"],
    "Kids > Toys": ["jigsaw puzzle", "toy car", "rag doll", "building blocks", "kite"],
}
COLOURS = ["red", "blue", "vintage", "white", "pink", "green", "retro", "spotty"]
REVIEWS = {
    5: "Lovely quality, exactly as pictured. Would buy again.",
    4: "Good value and arrived quickly.",
    3: "It is fine, nothing special.",
    2: "Smaller than expected and a bit flimsy.",
    1: "Broke after a day, very disappointed.",
}
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def events(n_events: int, seed: int, n_users: int, skipped: Skipped) -> Iterator[Item]:
    rng = random.Random(seed)
    items: dict[str, list[tuple[str, str]]] = {}
    for c_index, (category, nouns) in enumerate(CATEGORIES.items()):
        for n_index, noun in enumerate(nouns):
            for colour in COLOURS:
                item_id = f"S{c_index}{n_index:02d}{COLOURS.index(colour)}"
                title = f"{colour} {noun}".upper()
                items.setdefault(category, []).append((item_id, title))
                yield (
                    EventKind.CATALOG,
                    {
                        "item_id": item_id,
                        "title": title,
                        "category": category,
                        "price": round(rng.uniform(1, 30), 2),
                    },
                )
    categories = list(CATEGORIES)
    taste = {f"s{u}": rng.choice(categories) for u in range(n_users)}
    ts = START_MS
    for index in range(n_events):
        user = f"s{rng.randrange(n_users)}"
        category = taste[user] if rng.random() < 0.8 else rng.choice(categories)
        item_id, title = rng.choice(items[category])
        ts += rng.randint(50, 5_000)
        common = {"event_id": f"syn-{seed}-{index}", "user_id": user, "ts": ts}
        roll = rng.random()
        if roll < 0.55:
            yield EventKind.CLICK, {**common, "item_id": item_id, "action": "view"}
        elif roll < 0.75:
            yield EventKind.CLICK, {**common, "item_id": item_id}
        elif roll < 0.83:
            yield EventKind.CLICK, {**common, "item_id": item_id, "action": "add_to_cart"}
        elif roll < 0.90:
            quantity = rng.randint(1, 4)
            yield (
                EventKind.PURCHASE,
                {
                    **common,
                    "item_id": item_id,
                    "quantity": quantity,
                    "price": round(rng.uniform(1, 30), 2),
                    "currency": "GBP",
                },
            )
        elif roll < 0.97:
            noun = rng.choice(CATEGORIES[category])
            yield EventKind.SEARCH, {**common, "query": f"{rng.choice(COLOURS)} {noun}"}
        else:
            rating = rng.randint(1, 5)
            yield (
                EventKind.REVIEW,
                {
                    **common,
                    "item_id": item_id,
                    "rating": rating,
                    "text": REVIEWS[rating],
                    "title": title.title(),
                },
            )


def source(n_events: int = 20_000, seed: int = 7, n_users: int = 500) -> Source:
    skipped = Skipped()
    return Source("synthetic", events(n_events, seed, n_users, skipped), skipped)
