"""Build the Faust app of a Pulse worker from settings."""

from __future__ import annotations

import tempfile
from pathlib import Path

import faust
from mode import Service

from core.settings import Settings
from streams import agents, views
from streams.api import Api
from streams.consumer import FetchSizedTransport
from streams.worker import Worker


def broker_url(bootstrap: str) -> str:
    """``"a:9092,b:9092"`` as Faust's ``"kafka://a:9092;kafka://b:9092"``."""
    hosts = [h.strip() for h in bootstrap.split(",") if h.strip()]
    return ";".join(f"kafka://{h}" for h in hosts)


def create_app(settings: Settings) -> tuple[faust.App, Worker]:
    app = faust.App(
        settings.app_id,
        broker=broker_url(settings.kafka_bootstrap),
        store="memory://",
        # Faust's own files (none with the memory store) out of the working directory.
        datadir=str(Path(tempfile.gettempdir()) / f"{settings.app_id}-data"),
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
        broker_commit_every=10_000,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        # A dead worker's partitions move after this, not after Faust's default minute.
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=settings.heartbeat_interval_seconds,
        consumer_group_instance_id=settings.group_instance_id,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        # Faust's own pages that show tables and the cluster's layout are not Pulse's API.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_application_options={
            "client_max_size": settings.http_max_body_bytes,
            "middlewares": [views.unread_bodies_close],
        },
    )
    # before anything asks the app for its transport (topics and agents below do)
    app.transport = FetchSizedTransport(
        app.conf.broker_consumer,
        app,
        fetch_min_bytes=settings.fetch_min_bytes,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )
    worker = Worker(settings)
    worker.assignment = lambda: app.consumer.assignment()
    app.add_dependency(WorkerService(worker))
    agents.register(app, worker)
    views.register(app, Api(worker))
    return app, worker


class WorkerService(Service):
    """Starts the worker's parts with the app and stops them when it stops."""

    def __init__(self, worker: Worker, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.worker = worker

    async def on_start(self) -> None:
        await self.worker.start()

    async def on_stop(self) -> None:
        await self.worker.stop()
