"""What the rest of Pulse needs of an encoder: the seam in front of ``encoders.service``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

from encoders.batcher import EncodeTiming
from encoders.pooling import Floats

K = TypeVar("K")


class TextEncoder(Protocol):
    """``encoders.service.EncoderService`` in a worker; fakes in unit tests."""

    async def encode_query(self, query: str, timing: EncodeTiming | None = None) -> Floats:
        """``timing``, when given, learns where a new query's time went (``encoders.batcher``)."""

    async def encode_text(self, text: str) -> Floats: ...


async def encode_each(
    encode: Callable[[str], Awaitable[Floats]], texts: Mapping[K, str]
) -> tuple[dict[K, Floats], dict[K, Exception]]:
    """Encode every text at once; each key gets its vector, or the error its text met (one text
    the encoder refuses never costs the others)."""
    keys = list(texts)
    results = await asyncio.gather(*(encode(texts[k]) for k in keys), return_exceptions=True)
    vectors: dict[K, Floats] = {}
    errors: dict[K, Exception] = {}
    for key, result in zip(keys, results, strict=True):
        if isinstance(result, Exception):
            errors[key] = result
        elif isinstance(result, BaseException):
            raise result  # cancellation: not the text's fault
        else:
            vectors[key] = result
    return vectors, errors
