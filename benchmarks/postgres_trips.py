"""PostgreSQL track and check beside hand-written SQL, over loopback and through a relay that
adds 1 ms of round-trip latency (0.5 ms each way per chunk, pipelines kept pipelined).

Every call is timed alone, all of them in turn (`round_robin`), so a busy machine slows
subjects and baselines alike; the medians are compared. Over loopback the judged number is a
ratio: `Ledger.track` over one hand-written transaction (BEGIN; an UPDATE … RETURNING inside
an INSERT; COMMIT), a plain `Ledger.check` over one SELECT. Through the relay it is
milliseconds, with the round trips each call makes: its extra time over the link divided by
the extra time of `SELECT 1` in the same run (the relay's own hand-offs make a round trip
cost a little more than 1 ms; dividing by the measured unit takes that out). Two more rows
show the store seam alone, whatever the Ledger above it does: `tx.load` + `tx.apply` (a
track's reads and writes) and `store.read` (a plain check's).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from attrs import evolve

from benchmarks.relay import spawn, stop
from benchmarks.report import Row
from meterlib import Ledger
from meterlib.effects import Effects
from meterlib.models import EventRecord
from meterlib.quantity import ONE
from meterlib.state import Want

DELAY = 0.0005  # seconds each way: 1 ms of round-trip latency
PLENTY = 10**12
TRACK = Want("cus_1", seqs=(("event", 1),))
CHECK = Want("cus_1")
Op = Callable[[], object]


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0] + f":{port}"))


class Side:
    """Everything measured, on one URL (loopback or through the relay)."""

    def __init__(self, url: str, schema: str, grant_id: str) -> None:
        import psycopg

        from meterlib.stores.postgres.store import PostgresStore

        self.store = PostgresStore(url, schema=schema, min_size=1, max_size=1)
        self.ledger = Ledger(self.store)
        self.conn = psycopg.connect(url, autocommit=True)
        s = f'"{schema}"'
        self.grant_id = grant_id
        self.one = (
            f"WITH u AS (UPDATE {s}.grants SET balance = balance - 1 WHERE id = %s "
            f"RETURNING customer_id) INSERT INTO {s}.events (id, seq, customer_id, value, "
            f'properties, "timestamp", deductions, feature_ids) SELECT %s, 0, customer_id, 1, '
            f"'{{}}', %s, '[]', '[\"messages\"]' FROM u"
        )
        self.select = f"SELECT balance FROM {s}.grants WHERE customer_id = %s"

    def ops(self) -> dict[str, Op]:
        """The calls timed, by name."""
        return {
            "SELECT 1": lambda: self.conn.execute("SELECT 1").fetchone(),
            "Ledger.track": lambda: self.ledger.track("cus_1", "messages"),
            "Ledger.check": lambda: self.ledger.check("cus_1", "messages"),
            "tx.load + tx.apply": self.store_track,
            "store.read": lambda: self.store.read(CHECK),
            "one-statement transaction": self.one_statement,
            "one select": lambda: self.conn.execute(self.select, ("cus_1",)).fetchall(),
        }

    def store_track(self) -> None:
        """A track's work through the store seam: lock and load, spend one, apply, commit."""
        with self.store.transaction() as tx:
            state = tx.load(TRACK)
            grant = state.grants[0]
            (seq,) = state.seqs["event"]
            now = int(time.time() * 1000)
            event = EventRecord(
                id=f"evt_{seq}",
                seq=seq,
                customer_id="cus_1",
                entity_id=None,
                feature_id="messages",
                event_name=None,
                value=ONE,
                properties={},
                timestamp=now,
            )
            spent = evolve(grant, balance=grant.balance - ONE)
            tx.apply(Effects(grants=(spent,), events=(event,)))

    def one_statement(self) -> None:
        """BEGIN; UPDATE … RETURNING inside an INSERT; COMMIT (three round trips)."""
        now = int(time.time() * 1000)
        self.conn.execute("BEGIN")
        self.conn.execute(self.one, (self.grant_id, f"evt_{now}", now))
        self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the ledger and the connection."""
        self.ledger.close()
        self.conn.close()


def round_robin(ops: dict[str, Op], calls: int) -> dict[str, float]:
    """Median seconds of one call of each op, the ops called in turn `calls` times (so a
    neighbour's load, the WAL's growth or the CPU's clock hit every op alike)."""
    for op in ops.values():  # warm up: connections, prepared statements, catalogue caches
        for _ in range(5):
            op()
    times: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(calls):
        for name, op in ops.items():
            start = time.perf_counter()
            op()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(spent) for name, spent in times.items()}


def measure(url: str, *, calls: int) -> dict[str, Any]:
    """Per call µs of every op, loopback and through the relay, interleaved in one run."""
    import psycopg

    from meterlib.stores.postgres.store import PostgresStore

    schema = f"trips_{uuid.uuid4().hex[:12]}"
    setup = Ledger(PostgresStore(url, schema=schema))
    setup.create("cus_1", "messages", included=PLENTY, reset="month")
    grant_id = setup.grants("cus_1")[0].item.id
    setup.close()
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 5432
    relay, relay_port = spawn(host, port, delay=DELAY)
    sides = {
        "direct": Side(url, schema, grant_id),
        "relay": Side(_via(url, relay_port), schema, grant_id),
    }
    try:
        ops = {f"{side}: {name}": op for side, s in sides.items() for name, op in s.ops().items()}
        found = round_robin(ops, calls)
    finally:
        for side in sides.values():
            side.close()
        stop(relay)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    direct = {
        name.split(": ", 1)[1]: us * 1e6 for name, us in found.items() if name.startswith("direct")
    }
    relayed = {
        name.split(": ", 1)[1]: us * 1e6 for name, us in found.items() if name.startswith("relay")
    }
    unit = relayed["SELECT 1"] - direct["SELECT 1"]
    trips = {name: (relayed[name] - direct[name]) / unit for name in direct}
    return {
        "direct_us": direct,
        "relay_us": relayed,
        "round_trips": trips,
        "trip_us": unit,
        "calls": calls,
    }


def rows_of(found: dict[str, Any], server: str) -> list[Row]:
    """The table rows of one `measure` on `server` (how it syncs commits)."""
    direct, relayed, trips = found["direct_us"], found["relay_us"], found["round_trips"]
    out = []
    for subject, baseline in (
        ("Ledger.track", "one-statement transaction"),
        ("tx.load + tx.apply", "one-statement transaction"),
        ("Ledger.check", "one select"),
        ("store.read", "one select"),
    ):
        ratio = direct[subject] / direct[baseline]
        judged = subject.startswith("Ledger")
        out.append(
            Row(
                f"PostgreSQL {subject} (loopback; {server})",
                baseline
                if baseline == "one select"
                else "BEGIN; UPDATE … RETURNING in an INSERT; COMMIT",
                f"{ratio:.2f}×",
                "≤ 1.5×" if judged else "(info)",
                ratio <= 1.5 if judged else None,
                ratio,
                f"{direct[subject] / 1000:.2f} ms vs {direct[baseline] / 1000:.2f} ms",
            )
        )
    for subject, limit in (
        ("Ledger.track", 4.0),
        ("tx.load + tx.apply", None),
        ("Ledger.check", 2.0),
        ("store.read", None),
        ("one-statement transaction", None),
        ("one select", None),
    ):
        ms = relayed[subject] / 1000
        out.append(
            Row(
                f"PostgreSQL {subject} through a 1 ms round-trip link ({server})",
                "—",
                f"{ms:.2f} ms",
                "(info)" if limit is None else f"≤ {limit:g} ms",
                None if limit is None else ms <= limit,
                ms,
                f"{trips[subject]:.1f} round trips (1 = SELECT 1's extra, "
                f"{found['trip_us'] / 1000:.2f} ms); loopback {direct[subject] / 1000:.2f} ms",
            )
        )
    return out
