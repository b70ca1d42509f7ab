"""Waiting for SQLite's write lock, fairly.

SQLite's own busy handler backs off: a connection that has waited a while sleeps 100 ms
between tries, while one that just arrived tries after 1 ms. Under steady writes from other
processes, the lock nearly always goes to a newcomer, and one unlucky writer can wait for
seconds while the rest go on (a 4-process test saw 0.9 s with no prune running). So a
connection's busy handler is given only a short slice, and `begin` tries again itself, every
waiter at the same short interval, until the store's timeout: the wait becomes a fair lottery
whose losers stay in it.
"""

from __future__ import annotations

import random
import sqlite3
import time

SLICE = 0.005  # seconds SQLite's busy handler waits (its sleeps of 1, 2 and 2 ms) per try
_PAUSE = 0.001  # at most this long between tries (a random share of it: waiters interleave)
_SQLITE_BUSY = 5
_DATA_VERSION = "PRAGMA data_version"


def slice_ms(timeout: float) -> int:
    """The busy timeout a connection keeps between transactions, in ms."""
    return max(0, round(min(timeout, SLICE) * 1000))


def begin(conn: sqlite3.Connection, *, write: bool, timeout: float) -> int:
    """BEGIN (IMMEDIATE for `write`), then the file's data version read inside it; tries
    again on SQLITE_BUSY until `timeout` seconds have passed, then raises that error."""
    statement = "BEGIN IMMEDIATE" if write else "BEGIN"
    deadline: float | None = None
    while True:
        try:
            conn.execute(statement)
            # read inside the transaction: it is the version of the snapshot it reads (and,
            # for a read, the statement that takes the snapshot, so it may be the busy one)
            version: int = conn.execute(_DATA_VERSION).fetchone()[0]
            return version
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != _SQLITE_BUSY:
                raise
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            now = time.monotonic()
            if deadline is None:
                deadline = now + timeout - SLICE  # the first slice was spent already
            if now >= deadline:
                raise
            time.sleep(random.random() * _PAUSE)
