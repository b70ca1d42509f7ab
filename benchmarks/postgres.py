"""PostgreSQL `track` beside SQLite's, in the same run, on a server with default durability.

A PostgreSQL commit waits for its WAL to reach the disk (`fsync = on`,
`synchronous_commit = on`, the server's defaults); the throwaway test cluster of
`tests/postgres.sh` turns fsync off for speed. So this row never uses a server that is not
at the defaults: `METERLIB_BENCH_POSTGRES_URL` is taken only if it is, and otherwise (under
`bash tests/postgres.sh -- python -m benchmarks`, where `METERLIB_TEST_POSTGRES_URL` is set)
the benchmark starts its own cluster with `METERLIB_PG_DURABLE=1 tests/postgres.sh start`
and stops it afterwards. With no server at all, or none at the defaults, the row says so.

Both ledgers track one customer with a grant nobody exhausts; the store is the only
difference. SQLite runs as SQLiteStore does: WAL with `synchronous = NORMAL`, which does not
sync the disk at each commit (only at checkpoints), so the row is not a like-for-like
durability comparison, and its label says so.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import postgres_trips
from benchmarks.plan import Run
from benchmarks.report import Row
from benchmarks.sqlite import PLENTY, seeded_store
from benchmarks.timing import compare
from meterlib import Ledger

DEFAULTS = {"fsync": "on", "synchronous_commit": "on"}
SCRIPT = Path(__file__).resolve().parent.parent / "tests" / "postgres.sh"


def settings_of(url: str) -> dict[str, str]:
    """The server's durability settings."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return {
            name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in DEFAULTS
        }


@contextmanager
def durable_server() -> Iterator[tuple[str | None, str]]:
    """A server at the default durability, and how it was found (or why there is none)."""
    given = os.environ.get("METERLIB_BENCH_POSTGRES_URL")
    if given and settings_of(given) == DEFAULTS:
        yield given, "METERLIB_BENCH_POSTGRES_URL"
        return
    if not (given or os.environ.get("METERLIB_TEST_POSTGRES_URL")):
        yield None, "set METERLIB_BENCH_POSTGRES_URL, or run under tests/postgres.sh --"
        return
    with tempfile.TemporaryDirectory(prefix="meterlib-bench-pg-") as tmp:
        env = {**os.environ, "METERLIB_PG_STATE": f"{tmp}/state", "METERLIB_PG_DURABLE": "1"}
        started = subprocess.run(
            ["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, check=False
        )
        try:
            if started.returncode != 0:
                yield None, f"no cluster at the defaults: {started.stderr.strip()[-200:]}"
                return
            url = started.stdout.strip().split("=", 1)[1].strip("'")
            yield url, "its own cluster (tests/postgres.sh, METERLIB_PG_DURABLE=1)"
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, check=False)


def track_vs_sqlite(
    url: str, source: str, folder: Path, *, number: int, rounds: int
) -> dict[str, Any]:
    """Median `track` on PostgreSQL over `track` on a SQLite file (WAL)."""
    from meterlib.stores.postgres.store import PostgresStore

    found = settings_of(url)
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
    result.update(server=source, settings=found)
    return result


def _drop(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def rows(run: Run) -> list[Row]:
    """PostgreSQL's track beside SQLite's; track and check beside hand-written SQL, over
    loopback and through a 1 ms link (`benchmarks.postgres_trips`)."""
    p = run.settings
    measure = "track, PostgreSQL (loopback; server defaults: fsync on, synchronous_commit on)"
    baseline = "track, SQLite file (WAL, synchronous = NORMAL: no sync per commit)"
    with durable_server() as (url, source):
        found = settings_of(url) if url is not None else None
        if url is None or found != DEFAULTS:
            why = source if url is None else f"the server is not at the defaults: {found}"
            run.record("postgres_track", {"server": None, "why": why})
            return [Row.info(measure, baseline, "no server", 0.0, why, target="(info)")]
        number = max(20, p.sqlite_number // 5)
        beside = run.record(
            "postgres_track",
            track_vs_sqlite(url, source, run.own("postgres"), number=number, rounds=p.rounds),
        )
        # Round trips are the link's, not the disk's: on the fsync-off test cluster when there
        # is one (a commit's fsync here varies by milliseconds and would drown 1 ms).
        fast = os.environ.get("METERLIB_TEST_POSTGRES_URL") or url
        calls = 30 if run.quick else 300
        trips = run.record("postgres_trips", postgres_trips.measure(fast, calls=calls))
        server = f"fsync {settings_of(fast)['fsync']}"
    return [
        Row.ratio(measure, baseline, beside, "(info)", None),
        *postgres_trips.rows_of(trips, server),
    ]
