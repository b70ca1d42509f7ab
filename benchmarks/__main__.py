"""`python -m benchmarks [--quick] [--json PATH]`: run every measure, print the table."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from attrs import frozen

from benchmarks import floors, imports, memory, postgres, processes, scale, sqlite
from benchmarks.report import Row, render
from benchmarks.timing import machine


@frozen
class Settings:
    """How long each measure runs."""

    number: int  # calls per round, MemoryStore
    rounds: int
    sqlite_number: int  # calls per round, SQLite
    batch: int  # items of the batch_track measure
    batch_rounds: int
    big: int  # customers and events of the big store
    small: int  # customers of the small one
    scale_number: int
    scale_rounds: int
    memory_rows: int
    seconds: float  # of the multi-process run


FULL = Settings(
    number=2000,
    rounds=15,
    sqlite_number=500,
    batch=1000,
    batch_rounds=5,
    big=1_000_000,
    small=1000,
    scale_number=500,
    scale_rounds=11,
    memory_rows=10_000,
    seconds=3.0,
)
QUICK = Settings(
    number=200,
    rounds=3,
    sqlite_number=50,
    batch=100,
    batch_rounds=1,
    big=5000,
    small=100,
    scale_number=50,
    scale_rounds=3,
    memory_rows=200,
    seconds=0.3,
)


def _catch_up(quick: bool) -> Any:
    """The year-idle catch-up measure of `benchmarks/catch_up.py`, when it exists."""
    if importlib.util.find_spec("benchmarks.catch_up") is None:
        return None
    from benchmarks import catch_up  # type: ignore[attr-defined, unused-ignore]

    return catch_up.run(quick)


def run(quick: bool, folder: Path) -> tuple[list[Row], dict[str, Any]]:
    """Every measure; returns the table rows and the raw results."""
    p = QUICK if quick else FULL
    n, r = p.number, p.rounds
    results: dict[str, Any] = {}

    def step(name: str, value: Any) -> Any:
        print(f"  {name} done", file=sys.stderr, flush=True)
        results[name] = value
        return value

    def own(name: str) -> Path:
        """A new folder for one measure: no measure sees another's files (an earlier run
        timed check on the file track had just filled, whose seeding added a second grant)."""
        path = folder / name
        path.mkdir()
        return path

    mem_check = step("memory_check", memory.check_vs_fixed_window(number=n, rounds=r))
    mem_track = step("memory_track", memory.track_vs_moving_window(number=n, rounds=r))
    sql_n = p.sqlite_number
    sql_track = step(
        "sqlite_track", sqlite.track_vs_hand_written(own("track"), number=sql_n, rounds=r)
    )
    sql_check = step(
        "sqlite_check", sqlite.check_vs_hand_written(own("check"), number=sql_n, rounds=r)
    )
    batch = step(
        "batch_track", sqlite.batch_vs_single(own("batch"), size=p.batch, rounds=p.batch_rounds)
    )
    sn, sr = p.scale_number, p.scale_rounds
    big_sql = step(
        "scale_sqlite",
        scale.sqlite_big_vs_small(own("scale"), big=p.big, small=p.small, number=sn, rounds=sr),
    )
    big_mem = step(
        "scale_memory",
        scale.memory_big_vs_small(big=p.big, small=p.small, number=sn, rounds=sr),
    )
    objects = step("floor_result_objects", floors.result_objects(number=n, rounds=r))
    replay = step("floor_replayed_sql", floors.replayed_sql(own("replay"), number=sql_n, rounds=r))
    hand_batch = step(
        "floor_hand_written_batch",
        floors.hand_written_batch(own("hand_batch"), size=p.batch, rounds=p.batch_rounds),
    )
    memory_batch = step(
        "floor_memory_batch",
        floors.memory_batch(own("memory_batch"), size=p.batch, rounds=p.batch_rounds),
    )
    catch_up = step("catch_up", _catch_up(quick))
    row_bytes = step("memory_per_row", memory.bytes_per_balance_row(customers=p.memory_rows))
    one = step(
        "processes_1",
        processes.tracks_per_second(own("processes_1"), processes=1, seconds=p.seconds),
    )
    four = step(
        "processes_4",
        processes.tracks_per_second(own("processes_4"), processes=4, seconds=p.seconds),
    )
    pg_track = step(
        "postgres_track",
        postgres.track_vs_sqlite(own("postgres"), number=max(20, sql_n // 5), rounds=r),
    )

    imported = step("imports", imports.run(own("imports"), quick=quick))

    big = f"{p.big:,}".replace(",", " ")
    small = f"{p.small:,}".replace(",", " ")
    rows = [
        Row.ratio("check, MemoryStore", "limits FixedWindow hit", mem_check, "≤ 1.0×", 1.0),
        Row.ratio(
            "check, MemoryStore, worked out (the first after a change to the customer)",
            "limits FixedWindow hit",
            mem_check["worked_out"],
            "(info)",
            None,
        ),
        Row.ratio("track, MemoryStore", "limits MovingWindow hit", mem_track, "≤ 1.0×", 1.0),
        Row.ratio(
            "track, SQLite file (WAL)", "hand-written sqlite3 transaction", sql_track, "≤ 1.5×", 1.5
        ),
        Row.ratio(
            "check, SQLite file", "hand-written selects, one read tx", sql_check, "≤ 1.5×", 1.5
        ),
        Row.ratio(
            "check, SQLite file, nothing known (another connection committed)",
            "hand-written selects, one read tx",
            sql_check["unknown"],
            "(info)",
            None,
        ),
        Row.ratio(
            "check, SQLite file",
            "one autocommit select of the grants",
            sql_check["vs_lone_select"],
            "(info)",
            None,
        ),
        Row.speedup(f"batch_track of {p.batch}, SQLite", f"{p.batch} single tracks", batch),
        Row.ratio(
            f"track, SQLite, {big} customers + events (random customer per call)",
            f"{small} customers, no events",
            big_sql,
            "≤ 1.25×",
            1.25,
            note=_disk_note(big_sql),
        ),
        Row.ratio(
            f"track, MemoryStore, {big} customers + events (random customer)",
            f"{small} customers, no events",
            big_mem,
            "≤ 1.25×",
            1.25,
        ),
        Row.ratio(
            "same, SQLite, one customer tracked (not a random one each call)",
            f"{small} customers, no events",
            big_sql["one_customer"],
            "≤ 1.25×",
            1.25,
        ),
        Row.ratio(
            "same, MemoryStore, one customer tracked",
            f"{small} customers, no events",
            big_mem["one_customer"],
            "≤ 1.25×",
            1.25,
        ),
    ]
    rows.extend(Row.external(item) for item in _as_list(catch_up))
    rows += [
        Row.ratio(
            "floor: only the objects a check returns",
            "limits FixedWindow hit",
            objects["check"],
            "(floor)",
            None,
        ),
        Row.ratio(
            "floor: only the objects a track makes",
            "limits MovingWindow hit",
            objects["track"],
            "(floor)",
            None,
        ),
        Row.ratio(
            f"floor: a hand-written track, SQLite, {big} customers + events (random customer)",
            f"the same, {small} customers, no events",
            big_sql["hand_written"],
            "(floor)",
            None,
        ),
        Row.ratio(
            "floor: Ledger.track's SQL replayed, no Python",
            "hand-written sqlite3 transaction",
            replay,
            "(floor)",
            None,
        ),
        Row.speedup(
            f"floor: {p.batch} hand-written tracks in one transaction",
            f"{p.batch} hand-written transactions",
            hand_batch,
            None,
        ),
        Row.info(
            "floor: one item of a MemoryStore batch_track (no I/O)",
            "one SQLite track",
            f"{memory_batch['ceiling']:.1f}× faster",
            memory_batch["ceiling"],
            f"{memory_batch['memory_batch_item_us']:.1f} µs vs "
            f"{memory_batch['sqlite_track_us']:.1f} µs",
        ),
    ]
    rows.append(Row.bytes("memory per balance row, MemoryStore", row_bytes))
    rows.append(Row.throughput("4 processes tracking into one SQLite file", four, one))
    if pg_track is None:
        rows.append(
            Row.info(
                "track, PostgreSQL (loopback)",
                "track, SQLite file",
                "no server",
                0.0,
                "set METERLIB_BENCH_POSTGRES_URL, or run under tests/postgres.sh --",
                target="(info)",
            )
        )
    else:
        rows.append(
            Row.ratio(
                "track, PostgreSQL (loopback)", "track, SQLite file", pg_track, "(info)", None
            )
        )
    rows += imports.rows(imported)
    return rows, results


def _disk_note(result: dict[str, Any]) -> str:
    """Page reads (read system calls: SQLite cache misses) and disk bytes a track, when known."""
    big, small = result["reads_per_track"]["big"], result["reads_per_track"]["small"]
    if big is None or small is None:
        return ""
    return (
        f"; a track reads {big['read_calls']:.1f} vs {small['read_calls']:.1f} pages "
        f"({big['disk_bytes'] / 1024:.1f} vs {small['disk_bytes'] / 1024:.1f} KiB from disk)"
    )


def _as_list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table, write JSON if asked."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (for CI)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="meterlib-bench-") as tmp:
        rows, results = run(args.quick, Path(tmp))
    about = machine()
    print(render(rows, about, quick=args.quick))
    if args.json is not None:
        payload = {
            "command": "python -m benchmarks" + (" --quick" if args.quick else ""),
            "quick": args.quick,
            "machine": about,
            "seconds": time.perf_counter() - started,
            "table": [row.to_dict() for row in rows],
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
