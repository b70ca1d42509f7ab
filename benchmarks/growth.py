"""How a ledger grows, and how it is kept small and moved (issue 19).

    python -m benchmarks.growth [--quick] [--events N]
    bash tests/postgres.sh -- python -m benchmarks.growth      # adds the PostgreSQL figures

* bytes per event and per idempotency key, SQLite (file size after a checkpoint, over N events
  tracked without and with keys) and PostgreSQL (`pg_total_relation_size` of the tables);
* N events spread over 100 hours, pruned by `meterlib prune` to the last 10 %: the file's size
  before and after (the CLI's VACUUM gives the space back);
* N keyed tracks spread over 10 simulated days: the keys left, beside one day's worth;
* the path of `meterlib copy` from SQLite to PostgreSQL for N events (dump to a spool file,
  restore): its time, and restore's events/s beside hand-written `executemany` and `COPY` of
  the very same rows into an events table of the same schema.

The full run uses N = 1 000 000 (minutes); `--quick` 20 000 (seconds, numbers mean little).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.plan import Run
from benchmarks.report import Row
from meterlib import Ledger, ManualClock
from meterlib.cli import cli
from meterlib.dumping import all_events, restore_from
from meterlib.stores import SQLiteStore
from meterlib.stores.rows import EVENT_COLUMNS

BATCH = 1_000
DAY_MS = 86_400_000
START = datetime(2025, 1, 1, tzinfo=UTC)


def _file_size(path: Path) -> int:
    """The file's bytes once its WAL is checkpointed into it (what stays on disk)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _seed(ledger: Ledger, clock: ManualClock, events: int, *, keyed: bool, span_ms: int) -> None:
    """`events` tracks of one customer in batches, spread evenly over `span_ms`."""
    ledger.create("c1", "api", included=10**12)
    batches = max(1, events // BATCH)
    step = span_ms // batches
    for b in range(batches):
        items: list[dict[str, Any]] = [
            {"customer_id": "c1", "feature_id": "api"} for _ in range(BATCH)
        ]
        if keyed:
            for n, item in enumerate(items):
                item["idempotency_key"] = f"k{b}-{n}"
        ledger.batch_track(items)
        clock.advance(milliseconds=step)


def sqlite_growth(folder: Path, events: int) -> dict[str, Any]:
    """Bytes per event and per key on SQLite; the keys left after 10 days of keyed tracks."""
    sizes = {}
    keys_left = 0
    for keyed in (False, True):
        path = folder / f"growth-{keyed}.db"
        clock = ManualClock(START)
        with Ledger(SQLiteStore(path), clock=clock) as ledger:
            _seed(ledger, clock, events, keyed=keyed, span_ms=10 * DAY_MS)
            if keyed:
                with ledger.store.transaction(write=False) as tx:
                    keys_left = len(tx.list_idempotency_keys(-1))
        sizes[keyed] = _file_size(path)
    empty = folder / "empty.db"
    SQLiteStore(empty).close()
    base = _file_size(empty)
    # the keyed file holds only the last day's keys: its extra bytes are theirs
    return {
        "events": events,
        "bytes_per_event": (sizes[False] - base) / events,
        "bytes_per_key": (sizes[True] - sizes[False]) / max(keys_left, 1),
        "keys_left": keys_left,
        "keys_per_day": events // 10,
    }


def prune_shrink(folder: Path, events: int) -> dict[str, Any]:
    """N events over 100 hours, `meterlib prune` to the last 10 %: the file before and after."""
    path = folder / "prune.db"
    clock = ManualClock(START)
    with Ledger(SQLiteStore(path), clock=clock) as ledger:
        _seed(ledger, clock, events, keyed=False, span_ms=100 * 3_600_000)
        cut = clock() - 10 * 3_600_000
    before = _file_size(path)
    began = time.perf_counter()
    cli.main(["--db", str(path), "prune", "--before", str(cut)], standalone_mode=False)
    seconds = time.perf_counter() - began
    after = _file_size(path)
    return {
        "events": events,
        "bytes_before": before,
        "bytes_after": after,
        "shrink": 1 - after / before,
        "prune_cli_s": seconds,
    }


def postgres_figures(folder: Path, events: int, url: str) -> dict[str, Any]:
    """The copy path SQLite → PostgreSQL for N events, restore's rate beside hand-written
    executemany and COPY of the same rows; bytes per event and key on PostgreSQL."""
    import psycopg

    from meterlib.stores.postgres import rows as pg
    from meterlib.stores.postgres.store import PostgresStore

    path = folder / "copy.db"
    clock = ManualClock(START)
    with Ledger(SQLiteStore(path), clock=clock) as ledger:
        _seed(ledger, clock, events, keyed=False, span_ms=10 * DAY_MS)
    spool = folder / "copy.jsonl"
    began = time.perf_counter()
    with Ledger(SQLiteStore(path), clock=clock) as source, spool.open("w") as out:
        source.dump(out)
    dumped = time.perf_counter() - began
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    target = PostgresStore(url, schema=schema)
    began = time.perf_counter()
    with spool.open() as fp:
        restore_from(target, fp)
    restored = time.perf_counter() - began
    target.close()
    source = Ledger(SQLiteStore(path), clock=clock)
    with source, source.store.transaction(write=False) as tx:
        records = list(all_events(tx, page=10_000))
    rows = [pg.event_to_row(e) for e in records]
    sql = pg.Statements(schema)
    figures: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name in ("executemany", "copy"):
            conn.execute(
                f'CREATE TABLE "{schema}".hand_{name} (LIKE "{schema}".events INCLUDING ALL)'
            )
            began = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                if name == "executemany":
                    cur.executemany(sql.add_event.replace(".events", f".hand_{name}"), rows)
                else:
                    columns = ", ".join(f'"{c}"' for c in (*EVENT_COLUMNS, "spellings"))
                    with cur.copy(f'COPY "{schema}".hand_{name} ({columns}) FROM STDIN') as copy:
                        for row in rows:
                            copy.write_row(row)
            figures[f"{name}_s"] = time.perf_counter() - began
        sizes = conn.execute(
            f"SELECT pg_total_relation_size('\"{schema}\".events'), "
            f"pg_total_relation_size('\"{schema}\".idempotency_keys')"
        ).fetchone()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    key_bytes = _postgres_key_bytes(url, events // 10)
    return {
        "events": events,
        "dump_s": dumped,
        "restore_s": restored,
        "copy_s": dumped + restored,
        "restore_events_per_s": events / restored,
        "executemany_events_per_s": events / figures["executemany_s"],
        "copy_events_per_s": events / figures["copy_s"],
        "pg_bytes_per_event": sizes[0] / events if sizes else None,
        "pg_bytes_per_key": key_bytes,
    }


def _postgres_key_bytes(url: str, keys: int) -> float:
    """Bytes per key in PostgreSQL's key table after `keys` keyed tracks (one day's worth)."""
    import psycopg

    from meterlib.stores.postgres.store import PostgresStore

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    clock = ManualClock(START)
    with Ledger(PostgresStore(url, schema=schema), clock=clock) as ledger:
        _seed(ledger, clock, keys, keyed=True, span_ms=DAY_MS // 2)
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            f"SELECT pg_total_relation_size('\"{schema}\".idempotency_keys'), "
            f'(SELECT count(*) FROM "{schema}".idempotency_keys)'
        ).fetchone()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return found[0] / max(found[1], 1) if found else 0.0


def run(folder: Path, *, events: int, url: str | None) -> dict[str, Any]:
    """Every figure (PostgreSQL's only with a URL); each is told to stderr once measured."""
    found: dict[str, Any] = {}
    for name, measure in (("sqlite", sqlite_growth), ("prune", prune_shrink)):
        found[name] = _told(name, measure(folder, events))
    if url:
        found["postgres"] = _told("postgres", postgres_figures(folder, events, url))
    return found


def _told(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    print(f"  {name}: {figures}", file=sys.stderr, flush=True)
    return figures


def _url() -> str | None:
    return os.environ.get("METERLIB_BENCH_POSTGRES_URL") or os.environ.get(
        "METERLIB_TEST_POSTGRES_URL"
    )


def rows(this: Run) -> list[Row]:
    """The rows of the table `python -m benchmarks` prints."""
    found = this.record(
        "growth", run(this.own("growth"), events=20_000 if this.quick else 1_000_000, url=_url())
    )
    return [Row.external(item) for item in _judged(found)]


def _judged(found: dict[str, Any]) -> list[dict[str, Any]]:
    s, p = found["sqlite"], found["prune"]
    out = [
        {
            "measure": f"keys left after {s['events']:,} keyed tracks over 10 days (SQLite)",
            "baseline": "one day of keys",
            "ratio": s["keys_left"] / s["keys_per_day"],
            "limit": 1.0,
        },
        {
            "measure": f"SQLite file after pruning {p['events']:,} events to the last 10 %",
            "baseline": "the file before",
            "ratio": p["bytes_after"] / p["bytes_before"],
            "limit": 0.2,
        },
    ]
    g = found.get("postgres")
    if g:
        out.append(
            {
                "measure": f"restore of {g['events']:,} events into PostgreSQL (events/s)",
                "baseline": "hand-written COPY of the same rows",
                "ratio": g["copy_events_per_s"] / g["restore_events_per_s"],
                "target": "(info)",
                "limit": 1e9,
            }
        )
    return out


def render(found: dict[str, Any]) -> str:
    """The figures as text."""
    s, p = found["sqlite"], found["prune"]
    lines = [
        f"SQLite: {s['bytes_per_event']:.0f} B per event, {s['bytes_per_key']:.0f} B per key "
        f"({s['events']:,} events)",
        f"keys after {s['events']:,} keyed tracks over 10 simulated days: {s['keys_left']:,} "
        f"(one day: {s['keys_per_day']:,})",
        f"prune of {p['events']:,} events to the last 10 %: {p['bytes_before'] / 2**20:.1f} MiB "
        f"-> {p['bytes_after'] / 2**20:.1f} MiB (shrunk {p['shrink']:.0%}; "
        f"meterlib prune took {p['prune_cli_s']:.1f} s)",
    ]
    g = found.get("postgres")
    if g:
        lines += [
            f"PostgreSQL: {g['pg_bytes_per_event']:.0f} B per event, "
            f"{g['pg_bytes_per_key']:.0f} B per key",
            f"copy SQLite -> PostgreSQL of {g['events']:,} events: {g['copy_s']:.1f} s "
            f"(dump {g['dump_s']:.1f} s, restore {g['restore_s']:.1f} s)",
            f"restore {g['restore_events_per_s']:,.0f} events/s; hand-written executemany "
            f"{g['executemany_events_per_s']:,.0f}/s, COPY {g['copy_events_per_s']:,.0f}/s",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.growth", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--events", type=int, help="N (default 1 000 000; --quick 20 000)")
    args = parser.parse_args(argv)
    events = args.events or (20_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        print(render(run(Path(tmp), events=events, url=_url())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
