"""The simple-protocol exchange (`meterlib.stores.postgres.simple`): a batch of statements as
one query string of EXECUTEs of statements prepared on the connection, its edges included."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from postgres_server import psycopg_or_skip, throwaway_store

psycopg_or_skip()

import psycopg  # noqa: E402

from meterlib import Ledger, ManualClock  # noqa: E402
from meterlib.stores.postgres import simple  # noqa: E402
from meterlib.stores.postgres.store import PostgresStore  # noqa: E402
from meterlib.stores.postgres.wire import Step  # noqa: E402


@pytest.fixture
def conn() -> Iterator[psycopg.Connection[Any]]:
    s = throwaway_store()
    with psycopg.connect(s.url, autocommit=True) as c:
        yield c
    s.close()


@pytest.fixture
def ledger(clock: ManualClock) -> Iterator[Ledger]:
    s = throwaway_store()
    one = Ledger(PostgresStore(s.url, schema=s.schema, min_size=1, max_size=1), clock=clock)
    one.create("c1", "messages", included=100)
    yield one
    one.close()
    s.close()


def test_placeholders_become_numbered_parameters() -> None:
    made = simple.prepared("SELECT %(a)s, %s LIKE 'x%%', %(a)s FROM t WHERE y = %(b)s")
    assert made.text == "SELECT $1, $2 LIKE 'x%', $1 FROM t WHERE y = $3"
    assert made.call == f"EXECUTE {made.name}(%(a)s, %s, %(b)s)"
    assert simple.prepared("COMMIT") == ("COMMIT", "", "COMMIT", "")
    assert simple.prepared("SELECT 'a%%b'").text == "SELECT 'a%b'"


def test_values_arrive_as_given(conn: psycopg.Connection[Any]) -> None:
    """Quoted client-side: quotes, backslashes, NULs refused by the server aside, arrays,
    NULL, exact decimals and JSON text come back as they went."""
    value = 'it\'s \\ a "test" ; DROP TABLE x; --'
    steps = [
        Step("BEGIN"),
        Step(
            "SELECT %s::text, %s::numeric, %s::text[], %s::bigint, %s::json::text",
            (value, Decimal("0.1000000000"), ["a", "b'c", ""], None, '{"k": [1, "é"]}'),
        ),
        Step("COMMIT"),
    ]
    results = simple.send(conn, steps)
    assert results is not None
    assert results[1].fetchone() == (
        value,
        Decimal("0.1000000000"),
        ["a", "b'c", ""],
        None,
        '{"k": [1, "é"]}',
    )


def test_a_statement_the_server_cannot_prepare_goes_another_way(
    conn: psycopg.Connection[Any],
) -> None:
    """An untyped parameter cannot be prepared: inside a transaction the refusal is undone at
    its savepoint, the batch is handed back (None) and never tried that way again."""
    odd = f"SELECT %s + %s AS x{uuid.uuid4().hex}"  # unknown + unknown: ambiguous
    conn.execute("BEGIN")
    assert simple.send(conn, [Step("SELECT 1"), Step(odd, (1, 2))]) is None
    assert not simple.fits([Step(odd, (1, 2))])
    assert conn.execute("SELECT 2").fetchone() == (2,)  # the transaction is still usable
    conn.execute("COMMIT")


def test_many_rows_of_one_statement(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TEMP TABLE t (n int)")
    rows = [(n,) for n in range(5)]
    results = simple.send(conn, [Step("INSERT INTO t VALUES (%s)", rows, many=True)])
    assert results is not None and results[0].rowcount == 5
    assert not simple.fits([Step("INSERT INTO t VALUES (%s)", [(1,)] * 65, many=True)])


def test_a_deallocate_behind_its_back_is_survived(ledger: Ledger) -> None:
    """Statements dropped from the connection (DEALLOCATE ALL, as psycopg's own `rollback()`
    sends) are prepared again, and the work that began with them sent again, once."""
    ledger.track("c1", "messages")
    pool = ledger.store._pool  # type: ignore[attr-defined]
    with pool.connection() as c:
        c.execute("DEALLOCATE ALL")
    assert ledger.track("c1", "messages").balance.remaining == 98  # type: ignore[union-attr]
    assert ledger.check("c1", "messages").balance.remaining == 98  # type: ignore[union-attr]
    events = ledger.events(customer_id="c1")
    assert len(events.events) == 2
