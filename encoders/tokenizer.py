"""Fast tokenisation with the model's own ``tokenizer.json`` (Hugging Face ``tokenizers``)."""

from __future__ import annotations

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

    def __init__(self, path: Path, max_length: int = 256) -> None:
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
