"""Summarise a py-spy profile of a worker: the functions each thread spent its samples in.

    py-spy record -p <worker pid> -d 20 -r 100 --threads --nonblocking --format raw -o w.raw
    python -m bench.profile_summary w.raw [--top 40]

A worker runs two busy threads: ``MainThread`` (the event loop: Kafka, Redis, HTTP, the batch
steps that do I/O) and ``pulse-rank_0`` (folding and ranking, ``Personaliser._off_loop``). For
each, the samples that fell in each function or below it (inclusive), most first; a sample is
1/rate of a second of that thread's time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r" \(.*?([^/]+\.py):\d+\)")


def summary(path: Path) -> dict[str, Counter[str]]:
    """thread name -> function -> inclusive samples (``"(all)"``: the thread's samples).
    Lines that are not ``stack count`` (``--nonblocking`` can read a stack while the worker
    changes it, and write bytes of its memory) are counted under ``"(unreadable lines)"``."""
    threads: dict[str, Counter[str]] = {}
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        stack, _, n = line.rpartition(" ")
        if not n.isdigit() or ";" not in stack:
            threads.setdefault("(unreadable lines)", Counter())["(all)"] += 1
            continue
        frames = stack.split(";")
        name = frames[0].split(": ", 1)[-1]
        counts = threads.setdefault(name, Counter())
        counts["(all)"] += int(n)
        for function in {_FRAME.sub(r" (\1)", f) for f in frames[1:]}:
            counts[function] += int(n)
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    for thread, counts in summary(args.raw).items():
        print(f"== {thread}: {counts['(all)']:,} samples")
        for function, n in counts.most_common(args.top):
            print(f"{n:7,} {function[:120]}")


if __name__ == "__main__":
    main()
