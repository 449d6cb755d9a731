"""The end-to-end benchmark's setups: which workers, with which settings (``bench.e2e_bench``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from bench.local_cluster import cluster_settings
from core.settings import Settings


@dataclass(frozen=True)
class Setup:
    name: str
    workers: int
    personalise: bool
    cluster: bool = False
    # Settings fields that differ from the defaults (a ``--variant``).
    settings: tuple[tuple[str, str], ...] = ()


SETUPS = {
    "ceiling": Setup("ceiling", 1, False),
    "engine": Setup("engine", 1, True),
    "two_workers": Setup("two_workers", 2, True),
    "engine_cluster": Setup("engine_cluster", 1, True, cluster=True),
    "two_workers_cluster": Setup("two_workers_cluster", 2, True, cluster=True),
}


def setup_settings(setup: Setup, names: dict[str, str], partitions: int, port: int) -> Settings:
    """The workers' settings of ``setup`` in a run of its own (``names``: topics and keys)."""
    return Settings(
        **names,  # type: ignore[arg-type]
        **(cluster_settings() if setup.cluster else {}),
        partitions=partitions,
        web_port=port,
        personalise=setup.personalise,
        **dict(setup.settings),  # type: ignore[arg-type]
    )


def variant(text: str) -> Setup:
    """``NAME:FIELD=VALUE[,FIELD=VALUE]``: an engine of one worker with these settings."""
    name, _, fields = text.partition(":")
    if not name or name in SETUPS or not name.replace("_", "").replace("-", "").isalnum():
        raise argparse.ArgumentTypeError(
            f"a variant's name: letters, digits, - and _, not one of {', '.join(SETUPS)}"
        )
    pairs = [pair.partition("=") for pair in fields.split(",") if pair]
    if not pairs or any(not sep or not field for field, sep, _ in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME:FIELD=VALUE[,FIELD=VALUE]")
    changed = {field: value for field, _, value in pairs}
    unknown = sorted(set(changed) - set(Settings.model_fields))
    if unknown:
        raise argparse.ArgumentTypeError(f"no such setting: {', '.join(unknown)}")
    try:
        Settings(**changed)  # type: ignore[arg-type]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc
    return Setup(name, 1, True, settings=tuple(changed.items()))
