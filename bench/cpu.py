"""CPU time of the processes a benchmark runs against, from /proc: how many cores each part
(worker, Kafka, Redis) kept busy over a window."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process so far (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc)
    return (int(fields[11]) + int(fields[12])) / TICKS


def stack_pids(var: Path = Path("var")) -> dict[str, list[int]]:
    """The local stack's Kafka and Redis, from the pid files ``infra/stack.sh`` writes."""
    out: dict[str, list[int]] = {}
    for name in ("kafka", "redis"):
        with contextlib.suppress(OSError, ValueError):  # not running: not measured
            out[name] = [int((var / "run" / f"{name}.pid").read_text().strip())]
    return out


class CpuMeter:
    """Cores used by each named group of processes between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self._t0 = 0.0

    def _now(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(p) for p in pids) for name, pids in self.pids.items()}

    def start(self) -> None:
        self._start, self._t0 = self._now(), time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores per group (1.0: one core busy all the window), and the window in seconds."""
        wall = max(time.monotonic() - self._t0, 1e-9)
        now = self._now()
        cores = {name: round((now[name] - self._start.get(name, 0.0)) / wall, 3) for name in now}
        return {**cores, "window_s": round(wall, 2)}
