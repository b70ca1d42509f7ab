"""`begin` waits for SQLite's write lock in short slices of its own, so that every waiter
tries at the same short interval (SQLite's handler alone lets a long waiter sleep 100 ms
between tries while newcomers take the lock). Driven by a fake connection and a fake clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from meterlib import StoreError
from meterlib.stores import SQLiteStore
from meterlib.stores.sqlite import waiting


def _busy() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database is locked")
    exc.sqlite_errorcode = 5  # type: ignore[attr-defined]
    return exc


class FakeConnection:
    """BEGIN fails as busy `busy` times; records every statement."""

    def __init__(self, busy: int, error: sqlite3.OperationalError | None = None) -> None:
        self.busy = busy
        self.error = error or _busy()
        self.sent: list[str] = []
        self.in_transaction = False

    def execute(self, sql: str) -> Any:
        self.sent.append(sql)
        if sql.startswith("BEGIN"):
            if self.busy:
                self.busy -= 1
                raise self.error
            self.in_transaction = True
        if sql == "ROLLBACK":
            self.in_transaction = False
        return self

    def fetchone(self) -> tuple[int]:
        return (7,)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + waiting.SLICE  # each try spends SQLite's slice too


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(waiting.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(waiting.time, "sleep", fake.sleep)
    return fake


def test_a_free_lock_is_one_begin(clock: FakeTime) -> None:
    conn = FakeConnection(busy=0)
    assert waiting.begin(conn, write=True, timeout=30) == 7  # type: ignore[arg-type]
    assert conn.sent == ["BEGIN IMMEDIATE", "PRAGMA data_version"]
    assert clock.sleeps == []


def test_busy_tries_again_at_short_intervals(clock: FakeTime) -> None:
    conn = FakeConnection(busy=50)
    assert waiting.begin(conn, write=False, timeout=30) == 7  # type: ignore[arg-type]
    assert conn.sent.count("BEGIN") == 51
    assert len(clock.sleeps) == 50
    assert all(0 <= s <= 0.001 for s in clock.sleeps)  # never SQLite's 100 ms back-off


def test_the_timeout_still_ends_the_wait(clock: FakeTime) -> None:
    conn = FakeConnection(busy=10**9)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        waiting.begin(conn, write=True, timeout=0.5)  # type: ignore[arg-type]
    waited = clock.now - 100.0 + waiting.SLICE  # the first slice, before the clock was read
    assert 0.5 <= waited <= 0.5 + 2 * (waiting.SLICE + 0.001)


def test_other_errors_are_not_waited_on(clock: FakeTime) -> None:
    other = sqlite3.OperationalError("disk I/O error")
    other.sqlite_errorcode = 10  # type: ignore[attr-defined]
    conn = FakeConnection(busy=1, error=other)
    with pytest.raises(sqlite3.OperationalError, match="I/O"):
        waiting.begin(conn, write=True, timeout=30)  # type: ignore[arg-type]
    assert clock.sleeps == []


def test_a_store_keeps_only_a_slice_for_sqlite(tmp_path: Path) -> None:
    """The connection's own busy timeout is the slice; the store's timeout is begin's."""
    store = SQLiteStore(tmp_path / "m.db", timeout=30)
    try:
        (ms,) = store._slot().conn.execute("PRAGMA busy_timeout").fetchone()
        assert ms == waiting.slice_ms(30) == 5
    finally:
        store.close()


def test_a_held_lock_times_out_as_a_store_error(tmp_path: Path) -> None:
    """Another connection holding the write lock: the wait ends at the store's timeout with
    the message that says so."""
    store = SQLiteStore(tmp_path / "m.db", timeout=0.05)
    holder = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        locked = r"holds the write lock for more than 0\.05 s"
        with pytest.raises(StoreError, match=locked), store.transaction():
            pass
        holder.execute("ROLLBACK")
        with store.transaction():
            pass
    finally:
        holder.close()
        store.close()
