"""Floors: what the targets out of reach would need, measured beside the same baselines.

* `result_objects`: only building the frozen objects a check returns (a CheckResult holding
  what builds its Balance on first read) or a track makes (the changed grant, the stored event
  with its deduction record, the TrackResult), with no lookup, rule or store at all, beside
  the same `limits` calls as the MemoryStore rows.
* `replayed_sql`: the statements `Ledger.track` sends, replayed with plain sqlite3 and rows
  prepared in advance, beside the lean hand-written transaction: the SQL alone, no Python.
* `hand_written_batch`: 1 000 lean hand-written transactions beside the same tracks in one
  transaction: what batching alone buys SQLite on this machine.
* `memory_batch`: batch_track on a MemoryStore (no I/O) per item, beside one SQLite track: a
  batch item costs at least that much Python, which bounds what batching can save.

Every pair is alternated round by round (`benchmarks.timing.interleave`).
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from benchmarks import memory
from benchmarks.plan import Run
from benchmarks.report import Row
from benchmarks.sqlite import Lean, hand_written, now_ms, raw_connection, seeded_store
from benchmarks.timing import batch_speedup, compare
from meterlib import Ledger, MemoryStore
from meterlib.models import DeductionRecord, EventRecord, Feature, Grant
from meterlib.results import CheckResult, TrackResult
from meterlib.rules.balances import balance_of
from meterlib.stores import SQLiteStore

PLENTY = 10**12


def _grant() -> Grant:
    now = time.time_ns() // 1_000_000
    return Grant(
        id="grant_1",
        seq=1,
        customer_id="cus_1",
        feature_id="messages",
        included=Decimal(PLENTY),
        interval="month",
        anchor=now,
        period=1,
        next_reset_at=now + 30 * 86_400_000,
        balance=Decimal(PLENTY),
        created_at=now,
    )


def result_objects(
    *, customers: int, number: int, rounds: int, window_number: int, window_rounds: int
) -> dict[str, Any]:
    """The objects check and track must build, beside the same limits calls as the MemoryStore
    rows: the fixed window's test() and the moving window's hit() (customers in turn)."""
    feature = Feature(id="messages")
    grant = _grant()
    one = Decimal(1)

    def check_objects() -> object:
        # a check returns its verdict and what builds the Balance if it is ever read
        return CheckResult(
            allowed=True,
            customer_id="cus_1",
            entity_id=None,
            feature_id="messages",
            required_balance=one,
            details=lambda: (balance_of(feature, [grant]), None, None, None),
        )

    def track_objects() -> object:
        # the new state of the grant, the stored event with its deduction, and the result
        changed = grant.deducted(grant.balance - one, grant.rollovers)
        record = DeductionRecord(feature_id="messages", balance_id="grant_1", value=one)
        event = EventRecord(
            id="evt_1",
            seq=1,
            customer_id="cus_1",
            entity_id=None,
            feature_id="messages",
            event_name=None,
            value=one,
            properties={},
            timestamp=changed.created_at,
            deductions=(record,),
        )
        return TrackResult(
            customer_id="cus_1",
            entity_id=None,
            event_name=None,
            value=event.value,
            details=lambda: (balance_of(feature, [changed]), {}, ()),
        )

    ids = memory.customer_ids(customers)
    fixed = FixedWindowRateLimiter(MemoryStorage())
    item = parse(memory.CHECK_LIMIT)
    for customer_id in ids:
        fixed.hit(item, customer_id, "messages")
    turn = memory.in_turn(ids)
    window = memory.MovingWindow(ids)
    track = compare(track_objects, window.hit(), number=window_number, rounds=window_rounds)
    track["window"] = window.lists()
    return {
        "check": compare(
            check_objects,
            lambda: fixed.test(item, turn(), "messages"),
            number=number,
            rounds=rounds,
        ),
        "track": track,
    }


def _traced_track(path: Path) -> list[str]:
    """The statements one `Ledger.track` sends, as SQLite's trace shows them (values inline).

    The event's rowid (its seq) becomes NULL, so that each replay inserts a new row as a
    track would (SQLite numbers it: the same seek for the largest rowid)."""
    statements: list[str] = []
    with Ledger(SQLiteStore(path)) as ledger:
        ledger.track("cus_1", "messages")  # connects this thread and warms the caches
        conn = ledger.store._slot().conn  # type: ignore[attr-defined]  # a benchmark may peek
        conn.set_trace_callback(statements.append)
        ledger.track("cus_1", "messages")
        conn.set_trace_callback(None)
    return [
        re.sub(r"^(INSERT INTO events \(rowid, .*?VALUES \()\d+,", r"\1NULL,", sql)
        for sql in statements
    ]


def replayed_sql(folder: Path, *, number: int, rounds: int) -> dict[str, Any]:
    """Ledger.track's own statements replayed by plain sqlite3, beside the lean hand-written
    track.

    The replay re-sends the literal statements of one traced track (the event's rowid left to
    SQLite, the same event row can be inserted again), so it costs what SQLite does for a
    meterlib track and nothing of what Python does.
    """
    seeded_store(folder / "replay.db").close()
    statements = _traced_track(folder / "replay.db")
    conn = raw_connection(folder / "replay.db")
    lean = hand_written(folder, "lean.db", Lean)

    def replay() -> None:
        for sql in statements:
            conn.execute(sql).fetchall()

    try:
        result = compare(
            replay, lambda: lean.track("cus_1", now_ms()), number=number, rounds=rounds
        )
    finally:
        conn.close()
        lean.conn.close()
    result["statements"] = [sql.split(" (")[0][:60] for sql in statements]
    return result


def hand_written_batch(folder: Path, *, size: int, rounds: int) -> dict[str, Any]:
    """`size` lean hand-written track transactions beside the same tracks in one transaction,
    alternated round by round on the same file."""
    lean = hand_written(folder, "lean.db", Lean)

    def singles() -> None:
        for _ in range(size):
            lean.track("cus_1", now_ms())

    def batch() -> None:
        lean.conn.execute("BEGIN IMMEDIATE")
        for _ in range(size):
            lean.track("cus_1", now_ms(), transaction=False)
        lean.conn.execute("COMMIT")

    try:
        return batch_speedup(batch, singles, size=size, rounds=rounds)
    finally:
        lean.conn.close()


def memory_batch(folder: Path, *, size: int, rounds: int) -> dict[str, Any]:
    """`size` SQLite `track` calls beside one MemoryStore `batch_track` of `size` items,
    alternated round by round: per item, what a batch costs with no I/O at all."""
    memory_ledger = Ledger(MemoryStore())
    memory_ledger.create("cus_1", "messages", included=PLENTY, reset="month")
    items = [{"customer_id": "cus_1", "feature_id": "messages"}] * size
    sqlite = seeded_store(folder / "memory_batch.db")

    def singles() -> None:
        for _ in range(size):
            sqlite.track("cus_1", "messages")

    try:
        found = batch_speedup(
            lambda: memory_ledger.batch_track(items), singles, size=size, rounds=rounds
        )
    finally:
        sqlite.close()
    return {
        "sqlite_track_us": found["singles_ms"] * 1e3 / size,
        "memory_batch_item_us": found["batch_ms"] * 1e3 / size,
        "ceiling": found["speedup"],
        "size": size,
        "rounds": rounds,
    }


def rows(run: Run) -> list[Row]:
    """The floor rows: what the targets out of reach would need."""
    p = run.settings
    objects = run.record(
        "floor_result_objects",
        result_objects(
            customers=p.customers,
            number=p.number,
            rounds=p.rounds,
            window_number=p.window_number,
            window_rounds=p.window_rounds,
        ),
    )
    replay = run.record(
        "floor_replayed_sql",
        replayed_sql(run.own("replay"), number=p.sqlite_number, rounds=p.rounds),
    )
    hand_batch = run.record(
        "floor_hand_written_batch",
        hand_written_batch(run.own("hand_batch"), size=p.batch, rounds=p.batch_rounds),
    )
    in_memory = run.record(
        "floor_memory_batch",
        memory_batch(run.own("memory_batch"), size=p.batch, rounds=p.batch_rounds),
    )
    return [
        Row.ratio(
            "floor: only the objects a check returns",
            f"limits FixedWindow test() ({memory.CHECK_LIMIT})",
            objects["check"],
            "(floor)",
            None,
        ),
        Row.ratio(
            "floor: only the objects a track makes",
            f"limits MovingWindow hit() ({memory.TRACK_LIMIT}, entries expire)",
            objects["track"],
            "(floor)",
            None,
        ),
        Row.ratio(
            "floor: Ledger.track's SQL replayed, no Python",
            "lean hand-written transaction",
            replay,
            "(floor)",
            None,
        ),
        Row.speedup(
            f"floor: {p.batch} lean hand-written tracks in one transaction",
            f"{p.batch} lean hand-written transactions",
            hand_batch,
            None,
        ),
        Row.info(
            "floor: one item of a MemoryStore batch_track (no I/O)",
            "one SQLite track",
            f"{in_memory['ceiling']:.1f}× faster",
            in_memory["ceiling"],
            f"{in_memory['memory_batch_item_us']:.1f} µs vs {in_memory['sqlite_track_us']:.1f} µs",
        ),
    ]
