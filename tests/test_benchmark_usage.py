"""The usage benchmark's baseline does the same work as usage() (`benchmarks/usage.py`): its
file holds what it says, and the hand-written select answers usage()'s numbers."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from benchmarks import usage
from benchmarks.sqlite import raw_connection
from meterlib import Ledger
from meterlib.stores import SQLiteStore


def test_the_hand_written_select_answers_what_usage_does(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    usage.build_sqlite(path, total=600, mine=50)
    conn = raw_connection(path)
    sql = usage.HAND_SQL.format(events="events", m="?")
    hand = usage._by_day(conn.execute(sql, (usage.ME, "messages", usage.START, usage.END)))
    (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
    (mine,) = conn.execute(
        'SELECT count(*) FROM events WHERE customer_id = ? AND "timestamp" >= ?',
        (usage.ME, usage.START),
    ).fetchone()
    conn.close()
    assert (events, mine) == (600, 50)
    with Ledger(SQLiteStore(path), clock=lambda: usage.NOW) as ledger:
        report = ledger.usage("messages", customer_id=usage.ME, start=usage.START, end=usage.END)
        assert [p.values["messages"] for p in report.periods] == hand
        assert report.total["messages"].count == 50
    assert sum(hand) > Decimal(0)


def test_the_index_moves_between_copies(tmp_path: Path) -> None:
    """The index row's swap leaves exactly one of the two files indexed."""
    path = tmp_path / "one.db"
    usage.build_sqlite(path, total=100, mine=10)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(usage.DROP_SQL.format("main"))
    assert not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'events_by_customer_name'"
    ).fetchall()
    conn.execute(usage.INDEX_SQL.format("events"))
    assert conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'events_by_customer_name'"
    ).fetchall()
    conn.close()
