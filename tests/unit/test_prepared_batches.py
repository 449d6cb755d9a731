"""A batch prepared while the one before is still to be written (``Personaliser.prepare``)
reads the states that batch made: shoppers end as they end when the batches run in turn."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Click
from feature_store.memory import memory_stores
from feature_store.state_codec import encode
from personalisation.pipeline import Personaliser
from ranking.item_index import ItemIndex, ItemInfo
from ranking.state import UserState

T0 = 1_700_000_000_000
ITEMS = "abcdef"


class NoText:
    dim = 2

    async def encode(self, texts: list[str]) -> list[np.ndarray]:
        raise AssertionError("no texts here")


def shop() -> Personaliser:
    index = ItemIndex(2)
    for n, item in enumerate(ITEMS):
        angle = n / len(ITEMS)
        index.upsert(
            ItemInfo(item, item.upper(), "Home", True),
            np.array([math.cos(angle), math.sin(angle)], np.float32),
        )
    return Personaliser(index, memory_stores(2), NoText())  # type: ignore[arg-type]


BATCHES = st.lists(
    st.lists(st.tuples(st.sampled_from("uvw"), st.sampled_from(ITEMS)), min_size=1, max_size=4),
    min_size=2,
    max_size=4,
)


def _batches(drawn: list[list[tuple[str, str]]]) -> list[list[Click]]:
    n, out = 0, []
    for batch in drawn:
        clicks = []
        for user, item in batch:
            n += 1
            clicks.append(Click(f"e{n}", user, T0 + 1_000 * n, item))
        out.append(clicks)
    return out


async def _states(p: Personaliser) -> dict[str, bytes]:
    loaded: dict[str, UserState] = await p.stores.users.load(["u", "v", "w"])
    return {uid: encode(s) for uid, s in loaded.items()}


@settings(max_examples=40, deadline=None)
@given(BATCHES)
async def test_states_end_as_they_do_with_batches_in_turn(
    drawn: list[list[tuple[str, str]]],
) -> None:
    batches = _batches(drawn)
    in_turn, overlapped = shop(), shop()
    for batch in batches:
        await in_turn.run(batch)
    # Each batch prepared before the one before is written (two in flight), written in order.
    pending = None
    for batch in batches:
        commit = await overlapped.prepare(batch)
        if pending is not None:
            await pending()
        pending = commit
    assert pending is not None
    await pending()
    assert await _states(overlapped) == await _states(in_turn)
    last = {uid for uid, _ in drawn[-1]}
    for uid in last:  # the last list saw every click of the shopper
        listed = overlapped.stores.users.lists[uid]  # type: ignore[attr-defined]
        clicks = [e for b in batches for e in b if e.user_id == uid]
        assert listed["trigger_event_id"] == clicks[-1].event_id
