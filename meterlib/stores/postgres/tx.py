"""PostgresSession: a unit of work of a PostgresStore on one pooled connection (its `Slot`,
in `meterlib.stores.postgres.wire`). Each read or write of a customer's state first takes that
customer's transaction-scoped advisory lock; see `meterlib.stores.postgres.store` for why.

`load` takes the locks and reads the whole working state in one round trip (BEGIN
included); `apply` sends nothing: its writes travel with the next statement or the commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import psycopg
from attrs import evolve

from meterlib.effects import Effects
from meterlib.errors import StoreError
from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.state import CustomerState, Want
from meterlib.stores import rows, usage_sql
from meterlib.stores.postgres import rows as pg
from meterlib.stores.postgres.catalogue_edits import PostgresCatalogueEdits
from meterlib.stores.postgres.load import Loader
from meterlib.stores.postgres.retention import RetentionSession
from meterlib.stores.postgres.simple import Rows
from meterlib.stores.postgres.wire import CONNECT_ATTEMPTS, Owner, Slot, Step, exchange
from meterlib.stores.postgres.writes import owners, write_steps
from meterlib.stores.session_adapter import StateSession
from meterlib.usage_rows import UsageQuery, UsageRow


class _Owner(Owner, Protocol):
    """What a session needs of its store (a Protocol, so this module does not import the store)."""

    _loader: Loader


class PostgresSession(PostgresCatalogueEdits, RetentionSession, StateSession):
    """A unit of work on one connection; see `meterlib.stores.protocol.StoreSession`."""

    __slots__ = ("_locked", "_slot", "_sql", "_store", "_write")

    def __init__(self, store: _Owner, slot: Slot, *, write: bool) -> None:
        self._store = store
        self._slot = slot
        self._locked = slot.locked
        self._sql = store._sql
        self._write = write

    # --- plumbing

    def _run(self, sql: str, params: Iterable[Any] = ()) -> Rows:
        slot = self._slot
        if not slot.begun or slot.pending:  # BEGIN and the pending writes go with it
            return exchange(self._store, slot, (Step(sql, tuple(params)),))[0]
        try:
            return slot.conn.execute(sql, tuple(params))
        except psycopg.Error as exc:
            raise self._store._error(exc) from exc

    def _run_many(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        if params:
            exchange(self._store, self._slot, (Step(sql, params, many=True),))

    def _alone(self, sql: str, params: tuple[Any, ...]) -> Rows:
        """One statement; before a write transaction has begun, without BEGIN (it needs no
        transaction, and the work that follows begins one in its own round trip)."""
        slot = self._slot
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            if not slot.write or slot.begun or slot.pending:
                break
            try:
                return slot.conn.execute(sql, params)
            except psycopg.Error as exc:
                if not (slot.conn.closed or slot.conn.broken) or attempt == CONNECT_ATTEMPTS:
                    raise self._store._error(exc) from exc
                self._store._replace(slot)  # dropped while idle in the pool: another one
        return self._run(sql, params)

    def _writable(self) -> None:
        if not self._write:
            raise RuntimeError("write in a read-only transaction")

    def _lock(self, kind: str, name: str) -> None:
        """Hold `kind` `name` until this transaction ends (write transactions only)."""
        if not self._write:
            return
        key = pg.lock_key(self._sql.schema, kind, name)
        if key not in self._locked:
            self._run(self._sql.lock, (key,))
            self._locked.add(key)

    # --- sequences and catalogue

    def next_seq(self, kind: str) -> int:
        """A number larger than any returned before for `kind`, by a sequence shared by every
        server (numbers taken by a rolled-back transaction are skipped, not reused)."""
        self._writable()
        (value,) = self._one("SELECT nextval(%s)", (self._sequence(kind),))
        return int(value)

    def _sequence(self, kind: str) -> str:
        """The sequence of `kind`, created on first use."""
        name = pg.sequence_name(self._sql.schema, kind)
        if kind not in pg.PRECREATED_SEQUENCES:
            (exists,) = self._one(self._sql.sequence_exists, (name,))
            if not exists:
                self._lock("sequence", kind)
                self._run(self._sql.create_sequence.format(name))
        return name

    def reserve(self, kind: str, count: int) -> tuple[int, ...]:
        """`count` numbers of `kind`, ascending, in one statement (see `next_seq`)."""
        self._writable()
        row = self._alone(self._sql.reserve, (self._sequence(kind), count)).fetchone()
        return () if row is None or row[0] is None else tuple(int(v) for v in row[0])

    # --- the working state

    def load(self, want: Want) -> CustomerState:
        """The customer's working state; a write transaction first holds the customer, the
        keys and the lock ids of `want`. One round trip, BEGIN and pending writes included."""
        return self.load_many((want,))[0]

    def load_many(self, wants: Sequence[Want]) -> list[CustomerState]:
        """`load` of each, in one round trip. The locks are taken customers first (sorted),
        then keys, then lock ids, so two batches never wait for each other in a cycle."""
        slot, loader = self._slot, self._store._loader
        steps: list[Step] = []
        if any(w.seqs for w in wants):
            self._writable()
            for kind in {kind for w in wants for kind, _ in w.seqs}:
                self._sequence(kind)
        keys = self._lock_keys(
            [w.customer_id for w in wants],
            [k for w in wants for k in w.keys],
            [lid for w in wants for lid in w.lock_ids],
        )
        if keys:
            steps.append(self._lock_step(keys))
        fresh = slot.features_added or any(s.feature is not None for s in slot.pending)
        known = None if fresh else loader.known
        for want in wants:
            steps.append(Step(*loader.statement(want, known)))
        cursors = exchange(self._store, slot, steps)
        self._locked.update(keys)
        found = cursors[len(cursors) - len(wants) :]
        return [
            loader.decode(w, c.fetchone() or (), known) for w, c in zip(wants, found, strict=True)
        ]

    def _lock_keys(
        self, customers: Iterable[str], keys: Iterable[str], lock_ids: Iterable[str]
    ) -> list[int]:
        """The advisory-lock keys a write still has to take, in the order to take them."""
        if not self._write:
            return []
        schema = self._sql.schema
        wanted = [pg.lock_key(schema, "customer", c) for c in sorted(set(customers))]
        wanted += [pg.lock_key(schema, "key", k) for k in sorted(set(keys))]
        wanted += [pg.lock_key(schema, "lock", lid) for lid in sorted(set(lock_ids))]
        return [k for k in dict.fromkeys(wanted) if k not in self._locked]

    def _lock_step(self, keys: list[int]) -> Step:
        return (
            Step(self._sql.lock, (keys[0],))
            if len(keys) == 1
            else Step(self._sql.lock_all, (keys,))
        )

    def apply(self, effects: Effects) -> None:
        """Write `effects`: sent with the next statement, or with the commit (one round trip),
        after the locks of any customer or key it writes that this transaction lacks."""
        self._writable()
        if not effects:
            return
        customers, keys = owners(effects)
        locks = self._lock_keys(customers, keys, ())
        if locks:
            self._slot.pending.append(self._lock_step(locks))
            self._locked.update(locks)
        self._slot.pending += write_steps(self._sql, effects)

    def lock_owner(self, lock_id: str) -> str | None:
        """The customer holding the open lock `lock_id`, or None: one statement, no lock
        taken (the load that follows takes the customer's, then the lock id's, and reads the
        lock again)."""
        row = self._alone(self._sql.lock_owner, (lock_id,)).fetchone()
        return None if row is None else str(row[0])

    def _one(self, sql: str, params: Iterable[Any]) -> tuple[Any, ...]:
        row = self._run(sql, params).fetchone()
        if row is None:  # pragma: no cover - these statements always return a row
            raise StoreError(f"{self._store.where}: no row from {sql!r}")
        return row

    def get_feature(self, feature_id: str) -> Feature | None:
        """The feature, or None."""
        row = self._run(self._sql.get_feature, (feature_id,)).fetchone()
        return None if row is None else rows.feature_from_row(row)

    def list_features(self) -> list[Feature]:
        """Every feature, in `seq` order."""
        return [rows.feature_from_row(r) for r in self._run(self._sql.list_features)]

    def add_feature(self, feature: Feature) -> None:
        """Insert a new feature. If another server created the same id since this
        transaction read the catalogue, an identical definition is kept as it is and a
        different one is a StoreError (never silently overwritten)."""
        self._writable()
        self._slot.features_added = (
            True  # the committed feature count no longer names its catalogue
        )
        cursor = self._run(self._sql.add_feature, rows.feature_to_row(feature))
        if cursor.rowcount == 1:
            return
        stored = self.get_feature(feature.id)
        if stored is not None and stored == evolve(feature, seq=stored.seq):
            return
        raise StoreError(
            f"{self._store.where}: feature {feature.id!r} was just created by another "
            "transaction with a different definition; nothing was written, retry"
        )

    def get_customer(self, customer_id: str) -> Customer | None:
        """The customer, or None; a write transaction first takes the customer's lock."""
        self._lock("customer", customer_id)
        row = self._run(self._sql.get_customer, (customer_id,)).fetchone()
        return None if row is None else rows.customer_from_row(row)

    def list_customers(self) -> list[Customer]:
        """Every customer, in id order."""
        return [rows.customer_from_row(r) for r in self._run(self._sql.list_customers)]

    def put_customer(self, customer: Customer) -> None:
        """Insert or replace by id."""
        self._writable()
        self._lock("customer", customer.id)
        self._run(self._sql.put_customer, rows.customer_to_row(customer))

    def get_entity(self, customer_id: str, entity_id: str) -> Entity | None:
        """The entity, or None."""
        self._lock("customer", customer_id)
        row = self._run(self._sql.get_entity, (customer_id, entity_id)).fetchone()
        return None if row is None else rows.entity_from_row(row)

    def list_entities(self, customer_id: str) -> list[Entity]:
        """The customer's entities, in id order."""
        self._lock("customer", customer_id)
        return [rows.entity_from_row(r) for r in self._run(self._sql.list_entities, (customer_id,))]

    def put_entity(self, entity: Entity) -> None:
        """Insert or replace by (customer_id, id)."""
        self._writable()
        self._lock("customer", entity.customer_id)
        self._run(self._sql.put_entity, rows.entity_to_row(entity))

    # --- grants

    def list_grants(self, customer_id: str) -> list[Grant]:
        """Every grant of the customer and its entities, in `seq` order."""
        self._lock("customer", customer_id)
        return [pg.grant_from_row(r) for r in self._run(self._sql.list_grants, (customer_id,))]

    def put_grants(self, grants: Iterable[Grant]) -> None:
        """Insert or replace each grant by id."""
        self._writable()
        batch = list(grants)
        for customer_id in sorted({g.customer_id for g in batch}):
            self._lock("customer", customer_id)
        self._run_many(self._sql.put_grant, [pg.grant_to_row(g) for g in batch])

    def delete_grants(self, grant_ids: Iterable[str]) -> None:
        """Remove the grants (their rollovers live in the same row); unknown ids are ignored."""
        self._writable()
        ids = list(grant_ids)
        if ids:
            self._run(self._sql.delete_grants, (ids,))

    # --- locks

    def get_lock(self, lock_id: str) -> Lock | None:
        """The open lock, or None. A write transaction first takes the lock's customer's
        lock (or, for an id not in use, the id's own), then reads the lock afresh."""
        if self._write:
            owner = self._run(self._sql.lock_owner, (lock_id,)).fetchone()
            if owner is None:
                self._lock("lock", lock_id)
                owner = self._run(self._sql.lock_owner, (lock_id,)).fetchone()
            if owner is not None:
                self._lock("customer", owner[0])
        row = self._run(self._sql.get_lock, (lock_id,)).fetchone()
        return None if row is None else pg.lock_from_row(row)

    def list_locks(self, customer_id: str) -> list[Lock]:
        """The customer's open locks, in creation order."""
        self._lock("customer", customer_id)
        return [pg.lock_from_row(r) for r in self._run(self._sql.list_locks, (customer_id,))]

    def put_lock(self, lock: Lock) -> None:
        """Insert or replace by lock_id."""
        self._writable()
        self._lock("customer", lock.customer_id)
        self._run(self._sql.put_lock, pg.lock_to_row(lock))

    def delete_lock(self, lock_id: str) -> None:
        """Remove the lock; an unknown id is ignored."""
        self._writable()
        self._run(self._sql.delete_lock, (lock_id,))

    # --- events

    def add_event(self, event: EventRecord) -> None:
        """Record the event."""
        self._writable()
        self._run(self._sql.add_event, pg.event_to_row(event))

    def list_events(
        self,
        *,
        customer_id: str | None,
        feature_id: str | None,
        entity_id: str | None,
        start: int | None,
        end: int | None,
        before: tuple[int, int] | None,
        limit: int,
    ) -> list[EventRecord]:
        """Newest first by (timestamp, seq); see the protocol for the filters."""
        params: list[Any] = [v for v in (customer_id, entity_id, start, end) if v is not None]
        if before is not None:
            params.extend(before)
        if feature_id is not None:
            params.append(feature_id)
        params.append(limit)
        sql = self._sql.list_events(
            (
                customer_id is not None,
                entity_id is not None,
                start is not None,
                end is not None,
                before is not None,
                feature_id is not None,
            )
        )
        return [pg.event_from_row(r) for r in self._run(sql, params)]

    # --- usage reports

    def usage_rows(self, query: UsageQuery) -> list[UsageRow]:
        """The events `query` names (`meterlib.stores.usage_sql`)."""
        sql, params = usage_sql.usage_select(query, self._sql.events_table, "%s")
        return usage_sql.usage_rows(self._run(sql, params).fetchall(), query)

    def overdue_lock_owners(self, now: int) -> list[str]:
        """The owners of the locks past their expiry at `now`, in id order."""
        return [str(r[0]) for r in self._run(self._sql.overdue_owners, (now,))]

    # --- idempotency keys

    def get_idempotency_key(self, key: str) -> int | None:
        """The instant (ms) until which `key` is claimed, or None. A write transaction first
        takes the key's lock, so a claim made by another server is seen, never raced."""
        self._lock("key", key)
        row = self._run(self._sql.get_key, (key,)).fetchone()
        return None if row is None else int(row[0])

    def put_idempotency_key(self, key: str, expires_at: int) -> None:
        """Claim `key` until `expires_at`, replacing any older claim."""
        self._writable()
        self._lock("key", key)
        self._run(self._sql.put_key, (key, expires_at))

    # --- counters

    def list_counters(self, customer_id: str) -> list[Counter]:
        """The customer's counters, in key order."""
        self._lock("customer", customer_id)
        found = self._run(self._sql.list_counters, (customer_id,))
        return [pg.counter_from_row(r) for r in found]

    def put_counters(self, counters: Iterable[Counter]) -> None:
        """Insert or replace each counter by (customer_id, key)."""
        self._writable()
        batch = list(counters)
        for customer_id in sorted({c.customer_id for c in batch}):
            self._lock("customer", customer_id)
        self._run_many(self._sql.put_counter, [pg.counter_to_row(c) for c in batch])
