"""The Redis key layout: every key of one shopper in one Redis Cluster slot, whatever the id
(Redis's own rule for hash tags, ``redis.crc.key_slot``), and no two shoppers' keys alike."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from feature_store.keys import Keys

# Any id the event contract accepts (1 to 128 characters; JSON text, so no lone surrogates),
# braces made common.
CHARACTERS = st.one_of(st.sampled_from("{}:_a"), st.characters(codec="utf-8"))
TEXT = st.text(alphabet=CHARACTERS, min_size=1, max_size=128)
IDS = st.one_of(TEXT, TEXT.map(lambda s: "}" + s[:127]))  # a leading "}" is the hard case


@settings(max_examples=500)
@given(IDS, st.sampled_from(["pulse", "shop{1}", "x"]))
def test_a_shoppers_keys_share_one_slot(user_id: str, prefix: str) -> None:
    keys = Keys(prefix).shopper(user_id)
    assert len({key_slot(k.encode()) for k in keys}) == 1, keys


@settings(max_examples=500)
@given(IDS, IDS)
def test_two_shoppers_never_share_a_key(a: str, b: str) -> None:
    keys = Keys()
    if a != b:
        assert not set(keys.shopper(a)) & set(keys.shopper(b))
    assert keys.user(a) != keys.recommendations(b)


def test_ids_that_start_with_a_closing_brace_get_a_tag_of_their_own() -> None:
    keys = Keys()
    # "}x" as a tag would be empty: Redis would hash the whole key, a slot per key
    assert keys.shopper("}x") == ("pulse:U:{_}}x}", "pulse:U:{_}}x}:recs")
    assert keys.shopper("a}b") == ("pulse:u:{a}b}", "pulse:u:{a}b}:recs")
