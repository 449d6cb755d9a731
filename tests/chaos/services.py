"""Kafka brokers and Redis servers of a chaos test's own, started by the project's own scripts
(``infra/kafka.sh``, ``infra/redis.sh``) on free loopback ports in a folder of their own, and
stopped or killed by the PID those scripts recorded: a test never touches a process it did not
start."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.integration.stack import ROOT, free_port


class OwnService:
    """One service run by ``infra/<name>.sh`` with ``PULSE_VAR_DIR`` pointing at ``var``."""

    def __init__(self, name: str, var: Path, env: dict[str, str]) -> None:
        self.name = name
        self.var = var
        self.env = {**os.environ, "PULSE_VAR_DIR": str(var), **env}

    def start(self) -> None:
        subprocess.run(
            [str(ROOT / "infra" / f"{self.name}.sh"), "start"],
            env=self.env,
            check=True,
            timeout=200,
            capture_output=True,
        )

    @property
    def pid(self) -> int:
        return int((self.var / "run" / f"{self.name}.pid").read_text())

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> None:
        """Send ``sig`` to the service's own process and wait until it is gone."""
        pid = self.pid
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def own_redis(var: Path) -> tuple[OwnService, str]:
    port = free_port()
    service = OwnService("redis", var, {"PULSE_REDIS_PORT": str(port)})
    return service, f"redis://127.0.0.1:{port}/0"


def own_kafka(var: Path) -> tuple[OwnService, str]:
    port, controller = free_port(), free_port()
    env = {
        "PULSE_KAFKA_PORT": str(port),
        "PULSE_KAFKA_CONTROLLER_PORT": str(controller),
        "PULSE_KAFKA_HEAP": "512m",
    }
    return OwnService("kafka", var, env), f"127.0.0.1:{port}"
