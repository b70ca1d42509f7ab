"""PostgreSQL `track` beside SQLite's, in the same run (issue 8's benchmark line).

The server is `METERLIB_BENCH_POSTGRES_URL`, else `METERLIB_TEST_POSTGRES_URL` (what
`bash tests/postgres.sh -- python -m benchmarks` sets); with neither, the row says so.
Both ledgers track one customer with a grant nobody exhausts; the store is the only difference.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from benchmarks.sqlite import PLENTY, seeded_store
from benchmarks.timing import compare
from meterlib import Ledger


def server_url() -> str | None:
    """The PostgreSQL server to measure against, if one is configured."""
    return os.environ.get("METERLIB_BENCH_POSTGRES_URL") or os.environ.get(
        "METERLIB_TEST_POSTGRES_URL"
    )


def track_vs_sqlite(folder: Path, *, number: int, rounds: int) -> dict[str, Any] | None:
    """Median `track` on PostgreSQL over `track` on a SQLite file (WAL); None without a server."""
    url = server_url()
    if url is None:
        return None
    from meterlib.stores.postgres import PostgresStore

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    pg = Ledger(PostgresStore(url, schema=schema))
    sqlite = seeded_store(folder / "pg_beside.db")
    try:
        pg.create("cus_1", "messages", included=PLENTY, reset="month")
        result = compare(
            lambda: pg.track("cus_1", "messages"),
            lambda: sqlite.track("cus_1", "messages"),
            number=number,
            rounds=rounds,
        )
    finally:
        pg.close()
        sqlite.close()
        _drop(url, schema)
    return result


def _drop(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
