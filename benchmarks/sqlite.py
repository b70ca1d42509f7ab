"""SQLiteStore on a WAL file: check and track against hand-written sqlite3, and batch_track.

The baselines open their own file, created by SQLiteStore (same schema, indexes, WAL and
`synchronous = NORMAL`), seeded by the same Ledger calls, then talk to it with plain sqlite3.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.timing import compare, median_seconds
from meterlib import Ledger
from meterlib.stores import SQLiteStore
from meterlib.stores.sqlite_rows import EVENT_COLUMNS

PLENTY = 10**12


def seeded_store(path: Path, *, customers: int = 1) -> Ledger:
    """A Ledger on a new SQLite file, with `customers` customers holding a monthly grant."""
    ledger = Ledger(SQLiteStore(path))
    for n in range(1, customers + 1):
        ledger.create(f"cus_{n}", "messages", included=PLENTY, reset="month")
    return ledger


def raw_connection(path: Path) -> sqlite3.Connection:
    """A plain connection with SQLiteStore's durability: WAL (set in the file), NORMAL sync."""
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


_SELECT_CUSTOMER = "SELECT * FROM customers WHERE id = ?"
_SELECT_GRANTS = "SELECT * FROM grants WHERE customer_id = ? ORDER BY seq"
_UPDATE_GRANT = "UPDATE grants SET balance = ? WHERE id = ?"
_INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)


class HandWritten:
    """What a careful programmer would write by hand against the same tables."""

    def __init__(self, path: Path) -> None:
        self.conn = raw_connection(path)
        self.seq = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        self.balance_column = [d[1] for d in self.conn.execute("PRAGMA table_info(grants)")].index(
            "balance"
        )

    def check(self, customer_id: str) -> list[Any]:
        """Select the customer's row and its grant rows, in one read transaction."""
        conn = self.conn
        conn.execute("BEGIN")
        conn.execute(_SELECT_CUSTOMER, (customer_id,)).fetchone()
        rows = conn.execute(_SELECT_GRANTS, (customer_id,)).fetchall()
        conn.execute("COMMIT")
        return rows

    def select(self, customer_id: str) -> list[Any]:
        """The bare minimum: one autocommit select of the customer's grant rows."""
        return self.conn.execute(_SELECT_GRANTS, (customer_id,)).fetchall()

    def track(self, customer_id: str, now: int, *, transaction: bool = True) -> None:
        """BEGIN IMMEDIATE; select the rows; update one; insert the event; COMMIT."""
        conn = self.conn
        if transaction:
            conn.execute("BEGIN IMMEDIATE")
        conn.execute(_SELECT_CUSTOMER, (customer_id,)).fetchone()
        grant = conn.execute(_SELECT_GRANTS, (customer_id,)).fetchall()[0]
        balance = Decimal(grant[self.balance_column]) - 1
        conn.execute(_UPDATE_GRANT, (str(balance), grant[0]))
        self.seq += 1
        deductions = json.dumps(
            [{"feature_id": "messages", "balance_id": grant[0], "value": "1"}],
            separators=(",", ":"),
        )
        row = {
            "id": f"evt_{self.seq}",
            "seq": self.seq,
            "customer_id": customer_id,
            "entity_id": None,
            "feature_id": "messages",
            "event_name": None,
            "value": "1",
            "properties": "{}",
            "timestamp": now,
            "idempotency_key": None,
            "deductions": deductions,
            "feature_ids": '["messages"]',
        }
        conn.execute(_INSERT_EVENT, [row.get(c) for c in EVENT_COLUMNS])
        if transaction:
            conn.execute("COMMIT")


def _pair(folder: Path) -> tuple[Ledger, HandWritten]:
    ours = seeded_store(folder / "meterlib.db")
    theirs_store = seeded_store(folder / "baseline.db")
    theirs_store.close()
    return ours, HandWritten(folder / "baseline.db")


def _now() -> int:
    import time

    return time.time_ns() // 1_000_000


def track_vs_hand_written(folder: Path, *, number: int, rounds: int) -> dict[str, Any]:
    """`Ledger.track` beside the hand-written transaction doing the same writes."""
    ledger, hand = _pair(folder)
    try:
        return compare(
            lambda: ledger.track("cus_1", "messages"),
            lambda: hand.track("cus_1", _now()),
            number=number,
            rounds=rounds,
        )
    finally:
        ledger.close()
        hand.conn.close()


def check_vs_hand_written(folder: Path, *, number: int, rounds: int) -> dict[str, Any]:
    """`Ledger.check` beside hand-written selects of the same rows (one read transaction);
    also reported beside a lone autocommit select of the grant rows."""
    ledger, hand = _pair(folder)
    try:
        result = compare(
            lambda: ledger.check("cus_1", "messages"),
            lambda: hand.check("cus_1"),
            number=number,
            rounds=rounds,
        )
        bare = compare(
            lambda: ledger.check("cus_1", "messages"),
            lambda: hand.select("cus_1"),
            number=number,
            rounds=rounds,
        )
        result["vs_lone_select"] = bare
        # what a check costs when the connection knows nothing (as after another
        # connection's commit): every row read again, one statement more
        known = ledger.store._slot().known  # type: ignore[attr-defined]  # a benchmark may peek

        def unknown() -> object:
            known.forget()
            return ledger.check("cus_1", "messages")

        result["unknown"] = compare(
            unknown, lambda: hand.check("cus_1"), number=number, rounds=rounds
        )
        return result
    finally:
        ledger.close()
        hand.conn.close()


def batch_vs_single(folder: Path, *, size: int, rounds: int) -> dict[str, Any]:
    """`size` single `track` calls against one `batch_track` of `size` items."""
    ledger = seeded_store(folder / "batch.db")
    items = [{"customer_id": "cus_1", "feature_id": "messages"}] * size

    def singles() -> None:
        for _ in range(size):
            ledger.track("cus_1", "messages")

    def batch() -> None:
        ledger.batch_track(items)

    try:
        single_s = median_seconds(singles, rounds=rounds)
        batch_s = median_seconds(batch, rounds=rounds)
    finally:
        ledger.close()
    return {
        "singles_ms": single_s * 1e3,
        "batch_ms": batch_s * 1e3,
        "speedup": single_s / batch_s,
        "size": size,
        "rounds": rounds,
    }
