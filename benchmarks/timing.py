"""Medians over interleaved rounds, and the machine the numbers came from."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

Op = Callable[[], object]


def per_call(op: Op, number: int) -> float:
    """Seconds one call of `op` takes, averaged over `number` calls in a row."""
    start = time.perf_counter()
    for _ in range(number):
        op()
    return (time.perf_counter() - start) / number


def compare(subject: Op, baseline: Op, *, number: int, rounds: int) -> dict[str, Any]:
    """Median seconds per call of `subject` and of `baseline`, timed in alternating rounds.

    Each round times `number` calls of one then `number` of the other, swapping which goes
    first every round, so drift (CPU frequency, WAL growth, caches) hits both alike.
    """
    per_call(subject, max(1, number // 4))  # warm up caches, prepared statements, the WAL
    per_call(baseline, max(1, number // 4))
    ours: list[float] = []
    theirs: list[float] = []
    for r in range(rounds):
        if r % 2:
            theirs.append(per_call(baseline, number))
            ours.append(per_call(subject, number))
        else:
            ours.append(per_call(subject, number))
            theirs.append(per_call(baseline, number))
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    return {
        "meterlib_us": ours_median * 1e6,
        "baseline_us": theirs_median * 1e6,
        "ratio": ours_median / theirs_median,
        "rounds": rounds,
        "calls_per_round": number,
    }


def median_seconds(op: Op, *, rounds: int) -> float:
    """The median over `rounds` of one call of `op` (a call that is itself a whole workload)."""
    op()
    return statistics.median(per_call(op, 1) for _ in range(rounds))


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
    }
