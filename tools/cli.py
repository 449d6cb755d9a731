"""The ``pulse`` command line: worker, topics, replay, stats and the demo."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import SecretStr

from core.errors import PulseError
from core.settings import Settings, admin_token_problem
from replay.source import Source

T = TypeVar("T")
DATA_ROOT = Path("../shared/data")
DEFAULT_DATA = {
    "online-retail": DATA_ROOT / "online-retail-uci" / "online_retail.csv.gz",
    "taobao": DATA_ROOT / "taobao-userbehavior" / "UserBehavior_first110k.csv.gz",
}


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Pulse: streaming personalisation for web shops. Settings come from PULSE_* variables."""
    try:
        ctx.obj = Settings()
    except ValueError as exc:
        raise click.ClickException(f"invalid PULSE_* setting: {exc}") from exc
    logging.basicConfig(
        level=ctx.obj.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.pass_obj
def worker(settings: Settings) -> None:
    """Run a worker: consume events, dead-letter bad ones, serve HTTP on PULSE_WEB_PORT."""
    from faust import Worker

    from core.heap import BatchHeap, settle_heap, watch_collections
    from streams.admin import check_input_partitions, ensure_topics
    from streams.app import create_app

    refused = admin_token_problem(settings)
    if refused is not None:
        raise click.ClickException(f"the worker does not start: {refused}")
    _run(ensure_topics(settings))
    _run(check_input_partitions(settings))  # exits with the reason and the fix
    if settings.numpy_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(settings.numpy_threads, user_api="blas")  # for the whole process
    asyncio.set_event_loop(new_event_loop(settings.event_loop))
    app, runtime = create_app(settings)
    watch_collections(runtime.metrics)
    settle_heap(settings.gc_threshold)
    runtime.after_batch = BatchHeap(settings.gc_full_pass_seconds, runtime.metrics).after_batch
    Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


@main.command()
@click.pass_obj
def topics(settings: Settings) -> None:
    """Create Pulse's topics (PULSE_PARTITIONS partitions each) if they are missing."""
    from streams.admin import ensure_topics

    created = _run(ensure_topics(settings))
    click.echo(f"created: {', '.join(created)}" if created else "all topics exist")


@main.command()
@click.argument("source", type=click.Choice(["online-retail", "taobao", "synthetic"]))
@click.option(
    "--data", type=click.Path(path_type=Path), help="Data file (default: ../shared/data)."
)
@click.option("--rate", type=float, default=None, help="Events per second; default: max speed.")
@click.option("--limit", type=int, default=None, help="Stop after this many events.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option(
    "--invalid-share",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of events replaced by broken messages (exercises dead letters).",
)
@click.option("--synthetic-events", type=int, default=20_000, show_default=True)
@click.pass_obj
def replay(
    settings: Settings,
    source: str,
    data: Path | None,
    rate: float | None,
    limit: int | None,
    duration: float | None,
    invalid_share: float,
    synthetic_events: int,
) -> None:
    """Replay real shop data (or a synthetic shop) into Pulse's topics."""
    from replay.run import replay as run_replay
    from streams.admin import ensure_topics

    src = open_source(source, data, synthetic_events)
    _run(ensure_topics(settings))
    report = _run(
        run_replay(
            settings, src, rate=rate, limit=limit, duration_s=duration, invalid_share=invalid_share
        )
    )
    click.echo(report.summary())


def open_source(name: str, data: Path | None, synthetic_events: int = 20_000) -> Source:
    from replay import online_retail, synthetic, taobao

    if name == "synthetic":
        return synthetic.source(synthetic_events)
    path = data or DEFAULT_DATA[name]
    if not path.exists():
        raise click.ClickException(
            f"{path} not found. Pass --data PATH, or use the synthetic shop: "
            "`pulse replay synthetic`. See the README's 'Data' section."
        )
    if name == "online-retail":
        return online_retail.source(path)
    return taobao.source(path)


@main.command("export-model")
@click.option("--fp16", is_flag=True, help="Also write an fp16 model for CUDA.")
@click.option("--force", is_flag=True, help="Export again even when a valid export exists.")
@click.option("--check", is_flag=True, help="Only check; exit 1 when the export is not usable.")
@click.pass_obj
def export_model(settings: Settings, fp16: bool, force: bool, check: bool) -> None:
    """Export all-MiniLM-L6-v2 to ONNX (fp32, int8, optionally fp16) into PULSE_MODEL_PATH."""
    from encoders import manifest

    directory = manifest.model_dir(settings.model_path)
    if check:
        found = manifest.problems(directory, ("fp32", "int8", "fp16") if fp16 else ("fp32", "int8"))
        click.echo("; ".join(found) if found else f"{directory}: valid")
        sys.exit(1 if found else 0)
    from encoders.export import export

    try:
        directory, done = export(settings.model_path, fp16=fp16, force=force)
    except PulseError as exc:
        raise click.ClickException(str(exc)) from exc
    parity = (manifest.read(directory) or {}).get("parity", {})
    click.echo(f"{'exported to' if done else 'already exported, valid:'} {directory}")
    click.echo(f"parity: {parity}")


@main.command()
@click.pass_obj
def stats(settings: Settings) -> None:
    """Print the totals of processed and dead-lettered events kept in Redis."""
    from tools.stats import read_totals

    totals = _run(read_totals(settings))
    click.echo(f"processed: {dict(totals.processed)}")
    click.echo(f"dead-lettered: {dict(totals.dead_lettered)}")


@main.command()
@click.option(
    "--source",
    "source_name",
    type=click.Choice(["online-retail", "synthetic"]),
    default=None,
    help="Default: online-retail when its data is present.",
)
@click.option("--data", type=click.Path(path_type=Path), default=None)
@click.option("--seconds", type=float, default=60.0, show_default=True)
@click.option("--rate", type=float, default=1_000.0, show_default=True)
@click.option("--invalid-share", type=click.FloatRange(0, 1), default=0.01, show_default=True)
@click.option(
    "--trend-window",
    type=click.FloatRange(min=1),
    default=None,
    help="Trend window in seconds of event time. Default: a day for Online Retail (the replay "
    "plays months of the shop in a minute), else PULSE_TREND_WINDOW_SECONDS.",
)
@click.pass_obj
def demo(
    settings: Settings,
    source_name: str | None,
    data: Path | None,
    seconds: float,
    rate: float,
    invalid_share: float,
    trend_window: float | None,
) -> None:
    """Start a worker, replay a shop into it, print live per-second counts, stop cleanly."""
    from tools.demo import run_demo

    if source_name is None:
        path = data or DEFAULT_DATA["online-retail"]
        source_name = "online-retail" if path.exists() else "synthetic"
        if source_name == "synthetic":
            click.echo(f"{path} not found: replaying the generated synthetic shop instead.")
    src = open_source(source_name, data, synthetic_events=int(rate * seconds) + 1_000)
    if trend_window is None and source_name == "online-retail":
        trend_window = 86_400
    if trend_window is not None:
        settings = settings.model_copy(update={"trend_window_seconds": trend_window})
    if admin_token_problem(settings) is not None:
        # The demo's worker is its own: a token for this run, printed for the admin routes.
        token = secrets.token_urlsafe(24)
        settings = settings.model_copy(update={"admin_token": SecretStr(token)})
        click.echo(f"admin token of this demo run (PULSE_ADMIN_TOKEN was not set): {token}")
    _run(run_demo(settings, src, seconds=seconds, rate=rate, invalid_share=invalid_share))


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """A new event loop of ``kind`` (``PULSE_EVENT_LOOP``): Python's, or uvloop's."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError as exc:  # not installed (it is not built for Windows)
            raise click.ClickException(
                f"PULSE_EVENT_LOOP=uvloop, but uvloop cannot be imported ({exc}); install it "
                "or set PULSE_EVENT_LOOP=asyncio"
            ) from exc
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except PulseError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
