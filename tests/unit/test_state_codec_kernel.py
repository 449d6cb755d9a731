"""The state codec's compiled records (``pulse_kernels.pack_records``/``unpack_records``: a
shopper's recent items and purchases) against their Python definitions in
``feature_store.state_codec``: the same bytes, the same values read back, and an error
wherever the definition has one (never a different answer)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulse_kernels import pack_records, unpack_records

from feature_store.state_codec import pack_records_reference, unpack_records_reference

IDS = st.text(min_size=0, max_size=12)  # ASCII and beyond: lengths are in UTF-8 bytes
TIMES = st.integers(-(2**63), 2**63 - 1)
# Counts as the profile keeps them, and on rounding ties of the 1e-4 units (k / 20000).
COUNTS = st.one_of(
    st.floats(0, 400_000),
    st.integers(0, 10**6).map(lambda k: k / 20_000),
    st.integers(0, 400_000),
)
RECENT = st.lists(st.tuples(IDS, TIMES), max_size=25).map(tuple)
PURCHASES = st.dictionaries(IDS, st.tuples(COUNTS, TIMES), max_size=12)


@settings(max_examples=400, deadline=None)
@given(RECENT, PURCHASES, st.binary(max_size=8), st.binary(max_size=8))
def test_records_are_the_definitions_bytes_and_read_back_alike(
    recent: tuple[tuple[str, int], ...],
    purchases: dict[str, tuple[float, int]],
    before: bytes,
    after: bytes,
) -> None:
    packed = pack_records(recent, purchases)
    assert packed == pack_records_reference(recent, purchases)
    data = before + packed + after
    got = unpack_records(data, len(before))
    assert got == unpack_records_reference(data, len(before))
    assert got[0] == recent and got[2] == len(before) + len(packed)
    # counts come back to 1e-4 units, rounded half to even as Python's round
    assert got[1] == {i: (round(c * 10_000) / 10_000, t) for i, (c, t) in purchases.items()}


def _outcome(f, *args):  # type: ignore[no-untyped-def]
    try:
        return ("value", f(*args))
    except (ValueError, struct.error, OverflowError) as exc:  # the kernel says ValueError
        return ("error", type(exc).__name__)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=60), RECENT.map(lambda r: pack_records(r, {}))), st.data())
def test_damaged_records_fail_as_the_definition_does(data: bytes, draw: st.DataObject) -> None:
    """Cut short, bytes flipped, or not UTF-8: an error wherever the definition has one."""
    if data and draw.draw(st.booleans()):
        data = data[: draw.draw(st.integers(0, len(data) - 1))]
    if data and draw.draw(st.booleans()):
        at = draw.draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw.draw(st.integers(0, 255))]) + data[at + 1 :]
    kernel = _outcome(unpack_records, data, 0)
    reference = _outcome(unpack_records_reference, data, 0)
    assert kernel[0] == reference[0]
    if kernel[0] == "value":
        assert kernel == reference


@pytest.mark.parametrize(
    ("recent", "purchases"),
    [
        ((("x" * 65_536, 0),), {}),  # an id longer than its length field
        ((), {"a": (-0.001, 0)}),  # a negative count
        ((), {"a": (math.nan, 0)}),
        ((), {"a": (math.inf, 0)}),
        ((), {"a": (429_496.72955, 0)}),  # past u32 in 1e-4 units
        (tuple((str(i), 0) for i in range(65_536)), {}),  # more records than the count holds
    ],
)
def test_what_cannot_be_stored_is_an_error_in_both(
    recent: tuple[tuple[str, int], ...], purchases: dict[str, tuple[float, int]]
) -> None:
    with pytest.raises(ValueError, match="cannot be stored"):
        pack_records(recent, purchases)
    with pytest.raises((ValueError, struct.error, OverflowError)):
        pack_records_reference(recent, purchases)
