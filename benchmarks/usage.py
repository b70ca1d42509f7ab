"""Usage reports without an OLAP engine (issue 18): one customer's month by day, read from a
ledger of 1 000 000 events (10 000 of them that customer's in the month), beside a
hand-written SQL select of the same rows summed with `Decimal` in Python; on SQLite and on
PostgreSQL. And a track with the usage index beside the same track without it.

The events are copies of one event the Ledger recorded, inserted in bulk (`executemany` on
SQLite, `COPY` on PostgreSQL): the chosen customer's spread evenly over the month (and a
tenth as many the month before), everybody else's (1 000 customers) over three months.
`python -m benchmarks --only usage` runs these rows alone.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.plan import Run
from benchmarks.report import Row
from benchmarks.scale import count_text
from benchmarks.sqlite import PLENTY, raw_connection
from benchmarks.timing import compare
from meterlib import Ledger
from meterlib.stores import SQLiteStore, Store

DAY = 86_400_000
START = 1_793_491_200_000  # 2026-11-01 00:00 UTC
END = START + 30 * DAY
NOW = END + 3_600_000
ME = "cus_me"
OTHERS = 1000
HAND_SQL = (
    'SELECT "timestamp", value FROM {events} WHERE customer_id = {m} AND feature_id = {m} '
    'AND "timestamp" >= {m} AND "timestamp" < {m}'
)


def _template(store: Store) -> None:
    """The customer, its grant and one event, made by the Ledger (what the copies copy)."""
    with Ledger(store, clock=lambda: NOW) as ledger:
        ledger.create(ME, "messages", included=PLENTY)
        ledger.track(ME, "messages", value="1.5", timestamp=START)


def _events(total: int, mine: int) -> Iterator[tuple[str, int, str]]:
    """(customer, timestamp, value) of every copy: `mine` in the month and a tenth as many
    before it for the customer, the rest for the others over three months."""
    before = mine // 10
    for n in range(1, mine):
        yield ME, START + n * (30 * DAY) // mine, f"{n % 10}.{n % 7}"
    for n in range(before):
        yield ME, START - DAY - n * (30 * DAY) // max(before, 1), "1"
    others = total - mine - before
    for n in range(others):
        yield f"cus_{n % OTHERS:04d}", START - 60 * DAY + n * (90 * DAY) // others, "2.5"


def _copies(
    template: tuple[Any, ...], columns: list[str], total: int, mine: int
) -> Iterator[tuple[Any, ...]]:
    at = {name: i for i, name in enumerate(columns)}
    for n, (customer, timestamp, value) in enumerate(_events(total, mine), start=2):
        row = list(template)
        row[at["id"]], row[at["seq"]] = f"evt_{n}", n
        row[at["customer_id"]], row[at["timestamp"]], row[at["value"]] = customer, timestamp, value
        yield tuple(row)


def build_sqlite(path: Path, *, total: int, mine: int) -> None:
    """A SQLite ledger of `total` events, `mine` of them ME's in the month."""
    _template(SQLiteStore(path))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA cache_size = -1000000")
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
        template = conn.execute("SELECT * FROM events").fetchone()
        conn.execute("BEGIN IMMEDIATE")
        marks = ", ".join("?" * len(columns))
        conn.executemany(
            f"INSERT INTO events VALUES ({marks})", _copies(template, columns, total, mine)
        )
        conn.execute("UPDATE seqs SET value = ? WHERE kind = 'event'", (total + 1,))
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _by_day(found: Iterator[tuple[int, Any]]) -> list[Decimal]:
    """The hand-written app's arithmetic: a Decimal sum per day of the month."""
    days = [Decimal(0)] * 30
    for timestamp, value in found:
        days[(timestamp - START) // DAY] += Decimal(value)
    return days


def _report(ledger: Ledger) -> Callable[[], list[Decimal]]:
    def report() -> list[Decimal]:
        found = ledger.usage("messages", customer_id=ME, start=START, end=END)
        return [p.values["messages"] for p in found.periods]

    return report


def _compared(
    ledger: Ledger, hand: Callable[[], list[Decimal]], mine: int, rounds: int
) -> dict[str, Any]:
    """usage() beside `hand`, once both are seen to answer the same numbers (else the ratio
    would mean nothing)."""
    report = _report(ledger)
    theirs = hand()
    if report() != theirs or sum(theirs) == 0:
        raise AssertionError(f"usage() and the hand-written select disagree ({mine} events)")
    return compare(report, hand, number=1, rounds=rounds)


def sqlite_report(folder: Path, *, total: int, mine: int, rounds: int) -> dict[str, Any]:
    """usage() beside the hand-written select + Decimal sum, on one SQLite file."""
    path = folder / "usage.db"
    build_sqlite(path, total=total, mine=mine)
    ledger = Ledger(SQLiteStore(path), clock=lambda: NOW)
    conn = raw_connection(path)
    sql = HAND_SQL.format(events="events", m="?")

    def hand() -> list[Decimal]:
        return _by_day(conn.execute(sql, (ME, "messages", START, END)))

    try:
        return _compared(ledger, hand, mine, rounds)
    finally:
        ledger.close()
        conn.close()


INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS events_by_customer_name ON {} "
    '(customer_id, COALESCE(feature_id, event_name), "timestamp")'
)
DROP_SQL = "DROP INDEX IF EXISTS {}.events_by_customer_name"
BLOCKS = 5


def swapped(
    ledgers: list[Ledger], index: Callable[[int, int], None], *, number: int, rounds: int
) -> dict[str, Any]:
    """Track on one store with the usage index beside the other without it. The noise of a
    shared machine is as large as the effect, so the two stores swap roles (`index(with,
    without)` makes and drops it) between BLOCKS measures, and the median measure is kept."""
    measures = []
    for block in range(BLOCKS):
        indexed, plain = (0, 1) if block % 2 == 0 else (1, 0)
        index(indexed, plain)
        measures.append(
            compare(
                partial(ledgers[indexed].track, ME, "messages"),
                partial(ledgers[plain].track, ME, "messages"),
                number=number,
                rounds=rounds,
            )
        )
    measures.sort(key=lambda m: m["ratio"])
    middle = dict(measures[len(measures) // 2])
    middle["blocks"] = [round(m["ratio"], 3) for m in measures]
    return middle


def sqlite_track_index(folder: Path, *, total: int, number: int, rounds: int) -> dict[str, Any]:
    """Ledger.track on a file of `total` events beside a copy of it without the usage index."""
    paths = [folder / "one.db", folder / "two.db"]
    build_sqlite(paths[0], total=total, mine=max(total // 100, 10))
    shutil.copy(paths[0], paths[1])

    def index(made: int, dropped: int) -> None:
        for n, sql in ((made, INDEX_SQL.format("events")), (dropped, DROP_SQL.format("main"))):
            conn = sqlite3.connect(paths[n], isolation_level=None)
            conn.execute(sql)
            conn.close()

    ledgers = [Ledger(SQLiteStore(path)) for path in paths]
    try:
        return swapped(ledgers, index, number=number, rounds=rounds)
    finally:
        for ledger in ledgers:
            ledger.close()


def build_postgres(url: str, schema: str, *, total: int, mine: int) -> None:
    """The same ledger in PostgreSQL schema `schema` (COPY of the copies)."""
    import psycopg

    from meterlib.stores.postgres.store import PostgresStore

    _template(PostgresStore(url, schema=schema))
    with psycopg.connect(url, autocommit=True) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = 'events' AND column_name <> 'n' ORDER BY ordinal_position",
                (schema,),
            )
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        as_text = ", ".join(f'"{c}"::text' for c in columns)  # COPY takes every value as text
        template = conn.execute(f'SELECT {as_text} FROM "{schema}".events').fetchone()
        assert template is not None
        with (
            conn.cursor() as cur,
            cur.copy(f'COPY "{schema}".events ({listed}) FROM STDIN') as copy,
        ):
            for row in _copies(template, columns, total, mine):
                copy.write_row(row)
        conn.execute(f'ANALYZE "{schema}".events')


def postgres_report(url: str, *, total: int, mine: int, rounds: int) -> dict[str, Any]:
    """usage() beside the hand-written select + Decimal sum, on one PostgreSQL schema."""
    import psycopg

    from meterlib.stores.postgres.store import PostgresStore

    schema = f"bench_usage_{uuid.uuid4().hex[:8]}"
    build_postgres(url, schema, total=total, mine=mine)
    ledger = Ledger(PostgresStore(url, schema=schema), clock=lambda: NOW)
    conn = psycopg.connect(url)
    sql = HAND_SQL.format(events=f'"{schema}".events', m="%s")

    def hand() -> list[Decimal]:
        with conn.transaction():
            return _by_day(conn.execute(sql, (ME, "messages", START, END)))

    try:
        return _compared(ledger, hand, mine, rounds)
    finally:
        ledger.close()
        conn.close()
        _drop(url, schema)


def postgres_track_index(url: str, *, number: int, rounds: int) -> dict[str, Any]:
    """Ledger.track on a schema with the usage index beside one without it."""
    import psycopg

    from meterlib.stores.postgres.store import PostgresStore

    names = [f"bench_track_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    ledgers = [Ledger(PostgresStore(url, schema=name)) for name in names]

    def index(made: int, dropped: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(INDEX_SQL.format(f'"{names[made]}".events'))
            conn.execute(DROP_SQL.format(f'"{names[dropped]}"'))

    try:
        for ledger in ledgers:
            ledger.create(ME, "messages", included=PLENTY)
        return swapped(ledgers, index, number=number, rounds=rounds)
    finally:
        for ledger in ledgers:
            ledger.close()
        for name in names:
            _drop(url, name)


def _drop(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# full and --quick sizes: (events, the customer's in the month, report rounds)
SIZES = {False: (1_000_000, 10_000, 9), True: (5000, 100, 3)}


def rows(run: Run) -> list[Row]:
    """The usage report rows (SQLite; PostgreSQL under tests/postgres.sh) and the track rows."""

    total, mine, rounds = SIZES[run.quick]
    p = run.settings
    measure = (
        f"usage(), one customer's month by day, {count_text(total)} events ({count_text(mine)} its)"
    )
    baseline = "hand-written select of those rows, summed with Decimal in Python"
    on_file = run.record(
        "usage_sqlite", sqlite_report(run.own("usage"), total=total, mine=mine, rounds=rounds)
    )
    track = run.record(
        "usage_index_track_sqlite",
        sqlite_track_index(
            run.own("usage_track"), total=total, number=p.sqlite_number, rounds=p.rounds
        ),
    )
    table = [
        Row.ratio(f"{measure}, SQLite", baseline, on_file, "≤ 2.0×", 2.0),
        Row.ratio(
            f"track, SQLite, {count_text(total)} events, with the usage index",
            "a copy of the file without it (median of 5 measures, roles swapped)",
            track,
            "≤ 1.10×",
            1.10,
        ),
    ]
    url = os.environ.get("METERLIB_TEST_POSTGRES_URL")
    if url:
        on_server = run.record(
            "usage_postgres", postgres_report(url, total=total, mine=mine, rounds=rounds)
        )
        pg_track = run.record(
            "usage_index_track_postgres",
            postgres_track_index(url, number=10, rounds=max(3, p.rounds * 2)),
        )
        table += [
            Row.ratio(f"{measure}, PostgreSQL (loopback)", baseline, on_server, "≤ 2.0×", 2.0),
            Row.ratio(
                "track, PostgreSQL (loopback, test cluster), with the usage index",
                "a schema without it, same rounds (median of 5 measures, roles swapped)",
                pg_track,
                "≤ 1.10×",
                1.10,
            ),
        ]
    return table
