"""Floors: what the targets out of reach would need, measured beside the same baselines.

* `result_objects`: only building the frozen objects a check returns (a CheckResult holding
  what builds its Balance on first read) or a track makes (the changed grant, the stored event
  with its deduction record, the TrackResult), with no lookup, rule or store at all.
* `replayed_sql`: the statements `Ledger.track` sends, replayed with plain sqlite3 and rows
  prepared in advance, beside the hand-written transaction: the SQL alone, without Python.
* `hand_written_batch`: 1 000 hand-written transactions beside the same statements in one
  transaction: what batching alone buys SQLite on this machine.
* `memory_batch`: batch_track on a MemoryStore (no I/O) per item, beside one SQLite track: a
  batch item costs at least that much Python, which bounds what batching can save.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from benchmarks.sqlite import HandWritten, raw_connection, seeded_store
from benchmarks.timing import compare, median_seconds
from meterlib import Ledger, MemoryStore
from meterlib.models import DeductionRecord, EventRecord, Feature, Grant
from meterlib.results import CheckResult, TrackResult
from meterlib.stores import SQLiteStore
from meterlib.views import balance_of

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


def result_objects(*, number: int, rounds: int) -> dict[str, Any]:
    """The objects check and track must build, beside limits' fixed and moving window hits."""
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

    item = parse(f"{PLENTY}/day")
    fixed = FixedWindowRateLimiter(MemoryStorage())
    moving = MovingWindowRateLimiter(MemoryStorage())
    return {
        "check": compare(check_objects, lambda: fixed.hit(item, "c"), number=number, rounds=rounds),
        "track": compare(
            track_objects, lambda: moving.hit(item, "c"), number=number, rounds=rounds
        ),
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
    """Ledger.track's own statements replayed by plain sqlite3, beside the hand-written track.

    The replay re-sends the literal statements of one traced track (the event's rowid left to
    SQLite, the same event row can be inserted again), so it costs what SQLite does for a
    meterlib track and nothing of what Python does.
    """
    seeded_store(folder / "replay.db").close()
    statements = _traced_track(folder / "replay.db")
    conn = raw_connection(folder / "replay.db")
    seeded_store(folder / "replay_baseline.db").close()
    hand = HandWritten(folder / "replay_baseline.db")

    def replay() -> None:
        for sql in statements:
            conn.execute(sql).fetchall()

    try:
        result = compare(replay, lambda: hand.track("cus_1", _now()), number=number, rounds=rounds)
    finally:
        conn.close()
        hand.conn.close()
    result["statements"] = [sql.split(" (")[0][:60] for sql in statements]
    return result


def hand_written_batch(folder: Path, *, size: int, rounds: int) -> dict[str, Any]:
    """`size` hand-written track transactions beside the same statements in one transaction."""
    seeded_store(folder / "hand_batch.db").close()
    hand = HandWritten(folder / "hand_batch.db")

    def singles() -> None:
        for _ in range(size):
            hand.track("cus_1", _now())

    def batch() -> None:
        hand.conn.execute("BEGIN IMMEDIATE")
        for _ in range(size):
            hand.track("cus_1", _now(), transaction=False)
        hand.conn.execute("COMMIT")

    try:
        single_s = median_seconds(singles, rounds=rounds)
        batch_s = median_seconds(batch, rounds=rounds)
    finally:
        hand.conn.close()
    return {
        "singles_ms": single_s * 1e3,
        "batch_ms": batch_s * 1e3,
        "speedup": single_s / batch_s,
        "size": size,
        "rounds": rounds,
    }


def memory_batch(folder: Path, *, size: int, rounds: int) -> dict[str, Any]:
    """One SQLite `track` beside one item of a MemoryStore `batch_track` of `size`."""
    memory = Ledger(MemoryStore())
    memory.create("cus_1", "messages", included=PLENTY, reset="month")
    items = [{"customer_id": "cus_1", "feature_id": "messages"}] * size
    sqlite = seeded_store(folder / "memory_batch.db")
    try:
        batch_s = median_seconds(lambda: memory.batch_track(items), rounds=rounds) / size
        single = compare(
            lambda: sqlite.track("cus_1", "messages"),
            lambda: memory.track("cus_1", "messages"),
            number=max(1, size // 4),
            rounds=rounds,
        )
    finally:
        sqlite.close()
    single_s = single["meterlib_us"] / 1e6
    return {
        "sqlite_track_us": single_s * 1e6,
        "memory_batch_item_us": batch_s * 1e6,
        "ceiling": single_s / batch_s,
        "size": size,
    }


def _now() -> int:
    return time.time_ns() // 1_000_000
