"""Many processes, one PostgreSQL ledger: each its own PostgresStore and connections.

The workers are started with "spawn", so each is a fresh interpreter that opens its own
store; a barrier releases them together so their transactions really overlap.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from postgres_server import drop_schema, new_schema, psycopg_or_skip, server_url

psycopg = psycopg_or_skip()

from meterlib import Ledger  # noqa: E402
from meterlib.stores.postgres.store import PostgresStore  # noqa: E402

PROCESSES = 8
CALLS = 1_000
JOIN_TIMEOUT = 600  # seconds: a guard against a hung worker, not a wait for time to pass

pytestmark = pytest.mark.slow


def _work(url: str, schema: str, action: str, barrier: Any, results: Any) -> None:
    """One worker: CALLS tracks (or deducting checks) of 1 message on customer c1."""
    allowed = 0
    lowest: Decimal | None = None
    with Ledger(PostgresStore(url, schema=schema, max_size=1)) as ledger:
        barrier.wait()
        for _ in range(CALLS):
            if action == "track":
                result = ledger.track("c1", "messages", value=1)
                balance = result.balance
            else:
                answer = ledger.check("c1", "messages", send_event=True)
                allowed += answer.allowed
                balance = answer.balance
            if balance is not None and (lowest is None or balance.remaining < lowest):
                lowest = balance.remaining
    results.put((allowed, lowest))


def _run(url: str, schema: str, action: str) -> list[tuple[int, Decimal | None]]:
    """Run PROCESSES workers together; each one's (allowed checks, lowest remaining seen)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_work, args=(url, schema, action, barrier, results))
        for _ in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=JOIN_TIMEOUT) for _ in workers]
    for w in workers:
        w.join(timeout=JOIN_TIMEOUT)
        assert w.exitcode == 0, f"a worker failed (exit code {w.exitcode})"
    return outcomes


def _event_count(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".events').fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def shared() -> Iterator[tuple[str, str, Ledger]]:
    """A server URL, a fresh schema on it, and a Ledger over that schema (dropped after)."""
    url = server_url()
    schema = new_schema()
    try:
        with Ledger(PostgresStore(url, schema=schema)) as ledger:
            yield url, schema, ledger
    finally:
        drop_schema(url, schema)


class TestProcessesShareOneLedger:
    """8 processes × 1 000 calls on one customer lose no update and never overspend."""

    def test_tracks_lose_no_update(self, shared: tuple[str, str, Ledger]) -> None:
        """8 × 1 000 tracks of 1 against a large balance: usage exactly 8 000, 8 000 events."""
        url, schema, ledger = shared
        ledger.create("c1", "messages", included=1_000_000)
        _run(url, schema, "track")
        balance = ledger.balance("c1", "messages")
        assert balance is not None
        assert (balance.usage, balance.remaining) == (Decimal(8_000), Decimal(992_000))
        assert _event_count(url, schema) == PROCESSES * CALLS

    def test_checks_spend_the_last_unit_once(self, shared: tuple[str, str, Ledger]) -> None:
        """8 × 1 000 deducting checks against 5 000: exactly 5 000 allowed, never below 0."""
        url, schema, ledger = shared
        ledger.create("c1", "messages", included=5_000)
        outcomes = _run(url, schema, "check")
        assert sum(allowed for allowed, _ in outcomes) == 5_000
        assert all(lowest is not None and lowest >= 0 for _, lowest in outcomes)
        balance = ledger.balance("c1", "messages")
        assert balance is not None
        assert (balance.usage, balance.remaining) == (Decimal(5_000), Decimal(0))
        assert _event_count(url, schema) == 5_000

    def test_capped_tracks_never_overspend(self, shared: tuple[str, str, Ledger]) -> None:
        """8 × 1 000 tracks of 1 against 5 000 without overage: exactly 5 000 used."""
        url, schema, ledger = shared
        ledger.create("c1", "messages", included=5_000)
        outcomes = _run(url, schema, "track")
        assert all(lowest is not None and lowest >= 0 for _, lowest in outcomes)
        balance = ledger.balance("c1", "messages")
        assert balance is not None
        assert (balance.usage, balance.remaining) == (Decimal(5_000), Decimal(0))
