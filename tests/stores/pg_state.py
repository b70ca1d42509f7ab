"""Shared by the PostgreSQL load/apply tests: data of many shapes, the CustomerState today's
session reads assemble, and a counter of the round trips a pooled connection makes."""

from __future__ import annotations

import ctypes
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from meterlib.models import Counter, LockItem, RolloverLot, RolloverRule
from meterlib.state import Catalogue, CustomerState, Want, controlled, entities_wanted
from meterlib.stores.postgres.store import PostgresStore
from meterlib.stores.protocol import StoreSession
from meterlib.testing import AMOUNTS, T0, customer, entity, feature, grant, lock

_LIBC = ctypes.CDLL(None)
META = {"z": 1, "a": Decimal("1.10"), "nested": {"x": [Decimal("1E-10"), "s", None, True]}}


def seed(store: PostgresStore, customer_id: str = "cus_1") -> None:
    """A customer with every kind of row: entities, grants with rollover lots and every
    AMOUNTS value, locks, counters, a claimed key, two features."""
    with store.transaction() as tx:
        if tx.get_feature("api_calls") is None:
            tx.add_feature(feature("api_calls", seq=1))
            tx.add_feature(
                feature(
                    "credits",
                    seq=2,
                    type="credit_system",
                    credit_schema={"api_calls": Decimal("0.5")},
                )
            )
        tx.put_customer(customer(customer_id, metadata=META, billing_controls={"spend_limits": []}))
        tx.put_entity(entity("seat_1", customer_id, billing_controls={"k": Decimal("2.50")}))
        tx.put_entity(entity("seat_2", customer_id))
        grants = []
        for i, amount in enumerate(AMOUNTS, 1):
            lots = (RolloverLot(id=f"r{i}", balance=amount, usage=Decimal("0.10")),)
            grants.append(
                grant(
                    f"{customer_id}_g{i}",
                    # seqs out of insertion order, and ties broken by id
                    (len(AMOUNTS) - i) // 2,
                    customer_id,
                    entity_id="seat_1" if i % 3 == 0 else None,
                    included=abs(amount),
                    balance=amount,
                    adjustment=amount,
                    max_purchase=abs(amount) if i % 2 else None,
                    overage_allowed=bool(i % 2),
                    interval="month",
                    anchor=T0,
                    period=2,
                    next_reset_at=T0 + 10**9,
                    rollover=RolloverRule(max=Decimal("1.10"), length=2),
                    rollovers=lots,
                    expires_at=T0 + i if i % 4 == 0 else None,
                )
            )
        tx.put_grants(grants)
        item = LockItem(
            grant_id=f"{customer_id}_g1",
            rollover_id="r1",
            cost=Decimal("0.5"),
            balance_delta=Decimal("-0"),
            value_delta=Decimal("1E+30"),
        )
        for i, amount in enumerate(AMOUNTS, 1):
            tx.put_lock(
                lock(
                    f"{customer_id}_lk{i}",
                    customer_id,
                    value=amount,
                    created_at=T0 + i % 3,  # ties on created_at: lock_id decides
                    items=(item,),
                    properties={"p": Decimal("0.10"), "b": [1, 2]},
                )
            )
        tx.put_counters(
            Counter(customer_id=customer_id, key=f"k{i}", value=a, window_start=i, window_end=9)
            for i, a in enumerate(AMOUNTS)
        )
        tx.put_idempotency_key(f"track:{customer_id}", T0 + 5)


WANTS = (
    Want("cus_1"),
    Want("nobody"),
    Want("cus_1", entity_ids=("seat_2", "nope", "seat_1")),
    Want("cus_1", keys=("track:cus_1", "track:never")),
    Want("cus_1", lock_ids=("cus_1_lk2", "cus_2_lk1", "lk_none")),
    Want("cus_2", ("seat_1",), ("track:cus_1",), ("cus_1_lk3",)),
)


def assembled(tx: StoreSession, want: Want) -> CustomerState:
    """What a load must return, from today's session reads (seqs and catalogue aside)."""
    c = want.customer_id
    owner = tx.get_customer(c)
    locks = tuple(tx.list_locks(c))
    found = {e: tx.get_entity(c, e) for e in entities_wanted(want, locks)}
    entities = {k: v for k, v in found.items() if v is not None}
    loaded = owner is not None and controlled(owner, entities)  # the load rule of state.py
    return CustomerState(
        c,
        owner,
        entities,
        tuple(tx.list_grants(c)),
        locks,
        {k.key: k for k in tx.list_counters(c)} if loaded else {},
        {lid: tx.get_lock(lid) for lid in want.lock_ids},
        {key: tx.get_idempotency_key(key) for key in want.keys},
        {},
        Catalogue(tx.list_features()),
    )


def comparable(state: CustomerState) -> tuple[Any, ...]:
    """The state as plain values: every part, the catalogue's features, reprs (spellings)."""
    parts = (*state[:8], state.catalogue.features, state.revision)
    return (*parts, repr(parts), [list(part) for part in parts[2:8]])


@contextmanager
def round_trips(store: PostgresStore) -> Iterator[Any]:
    """Count the round trips of a one-connection store: `count()` is the number of
    ReadyForQuery messages its connection received so far (one per Sync or simple Query,
    so a pipeline counts once), from libpq's own trace of the wire."""
    from psycopg import pq

    pool = store._pool
    assert pool.max_size == 1
    conn = pool.getconn()
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        pool.putconn(conn)

        class Count:
            final: str | None = None  # the whole trace, once counting ended

            def __call__(self) -> int:
                return self.text().count("\tReadyForQuery")

            def text(self) -> str:
                if self.final is not None:
                    return self.final
                _LIBC.fflush(None)  # libpq writes the trace through a buffered C stream
                trace.seek(0)
                return trace.read()

        count = Count()
        try:
            yield count
        finally:
            count.final = count.text()
            conn.pgconn.untrace()
