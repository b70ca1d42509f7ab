"""The PostgreSQL benchmark's baselines write what a track writes, and its relay delays."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from postgres_server import drop_schema, psycopg_or_skip, server_url

psycopg = psycopg_or_skip()

from benchmarks import postgres_trips  # noqa: E402
from benchmarks.relay import spawn, stop  # noqa: E402
from meterlib import Ledger  # noqa: E402
from meterlib.stores.postgres.store import PostgresStore  # noqa: E402


@pytest.fixture
def side() -> Iterator[postgres_trips.Side]:
    """The benchmark's ops on a fresh schema with one customer."""
    url, schema = server_url(), f"trips_{uuid.uuid4().hex[:12]}"
    with Ledger(PostgresStore(url, schema=schema)) as setup:
        setup.create("cus_1", "messages", included=100, reset="month")
        grant_id = setup.grants("cus_1")[0].item.id
    s = postgres_trips.Side(url, schema, grant_id)
    yield s
    s.close()
    drop_schema(url, schema)


def _spent_and_events(side: postgres_trips.Side) -> tuple[Decimal, int]:
    balance = side.ledger.balance("cus_1", "messages")
    assert balance is not None
    return Decimal(100) - balance.remaining, len(side.ledger.events(customer_id="cus_1").events)


def test_each_track_spends_one_and_records_one_event(side: postgres_trips.Side) -> None:
    """Ledger.track, the store seam's track and the hand-written transaction do the same."""
    ops = side.ops()
    for n, name in enumerate(("Ledger.track", "tx.load + tx.apply", "one-statement transaction")):
        ops[name]()
        assert _spent_and_events(side) == (n + 1, n + 1), name


def test_the_relay_adds_its_delay_each_way() -> None:
    """A query through the relay takes at least 2 × the delay longer than straight."""
    url = server_url()
    info = psycopg.conninfo.conninfo_to_dict(url)
    relay, port = spawn(
        str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432), delay=0.01
    )
    try:
        with psycopg.connect(postgres_trips._via(url, port), autocommit=True) as conn:
            start = time.perf_counter()
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert time.perf_counter() - start >= 0.02
    finally:
        stop(relay)
