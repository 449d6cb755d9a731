"""The encoder seam: ``encode(texts) -> (n, dim) float32``, L2-normalised rows.

:class:`OnnxEncoder` is the real adapter (ONNX Runtime, no torch); :class:`HashingEncoder` is
the in-memory fake for unit tests of other parts (bag of hashed words, no model needed).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort

from encoders import manifest
from encoders.pooling import Floats, l2_normalise, mean_pool
from encoders.session import (
    CUDA,
    CudaUnavailable,
    Device,
    Precision,
    SessionChoice,
    open_session,
    plan,
)
from encoders.tokenizer import TextTokenizer

DIM = 384
log = logging.getLogger(__name__)


class Encoder(Protocol):
    dim: int

    def encode(self, texts: Sequence[str]) -> Floats: ...


class OnnxEncoder:
    """all-MiniLM-L6-v2 in ONNX Runtime: tokenise, run, mean-pool, normalise."""

    dim = DIM

    def __init__(
        self,
        choice: SessionChoice,
        tokenizer: TextTokenizer,
        threads: int = 0,
        session: ort.InferenceSession | None = None,
    ) -> None:
        self.choice = choice
        self.tokenizer = tokenizer
        self.session = session if session is not None else open_session(choice, threads)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.providers: list[str] = self.session.get_providers()
        files = (manifest.read(choice.path.parent) or {}).get("files", {})
        digest = files.get(choice.path.name, {}).get("sha256", "unknown")
        # The variant and its file's digest (CUDA and CPU runs of one file count as one).
        self.tag = f"{choice.precision}:{digest[:16]}"

    @classmethod
    def load(
        cls,
        model_root: Path,
        *,
        device: Device = "auto",
        precision: Precision = "auto",
        threads: int = 0,
    ) -> OnnxEncoder:
        choice = plan(model_root, device, precision)
        try:
            session = open_session(choice, threads)
        except CudaUnavailable as exc:
            if device == "cuda":
                raise
            log.warning("%s; encoding on the CPU", exc)
            choice = plan(model_root, "cpu", precision)
            session = open_session(choice, threads)
        # A GPU's batches are large and its hosts have cores to spare: there the tokenizers
        # library's own pool tokenises them (encoders/tokenizer.py has the measurements).
        on_cuda = CUDA in session.get_providers()
        path = manifest.model_dir(model_root) / manifest.TOKENIZER
        return cls(choice, TextTokenizer(path, pool=on_cuda), threads, session)

    def encode(self, texts: Sequence[str]) -> Floats:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self.tokenizer(texts)
        feeds = {
            "input_ids": batch.input_ids,
            "attention_mask": batch.attention_mask,
            "token_type_ids": batch.token_type_ids,
        }
        outputs = self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
        return l2_normalise(mean_pool(outputs[0], batch.attention_mask))


class HashingEncoder:
    """Deterministic bag-of-words vectors: texts sharing words get similar vectors."""

    def __init__(self, dim: int = DIM) -> None:
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> Floats:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                out[row, h % self.dim] += 1.0 if (h >> 63) else -1.0
        return l2_normalise(out)
