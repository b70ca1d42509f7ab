"""Medians over interleaved rounds, and the machine the numbers came from."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

Op = Callable[[], object]


def per_call(op: Op, number: int) -> float:
    """Seconds one call of `op` takes, averaged over `number` calls in a row."""
    start = time.perf_counter()
    for _ in range(number):
        op()
    return (time.perf_counter() - start) / number


def interleave(ops: Mapping[str, Op], *, number: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each op, all timed in the same rounds.

    Each round times `number` calls of each op in turn; the order rotates every round (two
    ops swap), so drift (CPU frequency, WAL growth, caches, a neighbour's load) hits all alike.
    """
    names = list(ops)
    for name in names:  # warm up caches, prepared statements, the WAL
        per_call(ops[name], max(1, number // 4))
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(per_call(ops[name], number))
    return {name: statistics.median(spent) for name, spent in times.items()}


def compare(subject: Op, baseline: Op, *, number: int, rounds: int) -> dict[str, Any]:
    """Median seconds per call of `subject` and of `baseline`, timed in alternating rounds."""
    found = interleave({"subject": subject, "baseline": baseline}, number=number, rounds=rounds)
    return ratio_of(found["subject"], found["baseline"], number=number, rounds=rounds)


def ratio_of(ours: float, theirs: float, *, number: int, rounds: int) -> dict[str, Any]:
    """The result of one pair: both medians in µs and their ratio."""
    return {
        "meterlib_us": ours * 1e6,
        "baseline_us": theirs * 1e6,
        "ratio": ours / theirs,
        "rounds": rounds,
        "calls_per_round": number,
    }


def batch_speedup(batch: Op, singles: Op, *, size: int, rounds: int) -> dict[str, Any]:
    """One batch of `size` items beside `size` single calls, alternated round by round."""
    found = interleave({"batch": batch, "singles": singles}, number=1, rounds=rounds)
    return {
        "singles_ms": found["singles"] * 1e3,
        "batch_ms": found["batch"] * 1e3,
        "speedup": found["singles"] / found["batch"],
        "size": size,
        "rounds": rounds,
    }


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import sqlite3

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
