"""SQLiteStore on a WAL file: check and track beside hand-written sqlite3, and batch_track.

The baselines open their own file, created by SQLiteStore (same schema, indexes, WAL and
`synchronous = NORMAL`), seeded by the same Ledger calls, then talk to it with plain sqlite3.

Two hand-written apps:

* `Lean`, the headline baseline, does the same work as meterlib and no more. meterlib's
  connection keeps the customer and grant rows it read while `PRAGMA data_version` says no
  other connection committed, so a careful app does too: its track is BEGIN IMMEDIATE, the
  version (without it a kept balance could be stale), an UPDATE of the balance, the event
  INSERT, COMMIT; its check is the version alone. It reads the rows only when the version
  moved or it never read them.
* `HandWritten`, the fuller one, selects the customer and its grants on every call.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks.plan import Run
from benchmarks.report import Row
from benchmarks.timing import batch_speedup, compare
from meterlib import Ledger
from meterlib.stores import SQLiteStore
from meterlib.stores.rows import EVENT_COLUMNS

PLENTY = 10**12
KEPT_CUSTOMERS = 4096  # as many as a meterlib connection keeps before it starts over


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


class KeptGrant(NamedTuple):
    """What a hand-written track needs of a grant row."""

    id: str
    balance: Decimal
    interval: str
    interval_count: int
    next_reset_at: int | None


class HandWritten:
    """What a careful programmer would write by hand against the same tables, reading the
    customer and its grants on every call."""

    def __init__(self, path: Path) -> None:
        self.conn = raw_connection(path)
        self.seq = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        names = [d[1] for d in self.conn.execute("PRAGMA table_info(grants)")]
        self.columns = {name: i for i, name in enumerate(names)}

    def check(self, customer_id: str) -> list[Any]:
        """Select the customer's row and its grant rows, in one read transaction."""
        conn = self.conn
        conn.execute("BEGIN")
        conn.execute(_SELECT_CUSTOMER, (customer_id,)).fetchone()
        rows = conn.execute(_SELECT_GRANTS, (customer_id,)).fetchall()
        conn.execute("COMMIT")
        return rows

    def grant(self, customer_id: str) -> KeptGrant:
        """The customer's row and grant rows, read: what a track needs of its grant."""
        self.conn.execute(_SELECT_CUSTOMER, (customer_id,)).fetchone()
        row = self.conn.execute(_SELECT_GRANTS, (customer_id,)).fetchall()[0]
        column = self.columns
        return KeptGrant(
            row[0],
            Decimal(row[column["balance"]]),
            row[column["interval"]],
            row[column["interval_count"]],
            row[column["next_reset_at"]],
        )

    def track(self, customer_id: str, now: int, *, transaction: bool = True) -> None:
        """BEGIN IMMEDIATE; select the rows; update one; insert the event; COMMIT."""
        if transaction:
            self.conn.execute("BEGIN IMMEDIATE")
        grant = self.grant(customer_id)
        self.write(customer_id, grant._replace(balance=grant.balance - 1), now)
        if transaction:
            self.conn.execute("COMMIT")

    def write(self, customer_id: str, grant: KeptGrant, now: int) -> None:
        """The grant's new balance and the event (with the deduction record a track stores)."""
        self.conn.execute(_UPDATE_GRANT, (str(grant.balance), grant.id))
        self.seq += 1
        deductions = json.dumps(
            [
                {
                    "feature_id": "messages",
                    "balance_id": grant.id,
                    "value": "1",
                    "plan_id": None,
                    "interval": grant.interval,
                    "interval_count": grant.interval_count,
                    "resets_at": grant.next_reset_at,
                }
            ],
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
        self.conn.execute(_INSERT_EVENT, [row.get(c) for c in EVENT_COLUMNS])


class Lean(HandWritten):
    """The hand-written app that keeps what it read, as meterlib's connection does: only
    the statements a track or check needs (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.version: int | None = None
        self.kept: dict[str, KeptGrant] = {}  # by customer

    def known(self, customer_id: str) -> KeptGrant:
        """The customer's grant, from what is kept while no other connection committed."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.kept.clear()
            self.version = version
        kept = self.kept.get(customer_id)
        if kept is None:
            if len(self.kept) >= KEPT_CUSTOMERS:
                self.kept.clear()
            kept = self.kept[customer_id] = self.grant(customer_id)
        return kept

    def check(self, customer_id: str) -> bool:  # type: ignore[override]
        """Is one more unit allowed? The version, then the kept balance."""
        return self.known(customer_id).balance >= 1

    def track(self, customer_id: str, now: int, *, transaction: bool = True) -> None:
        """BEGIN IMMEDIATE; the version; update the balance; insert the event; COMMIT."""
        if transaction:
            self.conn.execute("BEGIN IMMEDIATE")
        known = self.known(customer_id)
        grant = known._replace(balance=known.balance - 1)
        self.write(customer_id, grant, now)
        self.kept[customer_id] = grant
        if transaction:
            self.conn.execute("COMMIT")


def hand_written(folder: Path, name: str, kind: type[HandWritten]) -> HandWritten:
    """A hand-written app on its own file, seeded by the same Ledger calls as meterlib's."""
    seeded_store(folder / name).close()
    return kind(folder / name)


def now_ms() -> int:
    """The wall clock in milliseconds, as an event's timestamp."""
    import time

    return time.time_ns() // 1_000_000


def track_vs_hand_written(folder: Path, *, number: int, rounds: int) -> dict[str, Any]:
    """`Ledger.track` beside the lean hand-written transaction and (under "fuller") beside
    the one that reads the rows again; each side on its own file."""
    ledger = seeded_store(folder / "meterlib.db")
    lean = hand_written(folder, "lean.db", Lean)
    fuller = hand_written(folder, "fuller.db", HandWritten)
    try:
        result = compare(
            lambda: ledger.track("cus_1", "messages"),
            lambda: lean.track("cus_1", now_ms()),
            number=number,
            rounds=rounds,
        )
        result["fuller"] = compare(
            lambda: ledger.track("cus_1", "messages"),
            lambda: fuller.track("cus_1", now_ms()),
            number=number,
            rounds=rounds,
        )
        return result
    finally:
        ledger.close()
        lean.conn.close()
        fuller.conn.close()


def check_vs_hand_written(folder: Path, *, number: int, rounds: int) -> dict[str, Any]:
    """`Ledger.check` beside the lean hand-written check, beside the fuller one's selects
    ("fuller"), and, knowing nothing, beside the fuller one ("unknown")."""
    ledger = seeded_store(folder / "meterlib.db")
    lean = hand_written(folder, "lean.db", Lean)
    fuller = hand_written(folder, "fuller.db", HandWritten)
    try:
        result = compare(
            lambda: ledger.check("cus_1", "messages"),
            lambda: lean.check("cus_1"),
            number=number,
            rounds=rounds,
        )
        result["fuller"] = compare(
            lambda: ledger.check("cus_1", "messages"),
            lambda: fuller.check("cus_1"),
            number=number,
            rounds=rounds,
        )
        # what a check costs when the connection knows nothing (as after another
        # connection's commit): every row read again, one statement more
        known = ledger.store._slot().known  # type: ignore[attr-defined]  # a benchmark may peek

        def unknown() -> object:
            known.forget()
            return ledger.check("cus_1", "messages")

        result["unknown"] = compare(
            unknown, lambda: fuller.check("cus_1"), number=number, rounds=rounds
        )
        return result
    finally:
        ledger.close()
        lean.conn.close()
        fuller.conn.close()


def batch_vs_single(folder: Path, *, size: int, rounds: int) -> dict[str, Any]:
    """One `batch_track` of `size` items beside `size` single `track` calls, alternated
    round by round on the same file (its growth hits both alike)."""
    ledger = seeded_store(folder / "batch.db")
    items = [{"customer_id": "cus_1", "feature_id": "messages"}] * size

    def singles() -> None:
        for _ in range(size):
            ledger.track("cus_1", "messages")

    try:
        return batch_speedup(lambda: ledger.batch_track(items), singles, size=size, rounds=rounds)
    finally:
        ledger.close()


def rows(run: Run) -> list[Row]:
    """The SQLite rows: track, check, batch."""
    p = run.settings
    n, r = p.sqlite_number, p.rounds
    track = run.record("sqlite_track", track_vs_hand_written(run.own("track"), number=n, rounds=r))
    check = run.record("sqlite_check", check_vs_hand_written(run.own("check"), number=n, rounds=r))
    batch = run.record(
        "batch_track", batch_vs_single(run.own("batch"), size=p.batch, rounds=p.batch_rounds)
    )
    lean_track = "lean hand-written transaction (keeps the rows it read)"
    fuller_track = "fuller hand-written transaction (reads the two rows again)"
    fuller_check = "fuller hand-written selects, one read tx"
    return [
        Row.ratio("track, SQLite file (WAL)", lean_track, track, "≤ 1.5×", 1.5),
        Row.ratio("track, SQLite file (WAL)", fuller_track, track["fuller"], "(info)", None),
        Row.ratio(
            "check, SQLite file",
            "lean hand-written check (PRAGMA data_version)",
            check,
            "≤ 1.5×",
            1.5,
        ),
        Row.ratio("check, SQLite file", fuller_check, check["fuller"], "(info)", None),
        Row.ratio(
            "check, SQLite file, nothing known (another connection committed)",
            fuller_check,
            check["unknown"],
            "(info)",
            None,
        ),
        Row.speedup(f"batch_track of {p.batch}, SQLite", f"{p.batch} single tracks", batch),
    ]
