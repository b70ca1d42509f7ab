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


def track_vs_sqlite(folder: Path, *, number: int, rounds: int) -> dict[str, Any]:
    """Median `track` on PostgreSQL over `track` on a SQLite file (WAL); without a server at
    the default durability, only why not (`"server": None`)."""
    from meterlib.stores.postgres.store import PostgresStore

    with durable_server() as (url, source):
        if url is None:
            return {"server": None, "why": source}
        found = settings_of(url)
        if found != DEFAULTS:
            return {"server": None, "why": f"the server is not at the defaults: {found}"}
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
    """PostgreSQL's track beside SQLite's."""
    p = run.settings
    found = run.record(
        "postgres_track",
        track_vs_sqlite(run.own("postgres"), number=max(20, p.sqlite_number // 5), rounds=p.rounds),
    )
    measure = "track, PostgreSQL (loopback; server defaults: fsync on, synchronous_commit on)"
    baseline = "track, SQLite file (WAL, synchronous = NORMAL: no sync per commit)"
    if found["server"] is None:
        return [Row.info(measure, baseline, "no server", 0.0, found["why"], target="(info)")]
    return [Row.ratio(measure, baseline, found, "(info)", None)]
