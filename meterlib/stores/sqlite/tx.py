"""SQLiteSession: the store protocol's operations as prepared SQL over one connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, NoReturn

from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.stores import grant_rows, rows, usage_sql
from meterlib.stores.session_adapter import CatalogueMemo, StateSession
from meterlib.stores.sqlite import retention
from meterlib.stores.sqlite.caches import FeatureCache, GrantCache, Known
from meterlib.stores.sqlite.catalogue_edits import FEATURES_KEY, SQLiteCatalogueEdits
from meterlib.usage_rows import UsageQuery, UsageRow

_SELECT_FEATURE = rows.select_sql("features", rows.FEATURE_COLUMNS)
_GET_FEATURE = _SELECT_FEATURE + " WHERE id = ?"
_LIST_FEATURES = _SELECT_FEATURE + " ORDER BY seq"
_PUT_FEATURE = rows.upsert_sql("features", rows.FEATURE_COLUMNS, ("id",))
_SELECT_CUSTOMER = rows.select_sql("customers", rows.CUSTOMER_COLUMNS)
# the customer and whether it holds a lock: loading a customer's balances lists its locks,
# and most customers hold none, so this spares that statement (see `list_locks`)
_GET_CUSTOMER_AND_LOCKED = (
    rows.select_sql(
        "customers",
        (
            *rows.CUSTOMER_COLUMNS,
            "EXISTS (SELECT 1 FROM locks WHERE locks.customer_id = customers.id)",
        ),
    )
    + " WHERE id = ?"
)
_LIST_CUSTOMERS = _SELECT_CUSTOMER + " ORDER BY id"
_PUT_CUSTOMER = rows.upsert_sql("customers", rows.CUSTOMER_COLUMNS, ("id",))
_SELECT_ENTITY = rows.select_sql("entities", rows.ENTITY_COLUMNS)
_GET_ENTITY = _SELECT_ENTITY + " WHERE customer_id = ? AND id = ?"
_LIST_ENTITIES = _SELECT_ENTITY + " WHERE customer_id = ? ORDER BY id"
_PUT_ENTITY = rows.upsert_sql("entities", rows.ENTITY_COLUMNS, ("customer_id", "id"))
_LIST_GRANTS = rows.select_sql("grants", rows.GRANT_COLUMNS) + " WHERE customer_id = ? ORDER BY seq"
_PUT_GRANT = rows.upsert_sql("grants", rows.GRANT_COLUMNS, ("id",))
# a grant whose key and indexed columns are unchanged: the rest is set in place. The row is
# found through grants_by_customer (`+id` keeps the planner off the id index): list_grants has
# just read that index page, while the id index would cost one more random page on a big file.
# Numbered parameters take the row as `grant_to_row` makes it, with no reordering.
_GRANT_AT = {c: f"?{n}" for n, c in enumerate(rows.GRANT_COLUMNS, 1)}
_GRANT_KEPT = ("id", "seq", "customer_id")
_UPDATE_GRANT = (
    "UPDATE grants SET "
    + ", ".join(f"{c} = {at}" for c, at in _GRANT_AT.items() if c not in _GRANT_KEPT)
    + f" WHERE +id = {_GRANT_AT['id']} AND seq = {_GRANT_AT['seq']}"
    + f" AND customer_id = {_GRANT_AT['customer_id']}"
)
_DELETE_GRANT = "DELETE FROM grants WHERE id = ?"
_SELECT_LOCK = rows.select_sql("locks", rows.LOCK_COLUMNS)
_GET_LOCK = _SELECT_LOCK + " WHERE lock_id = ?"
_LIST_LOCKS = _SELECT_LOCK + " WHERE customer_id = ? ORDER BY created_at, lock_id"
_PUT_LOCK = rows.upsert_sql("locks", rows.LOCK_COLUMNS, ("lock_id",))
_DELETE_LOCK = "DELETE FROM locks WHERE lock_id = ?"
# An event's rowid is its seq, so "the next event seq" is read from the rowid b-tree (the
# largest rowid is one seek) instead of being counted in `seqs`: that counter's page was one
# more page written to the WAL by every track. Files written before count events in `seqs`
# ("event"), which stays the floor. A reused seq fails the insert (the rowid is unique).
_ADD_EVENT = (
    f"INSERT INTO events (rowid, {', '.join(rows.EVENT_COLUMNS)}) "
    f"VALUES (?{rows.EVENT_COLUMNS.index('seq') + 1}, "
    f"{', '.join(f'?{n}' for n in range(1, len(rows.EVENT_COLUMNS) + 1))})"
)
_LAST_EVENT_SEQ = (
    "SELECT max(ifnull((SELECT value FROM seqs WHERE kind = 'event'), 0), "
    "ifnull((SELECT max(rowid) FROM events), 0))"
)
_GET_KEY = "SELECT expires_at FROM idempotency_keys WHERE idempotency_key = ?"
_PUT_KEY = rows.upsert_sql(
    "idempotency_keys", ("idempotency_key", "expires_at"), ("idempotency_key",)
)
_LIST_COUNTERS = (
    rows.select_sql("counters", rows.COUNTER_COLUMNS) + " WHERE customer_id = ? ORDER BY key"
)
_PUT_COUNTER = rows.upsert_sql("counters", rows.COUNTER_COLUMNS, ("customer_id", "key"))
_NEXT_SEQ = (
    "INSERT INTO seqs (kind, value) VALUES (?, 1) "
    "ON CONFLICT (kind) DO UPDATE SET value = value + 1 RETURNING value"
)

_EVENTS_SQL: dict[tuple[bool, ...], str] = {}


_OVERDUE_OWNERS = usage_sql.overdue_owners_sql("locks", "?")


def _events_sql(key: tuple[bool, bool, bool, bool, bool, bool]) -> str:
    """The list_events query for one combination of present filters (built once, cached)."""
    sql = _EVENTS_SQL.get(key)
    if sql is None:
        parts = (
            "customer_id = ?",
            "entity_id = ?",
            "timestamp >= ?",
            "timestamp < ?",
            "(timestamp, seq) < (?, ?)",
            "EXISTS (SELECT 1 FROM json_each(feature_ids) WHERE value = ?)",
        )
        where = " AND ".join(p for p, present in zip(parts, key, strict=True) if present)
        sql = (
            rows.select_sql("events", rows.EVENT_COLUMNS)
            + (f" WHERE {where}" if where else "")
            + " ORDER BY timestamp DESC, seq DESC, rowid DESC LIMIT ?"
        )
        _EVENTS_SQL[key] = sql
    return sql


class _Ended:
    """Stands in for the connection once the transaction is over."""

    def execute(self, *args: object) -> NoReturn:
        raise RuntimeError("the transaction is over; open a new one with store.transaction()")

    executemany = execute


_ENDED = _Ended()


class SQLiteSession(SQLiteCatalogueEdits, retention.RetentionSession, StateSession):
    """A unit of work on one connection; see `meterlib.stores.protocol.StoreSession`."""

    __slots__ = ("_conn", "_features", "_grants", "_known", "_write")

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        write: bool,
        features: FeatureCache | None = None,
        grants: GrantCache | None = None,
        known: Known | None = None,
    ) -> None:
        self._conn: sqlite3.Connection | _Ended = conn
        self._write = write
        self._features = features if features is not None else FeatureCache()
        self._grants = grants if grants is not None else GrantCache()
        # what the connection knows of the file (see Known); a session made without one
        # knows nothing beyond its own transaction
        self._known = known if known is not None else Known()

    def end(self) -> None:
        """Refuse every later call: outside its transaction a session would bypass the locks."""
        self._conn = _ENDED

    def _catalogue_memo(self) -> CatalogueMemo:
        return self._features.catalogue

    def _writable(self) -> sqlite3.Connection | _Ended:
        if not self._write:
            raise RuntimeError("write in a read-only transaction")
        return self._conn

    def next_seq(self, kind: str) -> int:
        """A number larger than any returned before for `kind`, shared by every process
        (for "event": larger than every stored event's, and than this transaction's last)."""
        conn = self._writable()
        if kind == "event":
            known = self._known
            if not known.event_seq:
                # read once, then counted on: a writer holds the write lock, so until another
                # connection commits only this one adds events (a batch numbers a thousand)
                known.event_seq = conn.execute(_LAST_EVENT_SEQ).fetchone()[0]
            known.event_seq += 1
            return known.event_seq
        value: int = conn.execute(_NEXT_SEQ, (kind,)).fetchone()[0]
        return value

    def get_feature(self, feature_id: str) -> Feature | None:
        """The feature, or None."""
        row = self._conn.execute(_GET_FEATURE, (feature_id,)).fetchone()
        return None if row is None else rows.feature_from_row(row)

    def list_features(self) -> list[Feature]:
        """Every feature, in `seq` order (read again only when their count or the catalogue's
        change number moved)."""
        known = self._known
        if known.features is not None:
            return list(known.features)
        key = tuple(self._conn.execute(FEATURES_KEY).fetchone())
        cache = self._features
        cached = cache.features  # read after the key: see FeatureCache
        if cache.key != key:
            cached = tuple(rows.feature_from_row(r) for r in self._conn.execute(_LIST_FEATURES))
            cache.features, cache.key = cached, key
        known.features = cached
        return list(cached)

    def add_feature(self, feature: Feature) -> None:
        """Insert a feature (replacing one with its id, as the memory store does)."""
        self._writable().execute(_PUT_FEATURE, rows.feature_to_row(feature))
        self._known.features = None

    def get_customer(self, customer_id: str) -> Customer | None:
        """The customer, or None."""
        known = self._known
        customer = known.customers.get(customer_id)
        if customer is not None:
            return customer
        row = self._conn.execute(_GET_CUSTOMER_AND_LOCKED, (customer_id,)).fetchone()
        if row is None:
            return None
        customer = rows.customer_from_row(row)
        known.room()
        known.customers[customer_id] = customer
        if not row[-1]:
            known.lockless.add(customer_id)
        return customer

    def list_customers(self) -> list[Customer]:
        """Every customer, in id order."""
        return [rows.customer_from_row(r) for r in self._conn.execute(_LIST_CUSTOMERS)]

    def put_customer(self, customer: Customer) -> None:
        """Insert or replace by id."""
        self._writable().execute(_PUT_CUSTOMER, rows.customer_to_row(customer))
        known = self._known
        if customer.id in known.customers:  # else unknown: whether it holds a lock too
            known.customers[customer.id] = customer

    def get_entity(self, customer_id: str, entity_id: str) -> Entity | None:
        """The entity, or None."""
        row = self._conn.execute(_GET_ENTITY, (customer_id, entity_id)).fetchone()
        return None if row is None else rows.entity_from_row(row)

    def list_entities(self, customer_id: str) -> list[Entity]:
        """The customer's entities, in id order."""
        return [rows.entity_from_row(r) for r in self._conn.execute(_LIST_ENTITIES, (customer_id,))]

    def put_entity(self, entity: Entity) -> None:
        """Insert or replace by (customer_id, id)."""
        self._writable().execute(_PUT_ENTITY, rows.entity_to_row(entity))

    def list_grants(self, customer_id: str) -> list[Grant]:
        """Every grant of the customer and its entities, in `seq` order."""
        known = self._known
        held = known.grants.get(customer_id)
        if held is None:
            decode = self._grants.decode
            held = tuple(decode(r) for r in self._conn.execute(_LIST_GRANTS, (customer_id,)))
            known.room()
            known.grants[customer_id] = held
        return list(held)

    def put_grants(self, grants: Iterable[Grant]) -> None:
        """Insert or replace each grant by id.

        A stored grant is updated in place without touching its indexed columns, so the
        commit rewrites the table page alone, not the index page too (the upsert did).
        """
        conn = self._writable()
        keep = self._grants.keep
        known = self._known
        for grant in grants:
            row = grant_rows.grant_to_row(grant)
            if not conn.execute(_UPDATE_GRANT, row).rowcount:
                conn.execute(_PUT_GRANT, row)
            keep(row, grant)  # the next read of this row needs no decoding
            known.put_grant(grant)

    def delete_grants(self, grant_ids: Iterable[str]) -> None:
        """Remove the grants (their rollovers live in the same row); unknown ids are ignored."""
        self._writable().executemany(_DELETE_GRANT, [(gid,) for gid in grant_ids])
        self._known.grants.clear()

    def get_lock(self, lock_id: str) -> Lock | None:
        """The open lock, or None."""
        row = self._conn.execute(_GET_LOCK, (lock_id,)).fetchone()
        return None if row is None else grant_rows.lock_from_row(row)

    def list_locks(self, customer_id: str) -> list[Lock]:
        """The customer's open locks, in creation order."""
        if customer_id in self._known.lockless:
            return []
        return [
            grant_rows.lock_from_row(r) for r in self._conn.execute(_LIST_LOCKS, (customer_id,))
        ]

    def put_lock(self, lock: Lock) -> None:
        """Insert or replace by lock_id."""
        self._writable().execute(_PUT_LOCK, grant_rows.lock_to_row(lock))
        self._known.lockless.discard(lock.customer_id)

    def delete_lock(self, lock_id: str) -> None:
        """Remove the lock; an unknown id is ignored."""
        self._writable().execute(_DELETE_LOCK, (lock_id,))

    def add_event(self, event: EventRecord) -> None:
        """Record the event."""
        self._writable().execute(_ADD_EVENT, grant_rows.event_to_row(event))
        known = self._known
        if known.event_seq:
            known.event_seq = max(known.event_seq, event.seq)

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
        params: list[Any] = []
        for value in (customer_id, entity_id, start, end):
            if value is not None:
                params.append(value)
        if before is not None:
            params.extend(before)
        if feature_id is not None:
            params.append(feature_id)
        params.append(limit)
        sql = _events_sql(
            (
                customer_id is not None,
                entity_id is not None,
                start is not None,
                end is not None,
                before is not None,
                feature_id is not None,
            )
        )
        return [grant_rows.event_from_row(r) for r in self._conn.execute(sql, params)]

    # --- usage reports ---
    def usage_rows(self, query: UsageQuery) -> list[UsageRow]:
        """The events `query` names (`meterlib.stores.usage_sql`)."""
        sql, params = usage_sql.usage_select(query, "events", "?")
        return usage_sql.usage_rows(self._conn.execute(sql, params).fetchall(), query)

    def overdue_lock_owners(self, now: int) -> list[str]:
        """The owners of the locks past their expiry at `now`, in id order."""
        return [r[0] for r in self._conn.execute(_OVERDUE_OWNERS, (now,))]

    def get_idempotency_key(self, key: str) -> int | None:
        """The instant (ms) until which `key` is claimed, or None."""
        row = self._conn.execute(_GET_KEY, (key,)).fetchone()
        return None if row is None else int(row[0])

    def put_idempotency_key(self, key: str, expires_at: int) -> None:
        """Claim `key` until `expires_at`, replacing any older claim."""
        self._writable().execute(_PUT_KEY, (key, expires_at))

    def list_counters(self, customer_id: str) -> list[Counter]:
        """The customer's counters, in key order."""
        found = self._conn.execute(_LIST_COUNTERS, (customer_id,))
        return [rows.counter_from_row(r) for r in found]

    def put_counters(self, counters: Iterable[Counter]) -> None:
        """Insert or replace each counter by (customer_id, key)."""
        self._writable().executemany(_PUT_COUNTER, [rows.counter_to_row(c) for c in counters])
