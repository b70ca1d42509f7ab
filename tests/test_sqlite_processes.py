"""Many processes, one SQLite file: 4 spawned interpreters track on one customer at once.

Each worker opens its own SQLiteStore on the file; a barrier releases them together so their
transactions really contend for SQLite's write lock. Nothing may be lost and nothing overspent.
Run with `-s` to see the throughput.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlite_workers import CUSTOMER, FEATURE, track_many

from meterlib import Ledger
from meterlib.results import Event
from meterlib.stores import SQLiteStore

PROCESSES = 4
CALLS = 2_000
JOIN_TIMEOUT = 300  # seconds: a guard against a hung worker, not a wait for time to pass

pytestmark = pytest.mark.slow

Outcome = tuple[int, Decimal | None, float, float]


def _run(path: Path) -> list[Outcome]:
    """Run PROCESSES workers of CALLS tracks together; print the throughput they reached."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=track_many, args=(str(path), CALLS, barrier, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes: list[Outcome] = [results.get(timeout=JOIN_TIMEOUT) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=JOIN_TIMEOUT)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    seconds = max(o[3] for o in outcomes) - min(o[2] for o in outcomes)
    tracks = PROCESSES * CALLS
    print(
        f"\n{PROCESSES} processes × {CALLS} tracks on one SQLite file: {seconds:.2f} s, "
        f"{tracks / seconds:,.0f} tracks/s"
    )
    return outcomes


def _all_events(ledger: Ledger) -> list[Event]:
    """Every event of the customer, page by page."""
    found: list[Event] = []
    cursor: str | None = None
    while True:
        page = ledger.events(CUSTOMER, limit=1_000, cursor=cursor)
        found += page.events
        cursor = page.next_cursor
        if cursor is None:
            return found


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    """A fresh database file (created by the parent before the workers start)."""
    path = tmp_path / "meter.db"
    SQLiteStore(path).close()
    yield path


class TestProcessesShareOneFile:
    """4 processes × 2 000 tracks on one customer lose no update and never overspend."""

    def test_tracks_lose_no_update(self, path: Path) -> None:
        """4 × 2 000 tracks of 1 against a large grant: usage exactly 8 000, 8 000 events."""
        with Ledger(SQLiteStore(path)) as ledger:
            ledger.create(CUSTOMER, FEATURE, included=1_000_000)
        outcomes = _run(path)
        assert sum(deducted for deducted, *_ in outcomes) == PROCESSES * CALLS
        with Ledger(SQLiteStore(path)) as ledger:
            balance = ledger.balance(CUSTOMER, FEATURE)
            assert balance is not None
            assert (balance.usage, balance.remaining) == (Decimal(8_000), Decimal(992_000))
            events = _all_events(ledger)
        assert len(events) == PROCESSES * CALLS
        assert len({e.id for e in events}) == PROCESSES * CALLS

    def test_capped_tracks_spend_the_last_unit_once(self, path: Path) -> None:
        """4 × 2 000 tracks of 1 against 5 000 without overage: exactly 5 000 deduct, never
        below 0, and remaining ends at 0."""
        with Ledger(SQLiteStore(path)) as ledger:
            ledger.create(CUSTOMER, FEATURE, included=5_000)
        outcomes = _run(path)
        assert sum(deducted for deducted, *_ in outcomes) == 5_000
        assert all(lowest is not None and lowest >= 0 for _, lowest, *_ in outcomes)
        with Ledger(SQLiteStore(path)) as ledger:
            balance = ledger.balance(CUSTOMER, FEATURE)
            assert balance is not None
            assert (balance.usage, balance.remaining) == (Decimal(5_000), Decimal(0))
            events = _all_events(ledger)
        assert len(events) == PROCESSES * CALLS
        deducting = [e for e in events if e.deductions]
        assert len(deducting) == 5_000
        assert sum(d.value for e in deducting for d in e.deductions) == 5_000
