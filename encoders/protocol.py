"""What the rest of Pulse needs of an encoder: the seam in front of ``encoders.service``."""

from __future__ import annotations

from typing import Protocol

from encoders.pooling import Floats


class TextEncoder(Protocol):
    """``encoders.service.EncoderService`` in a worker; fakes in unit tests."""

    async def encode_query(self, query: str) -> Floats: ...

    async def encode_text(self, text: str) -> Floats: ...
