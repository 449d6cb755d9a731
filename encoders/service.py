"""The encoder as a worker uses it: ONNX model, micro-batcher and query cache, from settings."""

from __future__ import annotations

from core.metrics import Metrics
from core.settings import Settings
from encoders.batcher import BatcherConfig, MicroBatcher
from encoders.cache import QueryCache
from encoders.encoder import OnnxEncoder
from encoders.pooling import Floats


class EncoderService:
    """``encode_text`` for product and review texts, ``encode_query`` (cached) for searches."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.model = OnnxEncoder.load(
            settings.model_path,
            device=settings.device,
            precision=settings.encoder_precision,
            threads=settings.encoder_threads,
        )
        self.batcher = MicroBatcher(
            self.model.encode,
            BatcherConfig(
                max_batch_size=settings.encoder_batch_max_size,
                max_wait_ms=settings.encoder_batch_max_wait_ms,
                max_pending=settings.encoder_max_pending,
                max_in_flight=settings.encoder_in_flight,
            ),
        )
        self.queries = QueryCache(self.batcher.encode, settings.query_cache_size, metrics)

    @property
    def model_tag(self) -> str:
        """Which model and variant make the vectors: stored vectors are reused only under it."""
        return self.model.tag

    @property
    def description(self) -> str:
        return f"{self.model.choice.precision} on {self.model.providers[0]}"

    async def encode_text(self, text: str) -> Floats:
        return await self.batcher.encode(text)

    async def encode_query(self, query: str) -> Floats:
        return await self.queries.encode(query)

    async def close(self) -> None:
        await self.batcher.close()
