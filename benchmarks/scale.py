"""Does track slow down as the store grows? 1 000 000 customers and events against 1 000 and none.

The big stores are built fast, not through the Ledger: one customer, grant and event are made
by the Ledger as templates, then copied with new ids, in one transaction. On SQLite that is
`executemany` of plain INSERTs (a 1 GB page cache while loading); on the MemoryStore it is the
session's own put/add methods on `attrs.evolve`d copies of the templates.

The hand-written floor runs the lean transaction of `benchmarks.sqlite` on its own copies of
the two files, made before anything tracks, timed in the same rounds as meterlib's tracks.

`python -m benchmarks.scale` runs the SQLite measure alone, as the full run does (about a
minute); `sqlite_tracks` times stores already built, to repeat it on copies of the files.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from attrs import evolve

from benchmarks.plan import Run
from benchmarks.report import Row
from benchmarks.sqlite import HandWritten, Lean
from benchmarks.timing import compare, interleave, ratio_of
from meterlib import Ledger, MemoryStore
from meterlib.stores import SQLiteStore

PLENTY = 10**12
START = time.time_ns() // 1_000_000 - 3_600_000  # templates made an hour ago; bulk events older


def _templates(ledger: Ledger) -> None:
    ledger.create("cus_0000000", "messages", included=PLENTY, reset="month")
    ledger.track("cus_0000000", "messages")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _copies(
    template: tuple[Any, ...],
    columns: list[str],
    count: int,
    change: Callable[[int], dict[str, Any]],
) -> Iterator[tuple[Any, ...]]:
    where = {name: i for i, name in enumerate(columns)}
    for n in range(1, count):
        row = list(template)
        for name, value in change(n).items():
            row[where[name]] = value
        yield tuple(row)


def build_sqlite(path: Path, *, customers: int, events: int) -> None:
    """A SQLite file with `customers` customers (one grant each) and `events` stored events."""
    with Ledger(SQLiteStore(path), clock=lambda: START) as ledger:
        _templates(ledger)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA cache_size = -1000000")
    try:
        tables = {t: _columns(conn, t) for t in ("customers", "grants", "events")}
        customer = conn.execute("SELECT * FROM customers").fetchone()
        grant = conn.execute("SELECT * FROM grants").fetchone()
        event = conn.execute("SELECT * FROM events").fetchone()
        conn.execute("BEGIN IMMEDIATE")
        for table, template, count, change in (
            ("customers", customer, customers, lambda n: {"id": f"cus_{n:07d}"}),
            (
                "grants",
                grant,
                customers,
                lambda n: {"id": f"grant_{n + 1}", "seq": n + 1, "customer_id": f"cus_{n:07d}"},
            ),
            (
                "events",
                event,
                events,
                lambda n: {
                    "id": f"evt_{n + 1}",
                    "seq": n + 1,
                    "customer_id": f"cus_{n % customers:07d}",
                    "timestamp": START - 10 * (events - n),
                },
            ),
        ):
            columns = tables[table]
            marks = ", ".join("?" * len(columns))
            conn.executemany(
                f"INSERT INTO {table} VALUES ({marks})", _copies(template, columns, count, change)
            )
        conn.execute("UPDATE seqs SET value = ? WHERE kind = 'grant'", (customers,))
        conn.execute("UPDATE seqs SET value = ? WHERE kind = 'event'", (max(events, 1),))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def build_memory(*, customers: int, events: int) -> MemoryStore:
    """A MemoryStore with `customers` customers (one grant each) and `events` stored events."""
    store = MemoryStore()
    with Ledger(store, clock=lambda: START) as ledger:
        _templates(ledger)
    with store.transaction() as session:
        customer = session.get_customer("cus_0000000")
        grant = session.list_grants("cus_0000000")[0]
        event = session.list_events(
            customer_id=None,
            feature_id=None,
            entity_id=None,
            start=None,
            end=None,
            before=None,
            limit=1,
        )[0]
        assert customer is not None
        for n in range(1, customers):
            cid = f"cus_{n:07d}"
            session.put_customer(evolve(customer, id=cid))
            session.put_grants([evolve(grant, id=f"grant_{n + 1}", seq=n + 1, customer_id=cid)])
        for n in range(1, events):
            session.add_event(
                evolve(
                    event,
                    id=f"evt_{n + 1}",
                    seq=n + 1,
                    customer_id=f"cus_{n % customers:07d}",
                    timestamp=START - 10 * (events - n),
                )
            )
        while session.next_seq("grant") < customers:
            pass
        while session.next_seq("event") < events:
            pass
    return store


def _picks(customers: int, seed: int) -> list[str]:
    """Customers picked at random (the same sequence every run)."""
    picks = random.Random(seed)
    return [f"cus_{picks.randrange(customers):07d}" for _ in range(4096)]


def _tracker(ledger: Ledger, customers: int, seed: int) -> Callable[[], object]:
    """A track of a customer picked at random on each call."""
    ids = _picks(customers, seed)
    state = {"i": 0}

    def track() -> object:
        state["i"] = (state["i"] + 1) & 4095
        return ledger.track(ids[state["i"]], "messages")

    return track


def _hand_tracker(hand: HandWritten, customers: int, seed: int) -> Callable[[], object]:
    """The lean hand-written transaction of `benchmarks.sqlite`, on a customer picked at random."""
    ids = _picks(customers, seed)
    state = {"i": 0}

    def track() -> object:
        state["i"] = (state["i"] + 1) & 4095
        hand.track(ids[state["i"]], time.time_ns() // 1_000_000)
        return None

    return track


def _reads_per_call(op: Callable[[], object], calls: int) -> dict[str, float] | None:
    """Read system calls (SQLite page-cache misses) and bytes read from the block device,
    per call of `op`, from /proc/self/io (Linux); None elsewhere."""

    def counters() -> dict[str, int] | None:
        try:
            with open("/proc/self/io", encoding="ascii") as io:
                return {k: int(v) for k, v in (line.split(":") for line in io)}
        except OSError:
            return None

    before = counters()
    for _ in range(calls):
        op()
    after = counters()
    if before is None or after is None:
        return None
    return {
        "read_calls": (after["syscr"] - before["syscr"]) / calls,
        "disk_bytes": (after["read_bytes"] - before["read_bytes"]) / calls,
    }


def _after(
    large: Ledger, little: Ledger, big: int, small: int, *, number: int, rounds: int
) -> dict[str, Any]:
    """Page reads per random track, then one customer tracked on each side."""
    reads = {
        "big": _reads_per_call(_tracker(large, big, 3), number),
        "small": _reads_per_call(_tracker(little, small, 4), number),
    }
    hot = compare(
        lambda: large.track("cus_0000001", "messages"),
        lambda: little.track("cus_0000001", "messages"),
        number=number,
        rounds=rounds,
    )
    return {
        "reads_per_track": reads,
        "customers": big,
        "events": big,
        "small_customers": small,
        "one_customer": hot,
    }


def sqlite_big_vs_small(
    folder: Path, *, big: int, small: int, number: int, rounds: int
) -> dict[str, Any]:
    """track on a file with `big` customers and `big` events beside one with `small` and none;
    the lean hand-written track likewise, on copies made before anything tracks."""
    build_sqlite(folder / "big.db", customers=big, events=big)
    build_sqlite(folder / "small.db", customers=small, events=0)
    for name in ("big", "small"):
        shutil.copyfile(folder / f"{name}.db", folder / f"{name}_hand.db")
    return sqlite_tracks(folder, big=big, small=small, number=number, rounds=rounds)


def sqlite_tracks(
    folder: Path, *, big: int, small: int, number: int, rounds: int
) -> dict[str, Any]:
    """The timing half of `sqlite_big_vs_small`, on the four files in `folder`: meterlib and
    the hand-written track, each on its own pair of files, all four timed in the same rounds."""
    with (
        Ledger(SQLiteStore(folder / "big.db")) as large,
        Ledger(SQLiteStore(folder / "small.db")) as little,
    ):
        hands = Lean(folder / "big_hand.db"), Lean(folder / "small_hand.db")
        try:
            medians = interleave(
                {
                    "big": _tracker(large, big, 1),
                    "small": _tracker(little, small, 2),
                    "hand_big": _hand_tracker(hands[0], big, 1),
                    "hand_small": _hand_tracker(hands[1], small, 2),
                },
                number=number,
                rounds=rounds,
            )
        finally:
            for hand in hands:
                hand.conn.close()
        found = ratio_of(medians["big"], medians["small"], number=number, rounds=rounds)
        # the same growth with no meterlib at all: what the file itself costs more
        found["hand_written"] = ratio_of(
            medians["hand_big"], medians["hand_small"], number=number, rounds=rounds
        )
        found.update(_after(large, little, big, small, number=number, rounds=rounds))
    return found


def memory_big_vs_small(*, big: int, small: int, number: int, rounds: int) -> dict[str, Any]:
    """The same on MemoryStores."""
    with (
        Ledger(build_memory(customers=big, events=big)) as large,
        Ledger(build_memory(customers=small, events=0)) as little,
    ):
        found = compare(
            _tracker(large, big, 1), _tracker(little, small, 2), number=number, rounds=rounds
        )
        found.update(_after(large, little, big, small, number=number, rounds=rounds))
        return found


def rows(run: Run) -> list[Row]:
    """Does track slow down as the store grows? SQLite and MemoryStore."""
    p = run.settings
    timing = {"big": p.big, "small": p.small, "number": p.scale_number, "rounds": p.scale_rounds}
    on_file = run.record("scale_sqlite", sqlite_big_vs_small(run.own("scale"), **timing))
    in_memory = run.record("scale_memory", memory_big_vs_small(**timing))
    big, small = count_text(p.big), count_text(p.small)
    return [
        Row.ratio(
            f"track, SQLite, {big} customers + events (random customer per call)",
            f"{small} customers, no events",
            on_file,
            "≤ 1.25×",
            1.25,
            note=_disk_note(on_file),
        ),
        Row.ratio(
            f"floor: the lean hand-written track, SQLite, {big} customers + events "
            "(random customer; its own copies of the files, same rounds)",
            f"the same, {small} customers, no events",
            on_file["hand_written"],
            "(floor)",
            None,
        ),
        Row.ratio(
            f"track, MemoryStore, {big} customers + events (random customer)",
            f"{small} customers, no events",
            in_memory,
            "≤ 1.25×",
            1.25,
        ),
        Row.ratio(
            "same, SQLite, one customer tracked (not a random one each call)",
            f"{small} customers, no events",
            on_file["one_customer"],
            "≤ 1.25×",
            1.25,
        ),
        Row.ratio(
            "same, MemoryStore, one customer tracked",
            f"{small} customers, no events",
            in_memory["one_customer"],
            "≤ 1.25×",
            1.25,
        ),
    ]


def count_text(count: int) -> str:
    """A count with thin spaces between thousands, as the table writes them."""
    return f"{count:,}".replace(",", " ")


def _disk_note(result: dict[str, Any]) -> str:
    """Page reads (read system calls: SQLite cache misses) and disk bytes a track, when known."""
    big, small = result["reads_per_track"]["big"], result["reads_per_track"]["small"]
    if big is None or small is None:
        return ""
    return (
        f"; a track reads {big['read_calls']:.1f} vs {small['read_calls']:.1f} pages "
        f"({big['disk_bytes'] / 1024:.1f} vs {small['disk_bytes'] / 1024:.1f} KiB from disk)"
    )


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="meterlib-scale-") as tmp:
        found = sqlite_big_vs_small(Path(tmp), big=1_000_000, small=1000, number=500, rounds=11)
    reads = found["reads_per_track"]
    print(
        f"1 000 000 vs 1 000 customers, random customer: {found['ratio']:.2f}× "
        f"({found['meterlib_us']:.1f} µs vs {found['baseline_us']:.1f} µs); one customer: "
        f"{found['one_customer']['ratio']:.2f}×; reads a track: {reads['big']} vs "
        f"{reads['small']}; hand-written: {found['hand_written']['ratio']:.2f}×"
    )
