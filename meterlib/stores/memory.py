"""MemoryStore: the ledger state in dicts, one lock, and an undo log for rollback."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping

from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.state import EMPTY, CustomerState, Want
from meterlib.stores import memory_retention, memory_usage
from meterlib.stores.memory_catalogue import MemoryCatalogueEdits
from meterlib.stores.session_adapter import (
    CatalogueMemo,
    StateReads,
    StateSession,
    controlled,
    entities_wanted,
)
from meterlib.usage_rows import UsageQuery, UsageRow

_MISSING = object()


class _State:
    def __init__(self) -> None:
        self.features: dict[str, Feature] = {}
        self.features_sorted: list[Feature] | None = None  # list_features, until one is added
        self.customers: dict[str, Customer] = {}
        self.entities: dict[tuple[str, str], Entity] = {}
        self.grants: dict[str, dict[str, Grant]] = {}  # customer_id -> grant id -> grant
        self.locks: dict[str, Lock] = {}
        # customer_id -> lock_id -> lock: every check and track lists its customer's locks
        self.customer_locks: dict[str, dict[str, Lock]] = {}
        self.events: list[tuple[int, int, EventRecord]] = []  # sorted by (timestamp, seq)
        self.idempotency: dict[str, int] = {}
        self.key_expiry: list[tuple[int, str]] = []  # see memory_retention
        self.retained = memory_retention.Retained()
        self.seqs: dict[str, int] = {}
        self.counters: dict[str, dict[str, Counter]] = {}  # customer_id -> key -> counter
        # `MemoryStore.revision`: one count of changes, and the count at each customer's last
        # change and at the catalogue's; never undone (a rollback counts as one more change)
        self.changes = 0
        self.changed: dict[str, int] = {}
        self.features_changed = 0
        self.catalogue = CatalogueMemo()


def revision_of(state: _State, customer_id: str) -> int:
    """`MemoryStore.revision` of what `state` holds."""
    customer = state.changed.get(customer_id, 0)
    features = state.features_changed
    return customer if customer > features else features


class MemorySession(MemoryCatalogueEdits, memory_retention.RetentionSession, StateSession):
    """A unit of work over a MemoryStore; every write logs how to undo itself."""

    _s: _State

    def __init__(self, state: _State, *, write: bool) -> None:
        self._s = state
        self._write = write
        self._undo: list[Callable[[], None]] = []
        self._touched: set[str | None] = set()  # customers changed here; None: the catalogue

    def _catalogue_memo(self) -> CatalogueMemo:
        return self._s.catalogue

    def _revision(self, customer_id: str) -> Hashable:
        return revision_of(self._s, customer_id)

    def load(self, want: Want) -> CustomerState:
        """`StateSession.load` straight from the dicts (the rows of every memory benchmark
        go through here): the same answer, without a method call per part."""
        s = self._s
        cid = want.customer_id
        features = s.features_sorted
        catalogue = s.catalogue.of(self.list_features() if features is None else features)
        customer = s.customers.get(cid)
        grants: tuple[Grant, ...] = ()
        locks: tuple[Lock, ...] = ()
        if customer is not None:
            rows = s.grants.get(cid)
            if rows:
                grants = (
                    tuple(rows.values())
                    if len(rows) == 1
                    else tuple(sorted(rows.values(), key=lambda g: g.seq))
                )
            held = s.customer_locks.get(cid)
            if held:
                locks = tuple(sorted(held.values(), key=lambda lk: (lk.created_at, lk.lock_id)))
        entities: Mapping[str, Entity] = EMPTY  # type: ignore[assignment]
        wanted = entities_wanted(want, locks) if locks else want.entity_ids
        if wanted:
            found = s.entities
            entities = {e: entity for e in wanted if (entity := found.get((cid, e))) is not None}
        counters: Mapping[str, Counter] = EMPTY  # type: ignore[assignment]
        if customer is not None and (
            customer.billing_controls or (entities and controlled(customer, entities))
        ):
            kept = s.counters.get(cid)
            counters = {k: kept[k] for k in sorted(kept)} if kept else {}
        return CustomerState(
            cid,
            customer,
            entities,
            grants,
            locks,
            counters,
            {lid: s.locks.get(lid) for lid in want.lock_ids} if want.lock_ids else EMPTY,  # type: ignore[arg-type]
            {k: s.idempotency.get(k) for k in want.keys} if want.keys else EMPTY,  # type: ignore[arg-type]
            {k: self.reserve(k, n) for k, n in want.seqs} if want.seqs else EMPTY,  # type: ignore[arg-type]
            catalogue,
            revision_of(s, cid),
        )

    def _forbid_read_only(self) -> None:
        if not self._write:
            raise RuntimeError("write in a read-only transaction")

    def _set(self, mapping: dict, key: object, value: object) -> None:  # type: ignore[type-arg]
        self._forbid_read_only()
        old = mapping.get(key, _MISSING)
        self._undo.append(
            (lambda: mapping.pop(key, None))
            if old is _MISSING
            else (lambda: mapping.__setitem__(key, old))
        )
        mapping[key] = value

    def _pop(self, mapping: dict, key: object) -> None:  # type: ignore[type-arg]
        self._forbid_read_only()
        old = mapping.pop(key, _MISSING)
        if old is not _MISSING:
            self._undo.append(lambda: mapping.__setitem__(key, old))

    def _changes(self, customer_id: str | None) -> None:
        """Count a change of the customer (None: of the catalogue) for `MemoryStore.revision`."""
        state = self._s
        state.changes += 1
        if customer_id is None:
            state.features_changed = state.changes
        else:
            state.changed[customer_id] = state.changes
        self._touched.add(customer_id)

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()
        # what was read between the changes and now must not pass for what is there again
        for customer_id in tuple(self._touched):
            self._changes(customer_id)

    def next_seq(self, kind: str) -> int:
        value = self._s.seqs.get(kind, 0) + 1
        self._set(self._s.seqs, kind, value)
        return value

    def get_feature(self, feature_id: str) -> Feature | None:
        return self._s.features.get(feature_id)

    def list_features(self) -> list[Feature]:
        # every call lists them (the Ledger compares the list with its catalogue): keep it sorted
        state = self._s
        if state.features_sorted is None:
            state.features_sorted = sorted(state.features.values(), key=lambda f: f.seq)
        return state.features_sorted

    def add_feature(self, feature: Feature) -> None:
        state = self._s
        self._set(state.features, feature.id, feature)
        self._changes(None)
        state.features_sorted = None
        self._undo.append(lambda: setattr(state, "features_sorted", None))

    def get_customer(self, customer_id: str) -> Customer | None:
        return self._s.customers.get(customer_id)

    def list_customers(self) -> list[Customer]:
        return [self._s.customers[k] for k in sorted(self._s.customers)]

    def put_customer(self, customer: Customer) -> None:
        self._set(self._s.customers, customer.id, customer)
        self._changes(customer.id)

    def get_entity(self, customer_id: str, entity_id: str) -> Entity | None:
        return self._s.entities.get((customer_id, entity_id))

    def list_entities(self, customer_id: str) -> list[Entity]:
        return sorted(
            (e for (cid, _), e in self._s.entities.items() if cid == customer_id),
            key=lambda e: e.id,
        )

    def put_entity(self, entity: Entity) -> None:
        self._set(self._s.entities, (entity.customer_id, entity.id), entity)
        self._changes(entity.customer_id)

    def list_grants(self, customer_id: str) -> list[Grant]:
        rows = self._s.grants.get(customer_id)
        if not rows:
            return []
        if len(rows) == 1:
            return list(rows.values())
        return sorted(rows.values(), key=lambda g: g.seq)

    def put_grants(self, grants: Iterable[Grant]) -> None:
        for grant in grants:
            rows = self._s.grants.get(grant.customer_id)
            if rows is None:
                rows = {}
                self._set(self._s.grants, grant.customer_id, rows)
            self._set(rows, grant.id, grant)
            self._changes(grant.customer_id)

    def delete_grants(self, grant_ids: Iterable[str]) -> None:
        ids = set(grant_ids)
        for customer_id, rows in self._s.grants.items():
            for gid in ids & rows.keys():
                self._pop(rows, gid)
                self._changes(customer_id)

    def get_lock(self, lock_id: str) -> Lock | None:
        return self._s.locks.get(lock_id)

    def list_locks(self, customer_id: str) -> list[Lock]:
        rows = self._s.customer_locks.get(customer_id)
        if not rows:
            return []
        return sorted(rows.values(), key=lambda lock: (lock.created_at, lock.lock_id))

    def put_lock(self, lock: Lock) -> None:
        old = self._s.locks.get(lock.lock_id)
        if old is not None:
            self._pop(self._s.customer_locks[old.customer_id], old.lock_id)
            self._changes(old.customer_id)
        rows = self._s.customer_locks.get(lock.customer_id)
        if rows is None:
            rows = {}
            self._set(self._s.customer_locks, lock.customer_id, rows)
        self._set(rows, lock.lock_id, lock)
        self._set(self._s.locks, lock.lock_id, lock)
        self._changes(lock.customer_id)

    def delete_lock(self, lock_id: str) -> None:
        old = self._s.locks.get(lock_id)
        if old is not None:
            self._pop(self._s.customer_locks[old.customer_id], lock_id)
            self._changes(old.customer_id)
        self._pop(self._s.locks, lock_id)

    def add_event(self, event: EventRecord) -> None:
        self._forbid_read_only()
        entry = (event.timestamp, event.seq, event)
        events = self._s.events
        key = (event.timestamp, event.seq)
        if not events or events[-1][:2] <= key:
            events.append(entry)  # the usual case: the newest event goes last
        else:
            events.insert(bisect.bisect_right(events, key, key=lambda e: e[:2]), entry)
        self._undo.append(lambda: events.remove(entry))

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
        out: list[EventRecord] = []
        if limit <= 0:
            return out
        for timestamp, seq, event in reversed(self._s.events):
            if before is not None and (timestamp, seq) >= before:
                continue
            if start is not None and timestamp < start:
                break
            if end is not None and timestamp >= end:
                continue
            if customer_id is not None and event.customer_id != customer_id:
                continue
            if entity_id is not None and event.entity_id != entity_id:
                continue
            if feature_id is not None and feature_id not in event.feature_ids:
                continue
            out.append(event)
            if len(out) >= limit:
                break
        return out

    # --- usage reports ---
    def usage_rows(self, query: UsageQuery) -> list[UsageRow]:
        return memory_usage.usage_rows(self._s.events, query)

    def overdue_lock_owners(self, now: int) -> list[str]:
        return memory_usage.overdue_lock_owners(self._s.locks, now)

    def get_idempotency_key(self, key: str) -> int | None:
        return self._s.idempotency.get(key)

    def put_idempotency_key(self, key: str, expires_at: int) -> None:
        self._set(self._s.idempotency, key, expires_at)
        memory_retention.claimed(self._s, key, expires_at)

    def list_counters(self, customer_id: str) -> list[Counter]:
        rows = self._s.counters.get(customer_id)
        return [rows[k] for k in sorted(rows)] if rows else []

    def put_counters(self, counters: Iterable[Counter]) -> None:
        for counter in counters:
            rows = self._s.counters.get(counter.customer_id)
            if rows is None:
                rows = {}
                self._set(self._s.counters, counter.customer_id, rows)
            self._set(rows, counter.key, counter)
            self._changes(counter.customer_id)


class _Transaction:
    """`MemoryStore.transaction()`: holds the store's lock; on an exception, undoes the writes.

    A class rather than a generator context manager: it is entered on every Ledger call.
    """

    __slots__ = ("_session", "_store", "_write")

    def __init__(self, store: MemoryStore, write: bool) -> None:
        self._store = store
        self._write = write

    def __enter__(self) -> MemorySession:
        store = self._store
        store._lock.acquire()
        # a read-only session holds nothing of its own, so every read shares one
        self._session = MemorySession(store._state, write=True) if self._write else store._reader
        return self._session

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            if exc_type is not None:
                self._session.rollback()
        finally:
            self._store._lock.release()


class MemoryStore(StateReads):
    """Everything in this process's memory: fast, shared by threads, gone on exit."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.RLock()
        self._reader = MemorySession(self._state, write=False)

    def transaction(self, *, write: bool = True) -> _Transaction:
        """One serialised unit of work; an exception undoes every write made in it."""
        return _Transaction(self, write)

    def read(self, want: Want) -> CustomerState:
        """`Store.read`: a load under the store's lock (every plain check comes here)."""
        with self._lock:
            return self._reader.load(want)

    def revision(self, customer_id: str) -> int:
        """A number that grows whenever anything a check of the customer reads may have
        changed: its record, entities, grants, locks, counters, or the catalogue. Read inside a
        transaction, it is that of what the transaction sees; outside one, it needs no lock.
        """
        return revision_of(self._state, customer_id)

    def close(self) -> None:
        """Nothing to release; kept for the Store protocol."""

    def __repr__(self) -> str:
        return "MemoryStore()"
