"""The compiled kernels of the item search and the state codec against their definitions:
``pulse_kernels.top_k`` against ``ranking.item_index.top_k_reference`` (the same columns, order
and scores, ties and masks included; clear errors for malformed input), and the int8 codes of
the interest vectors against the codec's numpy reference, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulse_kernels import dequantise_i8, quantise_i8, top_k, top_k_labelled

from feature_store.state_codec import dequantise_reference, quantise_reference
from ranking.item_index import top_k_reference

# Few distinct values, so ties are common; NaN and minus infinity must never come back.
VALUES = [-1.0, -0.25, 0.0, 0.25, 0.5, 0.5, 1.0, math.inf, -math.inf, math.nan]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 6),  # rows
    st.integers(1, 40),  # columns
    st.integers(0, 45),  # k
    st.data(),
)
def test_the_kernel_selects_exactly_what_the_reference_does(
    m: int, n: int, k: int, data: st.DataObject
) -> None:
    values = st.one_of(st.sampled_from(VALUES), st.floats(-1, 1, width=32))
    matrix = np.array(
        data.draw(st.lists(st.lists(values, min_size=n, max_size=n), min_size=m, max_size=m)),
        dtype=np.float32,
    )
    available = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    excludes = data.draw(
        st.lists(st.lists(st.integers(0, n - 1), max_size=6), min_size=m, max_size=m)
    )
    found = top_k(matrix, np.array(available, dtype=np.uint8), k, excludes)
    labels = [f"item-{col}" for col in range(n)]
    labelled = top_k_labelled(matrix, np.array(available, dtype=np.uint8), k, excludes, labels)
    assert labelled == [[(labels[c], s) for c, s in row] for row in found]
    for row, exclude, got in zip(matrix.tolist(), excludes, found, strict=True):
        want = top_k_reference(row, available, k, set(exclude))
        assert [c for c, _ in got] == [c for c, _ in want]
        # bit for bit: float32 scores widened to float64 on both sides
        assert [s for _, s in got] == [s for _, s in want]


def test_a_large_random_matrix_agrees_too() -> None:
    rng = np.random.default_rng(7)
    m, n, k = 50, 4_000, 40
    vectors = rng.standard_normal((n, 16)).astype(np.float32)
    vectors[::7] = vectors[0]  # shared vectors: tied scores
    scores = np.ascontiguousarray(rng.standard_normal((m, 16)).astype(np.float32) @ vectors.T)
    available = rng.random(n) > 0.1
    excludes = [rng.integers(0, n, 10).tolist() for _ in range(m)]
    found = top_k(scores, available.view(np.uint8), k, excludes)
    for row, exclude, got in zip(scores.tolist(), excludes, found, strict=True):
        assert got == top_k_reference(row, available.tolist(), k, set(exclude))


def test_malformed_input_is_a_clear_error() -> None:
    scores = np.zeros((2, 3), dtype=np.float32)
    mask = np.ones(3, dtype=np.uint8)
    with pytest.raises(ValueError, match="C-contiguous 2-d"):
        top_k(np.zeros(3, dtype=np.float32), mask, 1, [[]])
    with pytest.raises(ValueError, match="C-contiguous 2-d"):
        top_k(np.asfortranarray(np.zeros((3, 2), dtype=np.float32)), mask, 1, [[], [], []])
    with pytest.raises(BufferError):
        top_k(scores.astype(np.float64), mask, 1, [[], []])
    with pytest.raises(ValueError, match="a byte for every column"):
        top_k(scores, mask[:2], 1, [[], []])
    with pytest.raises(ValueError, match="one list per row"):
        top_k(scores, mask, 1, [[]])
    with pytest.raises(ValueError, match="out of range"):
        top_k(scores, mask, 1, [[3], []])
    with pytest.raises(ValueError, match="name every column"):
        top_k_labelled(scores, mask, 1, [[], []], ["a", "b"])
    with pytest.raises(ValueError, match="one list per row"):
        top_k_labelled(scores, mask, 1, [[]], ["a", "b", "c"])


# Interest vectors: sums of decayed unit vectors, so any finite float32 of moderate size.
FLOAT32 = st.floats(-1e6, 1e6, width=32, allow_subnormal=True)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.lists(FLOAT32, max_size=400),
        st.lists(st.sampled_from([0.0, 0.5, -0.5, 1.5, -2.5, 127.0, 63.5]), max_size=50),
    )
)
def test_int8_codes_equal_the_numpy_reference_bit_for_bit(values: list[float]) -> None:
    vector = np.array(values, dtype=np.float32)
    codes, scale = quantise_i8(vector)
    want_codes, want_scale = quantise_reference(vector)
    assert (codes, scale) == (want_codes, want_scale)
    back = np.frombuffer(dequantise_i8(codes, scale), dtype=np.float32)
    want = dequantise_reference(want_codes, want_scale)
    assert back.dtype == want.dtype and back.tobytes() == want.tobytes()
    back[:] = 0  # writable, as the decoded state's vectors must be


def test_a_vector_that_is_not_contiguous_float32_is_refused() -> None:
    with pytest.raises(BufferError):
        quantise_i8(np.zeros(4, dtype=np.float64))
    with pytest.raises(ValueError, match="contiguous"):
        quantise_i8(np.zeros(8, dtype=np.float32)[::2])
