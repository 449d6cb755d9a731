"""Fast tokenisation with the model's own ``tokenizer.json`` (Hugging Face ``tokenizers``).

On the CPU, batches are tokenised in the calling thread (the encoder's), not by the library's
own pool: for the few queries of a search's batch the pool cost five times the CPU of a
serial call (0.19 against 0.04 ms for two queries, two threads more), and for 64 texts of 300
characters it saved 2.8 ms of a batch whose model run takes hundreds (5.1 against 7.9 ms
wall, 8.7 against 7.9 ms CPU; one-off timings on the 2-core machine). An encoder on CUDA asks
for the pool (``pool=True``): there the model runs a batch of 256 queries in a few ms and one
thread's tokenising was the limit (H200 with 16 host cores, ``bench.encoder_bench``, fp16,
batches of 256, two in flight: raw 20,410 queries/s serial against 32,710 with the pool, the
micro-batcher at saturation 23,085 against 31,581, reviews 4,438 against 6,350).
``TOKENIZERS_PARALLELISM`` in the environment, when set, decides instead; the setting is the
process's, so the first tokenizer made decides for the ones after it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

Ids = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Batch:
    input_ids: Ids
    attention_mask: Ids
    token_type_ids: Ids


class TextTokenizer:
    """Tokenises a batch to the longest text in it, truncated at ``max_length`` tokens."""

    def __init__(self, path: Path, max_length: int = 256, pool: bool = False) -> None:
        # the library reads it when it tokenises
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true" if pool else "false")
        self.pool = pool  # asked for; the environment's setting decides
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.enable_truncation(max_length=max_length)
        pad_id = self._tokenizer.token_to_id("[PAD]")
        self._tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
        self.max_length = max_length

    def __call__(self, texts: Sequence[str]) -> Batch:
        encodings = self._tokenizer.encode_batch(list(texts))
        return Batch(
            input_ids=np.array([e.ids for e in encodings], dtype=np.int64),
            attention_mask=np.array([e.attention_mask for e in encodings], dtype=np.int64),
            token_type_ids=np.array([e.type_ids for e in encodings], dtype=np.int64),
        )

    def count(self, text: str) -> int:
        """Tokens ``text`` takes, [CLS] and [SEP] included, after truncation."""
        return len(self._tokenizer.encode(text).ids)
