"""Sentence vectors from token vectors: attention-masked mean, then L2 normalisation. Pure numpy.

>>> import numpy as np
>>> tokens = np.array([[[1.0, 0.0], [3.0, 4.0], [9.0, 9.0]]], dtype=np.float32)
>>> mask = np.array([[1, 1, 0]])
>>> mean_pool(tokens, mask).tolist()
[[2.0, 2.0]]
>>> l2_normalise(np.array([[3.0, 4.0]], dtype=np.float32)).tolist()
[[0.6000000238418579, 0.800000011920929]]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]


def mean_pool(
    token_vectors: npt.NDArray[np.floating], attention_mask: npt.NDArray[np.integer]
) -> Floats:
    """(batch, tokens, dim) and (batch, tokens) -> (batch, dim): the mean over real tokens."""
    mask = attention_mask[..., None].astype(np.float32)
    summed = (token_vectors.astype(np.float32) * mask).sum(axis=1)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    pooled: Floats = (summed / counts).astype(np.float32)
    return pooled


def l2_normalise(vectors: Floats) -> Floats:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Floats = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return unit
