"""The local Redis Cluster for benchmarks (``infra/redis-cluster.sh``, three masters)."""

from __future__ import annotations

import atexit
import os
import subprocess
from pathlib import Path
from typing import Any

CLUSTER_PORTS = "7000 7001 7002"


def cluster_settings() -> dict[str, Any]:
    """The local Redis Cluster as worker settings; when it was not running it is started, and
    stopped when the benchmark exits."""
    env = {**os.environ, "PULSE_REDIS_CLUSTER_PORTS": CLUSTER_PORTS}
    script = ["infra/redis-cluster.sh"]
    if subprocess.run([*script, "status"], env=env, capture_output=True).returncode != 0:
        subprocess.run([*script, "start"], env=env, check=True, timeout=120)
        atexit.register(subprocess.run, [*script, "stop"], env=env, timeout=120)
    return {"redis_url": f"redis://127.0.0.1:{CLUSTER_PORTS.split()[0]}", "redis_cluster": True}


def cluster_pids(var: Path = Path("var")) -> list[int]:
    return [
        int((var / "run" / f"redis-cluster-{port}.pid").read_text().strip())
        for port in CLUSTER_PORTS.split()
    ]
