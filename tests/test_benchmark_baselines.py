"""The benchmarks' baselines do the work they are said to do, and their pairs alternate.

A ratio is only as honest as its baseline: these pin down that the lean hand-written SQLite
app writes what a track writes (meterlib reads its file back), sends only the statements its
docstring lists, and notices another connection's commit, as meterlib's connection does; that
limits' moving window stays bounded and allowed; and that the timing alternates its pairs.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from benchmarks import memory, sqlite
from benchmarks.timing import interleave
from meterlib import Ledger
from meterlib.stores import SQLiteStore


def _lean(tmp_path: Path) -> sqlite.Lean:
    lean = sqlite.hand_written(tmp_path, "lean.db", sqlite.Lean)
    assert isinstance(lean, sqlite.Lean)
    return lean


def _remaining(path: Path) -> Decimal:
    with Ledger(SQLiteStore(path)) as ledger:
        balance = ledger.balance("cus_1", "messages")
        assert balance is not None
        return balance.remaining


def test_lean_track_writes_what_a_track_writes(tmp_path: Path) -> None:
    lean = _lean(tmp_path)
    for _ in range(3):
        lean.track("cus_1", sqlite.now_ms())
    lean.conn.close()
    assert _remaining(tmp_path / "lean.db") == sqlite.PLENTY - 3
    with Ledger(SQLiteStore(tmp_path / "lean.db")) as ledger:
        page = ledger.events(customer_id="cus_1")  # parses each stored deduction record too
    assert [e.value for e in page.events] == [1, 1, 1]


def test_lean_sends_only_the_needed_statements(tmp_path: Path) -> None:
    lean = _lean(tmp_path)
    lean.track("cus_1", sqlite.now_ms())  # reads the rows once
    sent: list[str] = []
    lean.conn.set_trace_callback(sent.append)
    lean.track("cus_1", sqlite.now_ms())
    assert lean.check("cus_1")
    lean.conn.close()
    assert [" ".join(statement.split()[:2]) for statement in sent] == [
        "BEGIN IMMEDIATE",
        "PRAGMA data_version",
        "UPDATE grants",
        "INSERT INTO",
        "COMMIT",
        "PRAGMA data_version",
    ]


def test_lean_reads_again_after_another_connections_commit(tmp_path: Path) -> None:
    lean = _lean(tmp_path)
    lean.track("cus_1", sqlite.now_ms())
    with Ledger(SQLiteStore(tmp_path / "lean.db")) as ledger:
        ledger.track("cus_1", "messages", value=10)
    lean.track("cus_1", sqlite.now_ms())
    lean.conn.close()
    assert _remaining(tmp_path / "lean.db") == sqlite.PLENTY - 12


def test_moving_window_stays_bounded_and_allowed() -> None:
    ids = memory.customer_ids(50)
    window = memory.MovingWindow(ids)
    hit = window.hit()
    for _ in range(500):
        hit()
    found = window.lists()
    assert found["all_allowed"]
    assert found["list_max"] <= 10  # 500 hits over 50 customers in turn, within a second


def test_interleave_rotates_the_order_every_round() -> None:
    order: list[str] = []
    interleave({name: (lambda name=name: order.append(name)) for name in "abc"}, number=1, rounds=3)
    assert order[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # after one warm-up each
