"""The encoder as a worker uses it: ONNX model, micro-batcher and query cache, from settings."""

from __future__ import annotations

import os

from core.metrics import Metrics
from core.settings import Settings
from encoders.batcher import BatcherConfig, EncodeTiming, MicroBatcher
from encoders.cache import QueryCache
from encoders.encoder import OnnxEncoder
from encoders.pooling import Floats
from encoders.session import CUDA

# Micro-batch defaults per provider, from `make bench-encoder` (README, "Measured"): on the CPU
# batches of 64, one at a time, reach the raw runtime's best; on CUDA (H200, fp16) they reach
# 46 % of it, batches of up to 256 with two in flight 105 %.
BATCH_DEFAULTS = {"cpu": (64, 1), "cuda": (256, 2)}


def encoder_threads(settings: Settings) -> int:
    """ONNX Runtime's intra-op threads: as set, else all cores but the one the worker's event
    loop needs (searches at 200 new queries/s on 2 cores: the loop's lag p90 12.1 ms with the
    encoder on both cores, 3.8-5.2 ms with one; README "Search")."""
    if settings.encoder_threads is not None:
        return settings.encoder_threads
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core counts
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return max(1, cores - 1)


def batch_config(settings: Settings, on_cuda: bool) -> BatcherConfig:
    size, in_flight = BATCH_DEFAULTS["cuda" if on_cuda else "cpu"]
    return BatcherConfig(
        max_batch_size=settings.encoder_batch_max_size or size,
        max_wait_ms=settings.encoder_batch_max_wait_ms,
        max_pending=settings.encoder_max_pending,
        max_in_flight=settings.encoder_in_flight or in_flight,
    )


class EncoderService:
    """``encode_text`` for product and review texts, ``encode_query`` (cached) for searches."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.model = OnnxEncoder.load(
            settings.model_path,
            device=settings.device,
            precision=settings.encoder_precision,
            threads=encoder_threads(settings),
        )
        self.batcher = MicroBatcher(
            self.model.encode, batch_config(settings, self.model.providers[0] == CUDA)
        )
        self.queries = QueryCache(self.batcher.submit, settings.query_cache_size, metrics)

    @property
    def model_tag(self) -> str:
        """Which model and variant make the vectors: stored vectors are reused only under it."""
        return self.model.tag

    @property
    def description(self) -> str:
        return f"{self.model.choice.precision} on {self.model.providers[0]}"

    async def encode_text(self, text: str) -> Floats:
        return await self.batcher.encode(text)

    async def encode_query(self, query: str, timing: EncodeTiming | None = None) -> Floats:
        return await self.queries.encode(query, timing)

    async def close(self) -> None:
        await self.batcher.close()
