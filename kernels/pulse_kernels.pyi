# Types of the compiled module (kernels/src/lib.rs).

from collections.abc import Buffer, Mapping
from typing import Any

class SessionIndex:
    def __init__(
        self,
        k: int = 100,
        sample: int = 200,
        candidates_from: int = 5,
        max_sessions: int = 100_000,
        postings: int = 500,
    ) -> None: ...
    def __len__(self) -> int: ...
    def __contains__(self, shopper: str) -> bool: ...
    def observe(self, shopper: str, items: list[str], ts_ms: int) -> None: ...
    def forget(self, shopper: str) -> None: ...
    def posting(self, item: str) -> list[int]: ...
    def neighbours(
        self, shopper: str, session: list[str], n: int
    ) -> list[tuple[str, float, str]]: ...

def top_k(
    scores: Buffer, available: Buffer, k: int, excludes: list[list[int]]
) -> list[list[tuple[int, float]]]: ...
def top_k_labelled(
    scores: Buffer, available: Buffer, k: int, excludes: list[list[int]], labels: list[Any]
) -> list[list[tuple[Any, float]]]: ...
def blend_head(
    sources: list[tuple[str, float, list[Any]]],
    floor: float,
    limit: int | None,
    boost: float,
    infos: Mapping[str, Any],
    affinities: dict[str, float],
    affinity_total: float,
) -> list[tuple[str, float, str, str]] | None: ...
def quantise_i8(values: Buffer) -> tuple[bytes, float]: ...
def dequantise_i8(codes: bytes, scale: float) -> bytearray: ...
