"""Crash safety: a process killed with SIGKILL mid-track leaves a sound file and whole tracks.

A spawned child tracks 1 in a loop on a file, appending a byte to a side file after each call
returns; it is killed with SIGKILL a random 50-300 ms after it is ready, 24 times over the same
file. After each kill the file must open cleanly and pass `PRAGMA integrity_check`, and the
usage the kill added must be the calls that had returned, plus at most the one in flight. The
in-flight call's idempotency key tells which: it is held exactly when that call committed, and
every committed track has its event.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlite_workers import CUSTOMER, FEATURE, track_until_killed

from meterlib import DuplicateIdempotencyKey, Ledger
from meterlib.stores import SQLiteStore

KILLS = 24
READY_TIMEOUT = 60  # seconds: guards against a child that never starts, not a wait for time
RUN_MS = (50, 300)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
]


def _usage_and_events(ledger: Ledger, path: Path) -> tuple[Decimal, int]:
    """The customer's usage, and the number of event rows in the file."""
    balance = ledger.balance(CUSTOMER, FEATURE)
    assert balance is not None
    conn = sqlite3.connect(path)
    try:
        (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
    finally:
        conn.close()
    return balance.usage, int(events)


def _integrity(path: Path) -> str:
    """`PRAGMA integrity_check` of the file, through a plain sqlite3 connection."""
    conn = sqlite3.connect(path)
    try:
        return "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def _kill_one(path: Path, log: Path, prefix: str, run_ms: int) -> int:
    """Start a tracking child, SIGKILL it `run_ms` after it is ready; the calls that returned."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=track_until_killed, args=(str(path), str(log), prefix, ready))
    child.start()
    try:
        assert ready.wait(timeout=READY_TIMEOUT), "the child never opened the file"
        child.join(timeout=run_ms / 1000)  # let it track for run_ms: the random kill moment
        assert child.is_alive(), f"the child stopped by itself (exit code {child.exitcode})"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(timeout=READY_TIMEOUT)
        if child.is_alive():
            child.kill()
            child.join(timeout=READY_TIMEOUT)
    assert child.exitcode == -signal.SIGKILL
    return log.stat().st_size if log.exists() else 0


class TestKilledMidTrack:
    """SIGKILL at random moments never corrupts the file nor splits a track."""

    def test_sigkill_in_a_tracking_loop(self, tmp_path: Path) -> None:
        """After each of 24 kills the file is sound and usage = returned calls (+ the one in
        flight, exactly when its idempotency key is held)."""
        path = tmp_path / "meter.db"
        with Ledger(SQLiteStore(path)) as ledger:
            ledger.create(CUSTOMER, FEATURE, included=10_000_000)
        seed = random.randrange(2**32)
        rng = random.Random(seed)
        usage, events = Decimal(0), 0
        in_flight = 0
        for kill in range(KILLS):
            log = tmp_path / f"returned-{kill}.log"
            prefix = f"kill{kill}"
            returned = _kill_one(path, log, prefix, rng.randint(*RUN_MS))
            where = f"kill {kill} (seed {seed}), {returned} calls returned"
            with Ledger(SQLiteStore(path)) as ledger:  # opens cleanly after the crash
                assert _integrity(path) == "ok", where
                now_usage, now_events = _usage_and_events(ledger, path)
                added = now_usage - usage
                assert returned <= added <= returned + 1, f"{where}: usage grew by {added}"
                assert now_events - events == added, f"{where}: events and usage disagree"
                key = f"{prefix}-{returned}"  # the call in flight when the child died
                if added == returned + 1:
                    in_flight += 1
                    with pytest.raises(DuplicateIdempotencyKey):
                        ledger.claim_idempotency_key(key, scope="track")
                else:
                    ledger.claim_idempotency_key(key, scope="track")  # it was never claimed
                usage, events = now_usage, now_events
        assert usage > 0
        print(f"\n{KILLS} kills, {usage} tracks committed, {in_flight} committed in flight")
