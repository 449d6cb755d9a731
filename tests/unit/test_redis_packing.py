"""Commands packed by hiredis (``feature_store.clients.HiredisPackedConnection``) are the bytes
redis-py's own asyncio packing gives, and what it refuses is refused the same way."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection

from feature_store.clients import HiredisPackedConnection, redis_client

words = st.sampled_from(
    ["SET", "ZINCRBY", b"GET", "EVAL", b"ZREVRANGE", "CONFIG GET", b"CLIENT LIST"]
)
values = st.one_of(
    st.text(),
    st.binary(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.binary().map(memoryview),
    st.binary().map(bytearray),
)


def packed(connection: Connection, args: tuple[Any, ...]) -> bytes | str:
    try:
        return b"".join(bytes(chunk) for chunk in connection.pack_command(*args))
    except Exception as exc:  # the kind of error is what is compared
        return type(exc).__name__


@given(words, st.lists(values, max_size=6))
def test_hiredis_packing_gives_redis_pys_bytes_and_errors(word: Any, rest: list[Any]) -> None:
    args = (word, *rest)
    assert packed(HiredisPackedConnection(), args) == packed(Connection(), args)


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_another_encoding_takes_redis_pys_packing(rest: list[str]) -> None:
    args = ("SET", *rest)
    latin = HiredisPackedConnection(encoding="latin-1", encoding_errors="replace")
    assert packed(latin, args) == packed(
        Connection(encoding="latin-1", encoding_errors="replace"), args
    )


def test_the_single_redis_client_packs_with_hiredis() -> None:
    client = redis_client("redis://127.0.0.1:6379/0")
    assert client.connection_pool.connection_class is HiredisPackedConnection
    unix = redis_client("unix:///tmp/none.sock")
    assert unix.connection_pool.connection_class is not HiredisPackedConnection


@pytest.mark.parametrize("value", [0.1, 1 / 3, 1e-7, 1e22, -0.0, float("nan"), float("inf"), 2**64])
def test_numbers_are_written_as_redis_py_writes_them(value: float) -> None:
    assert packed(HiredisPackedConnection(), ("SET", "k", value)) == packed(
        Connection(), ("SET", "k", value)
    )
