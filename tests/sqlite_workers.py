"""Entry points of the child processes the SQLite process and crash tests spawn.

A module of its own, without pytest, so that a spawned interpreter imports little before it
starts work. Every child opens its own SQLiteStore on the shared file and uses the system
clock (the tests only count).
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any

from meterlib import Ledger
from meterlib.stores import SQLiteStore

CUSTOMER = "c1"
FEATURE = "messages"
ENDLESS = 1_000_000  # the crash child's loop bound: far more calls than it lives for


def track_many(path: str, calls: int, barrier: Any, results: Any) -> None:
    """`calls` tracks of 1 once every worker is ready; reports (calls that deducted something,
    lowest remaining seen, first and last instants in epoch seconds)."""
    deducted = 0
    lowest: Decimal | None = None
    with Ledger(SQLiteStore(path)) as ledger:
        barrier.wait()
        began = time.time()
        for _ in range(calls):
            result = ledger.track(CUSTOMER, FEATURE, value=1)
            deducted += bool(result.deductions)
            balance = result.balance
            if balance is not None and (lowest is None or balance.remaining < lowest):
                lowest = balance.remaining
        ended = time.time()
    results.put((deducted, lowest, began, ended))


def track_until_killed(path: str, log_path: str, prefix: str, ready: Any) -> None:
    """Track 1 in a loop until killed; call n uses idempotency key f"{prefix}-{n}", and one
    byte is appended to `log_path` after each call returns (so its size counts returns)."""
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    with Ledger(SQLiteStore(path)) as ledger:
        ready.set()
        for n in range(ENDLESS):
            ledger.track(CUSTOMER, FEATURE, value=1, idempotency_key=f"{prefix}-{n}")
            os.write(fd, b".")
    os.close(fd)


def track_while(path: str, barrier: Any, stop: Any, results: Any) -> None:
    """Track 1 until `stop` is set; reports (calls, the calls slower than 50 ms as (epoch
    seconds at their start, seconds taken), errors seen, first and last instants). A
    StoreError (`database is locked`) is counted, not raised, so the parent can say how many
    surfaced."""
    from meterlib import StoreError

    calls = 0
    slow: list[tuple[float, float]] = []
    errors: list[str] = []
    with Ledger(SQLiteStore(path, timeout=30)) as ledger:
        barrier.wait()
        began = time.time()
        while not stop.is_set():
            at, t0 = time.time(), time.perf_counter()
            try:
                ledger.track(CUSTOMER, FEATURE, value=1)
            except StoreError as exc:
                errors.append(str(exc))
            took = time.perf_counter() - t0
            if took > 0.05:
                slow.append((at, took))
            calls += 1
        ended = time.time()
    results.put((calls, slow, errors[:3], began, ended))
