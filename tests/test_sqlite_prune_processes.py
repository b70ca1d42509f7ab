"""A prune of many events on a SQLite file while 4 other processes keep tracking on it.

The prune works a chunk per short write transaction, and every writer waits for SQLite's
write lock at the same short interval (`meterlib.stores.sqlite.waiting`), so no `database is
locked` surfaces and no track waits a second. The trackers first run alone for BASELINE
seconds; their worst wait then is printed beside the one during the prune. Slow (run by name in CI);
METERLIB_PRUNE_EVENTS sets how many events are pruned (default 100 000, CI's size; the issue's
figure is 1 000 000).
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlite_workers import CUSTOMER, FEATURE, track_while

from meterlib import Ledger, ManualClock
from meterlib.stores import SQLiteStore

PROCESSES = 4
EVENTS = int(os.environ.get("METERLIB_PRUNE_EVENTS", "100000"))
BATCH = 1_000
BASELINE = 3.0  # seconds the trackers run before the prune starts
JOIN_TIMEOUT = 600  # seconds: a guard against a hung worker, not a wait for time to pass

pytestmark = pytest.mark.slow


def _seed(path: Path) -> int:
    """EVENTS events in 2020 (BATCH a minute), one customer; returns the instant after the last.

    The Ledger records the first; the rest are copies of its row, inserted in one transaction
    (as benchmarks/scale.py builds its big files): a million tracks would take minutes, and
    the prune reads only the events, never the balance they were deducted from."""
    start = ManualClock(datetime(2020, 1, 1, tzinfo=UTC))()
    with Ledger(SQLiteStore(path), clock=lambda: start) as ledger:
        ledger.create(CUSTOMER, FEATURE, included=10**12)
        ledger.track(CUSTOMER, FEATURE)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
        template = conn.execute("SELECT * FROM events").fetchone()
        at = {name: columns.index(name) for name in ("id", "seq", "timestamp")}

        def copies() -> Iterator[tuple[object, ...]]:
            row = list(template)
            for n in range(1, EVENTS):
                row[at["id"]] = f"evt_{n + 1}"
                row[at["seq"]] = n + 1
                row[at["timestamp"]] = start + (n // BATCH) * 60_000
                yield tuple(row)

        conn.execute("BEGIN IMMEDIATE")
        marks = ", ".join("?" * len(columns))
        conn.executemany(f"INSERT INTO events VALUES ({marks})", copies())
        conn.execute("UPDATE seqs SET value = ? WHERE kind = 'event'", (EVENTS,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return start + (EVENTS // BATCH + 1) * 60_000


def test_trackers_keep_tracking_while_a_prune_runs(tmp_path: Path) -> None:
    path = tmp_path / "meter.db"
    cut = _seed(path)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES + 1)
    stop = ctx.Event()
    results = ctx.Queue()
    workers = [
        ctx.Process(target=track_while, args=(str(path), barrier, stop, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=JOIN_TIMEOUT)
        alone = time.time()
        time.sleep(BASELINE)  # a real wait: other processes run meanwhile, nothing is timed here
        with Ledger(SQLiteStore(path, timeout=30)) as ledger:
            began = time.time()
            report = ledger.prune(cut)
            ended = time.time()
        stop.set()
        outcomes = [results.get(timeout=JOIN_TIMEOUT) for _ in workers]
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=JOIN_TIMEOUT)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    assert report.events_removed == EVENTS
    calls = sum(o[0] for o in outcomes)
    slow = [s for o in outcomes for s in o[1]]
    baseline = max([took for at, took in slow if alone <= at < began], default=0.0)
    slowest = max([took for at, took in slow if began <= at < ended], default=0.0)
    errors = [e for o in outcomes for e in o[2]]
    print(
        f"\nprune of {EVENTS:,} events: {ended - began:.1f} s while {PROCESSES} processes "
        f"tracked {calls:,} times; slowest track {slowest * 1000:.0f} ms during the prune, "
        f"{baseline * 1000:.0f} ms before it"
    )
    assert errors == []
    assert slowest < 1.0
    assert all(o[3] < ended and o[4] > began for o in outcomes)  # they tracked during it
    assert calls > PROCESSES * 10
    with Ledger(SQLiteStore(path)) as ledger:
        balance = ledger.balance(CUSTOMER, FEATURE)
        assert balance is not None and balance.usage == 1 + calls  # copies deducted nothing
