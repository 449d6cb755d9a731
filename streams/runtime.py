"""What a running worker holds besides the Faust app: clients, metrics, the batch processor.

:class:`RuntimeService` ties their start and stop to the Faust app's lifecycle.
"""

from __future__ import annotations

from mode import Service

from streams.ingest import IngestResources
from streams.metrics import Metrics
from streams.producer import EventProducer
from streams.settings import Settings
from streams.topics import Topics


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self.metrics = Metrics()
        self.ingest = IngestResources(settings, self.metrics)
        self.producer = EventProducer(settings, client_id="pulse-http-ingest")
        self._producer_started = False

    async def start(self) -> None:
        await self.ingest.start()
        if not self._producer_started:
            await self.producer.start()
            self._producer_started = True

    async def stop(self) -> None:
        if self._producer_started:
            self._producer_started = False
            await self.producer.stop()
        await self.ingest.stop()


class RuntimeService(Service):
    """Starts the runtime's clients with the app and closes them when it stops."""

    def __init__(self, runtime: Runtime, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.runtime = runtime

    async def on_start(self) -> None:
        await self.runtime.start()

    async def on_stop(self) -> None:
        await self.runtime.stop()
