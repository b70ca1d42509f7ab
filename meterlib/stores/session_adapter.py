"""`load`, `apply`, `reserve`, `lock_owner` and `read` over a store's row-by-row session methods.

The seam every operation goes through (`meterlib.state.Want` in, `CustomerState` out;
`meterlib.effects.Effects` written) built from the methods each session already has, so
every store offers it at once. A store may answer the seam natively instead (one round trip
on a server); the contract in `meterlib.testing.contract_state` holds either way. A session
that answers some of these reads from a cache (SQLite's `Known`) keeps its speed here, since
the methods called are the very ones it already answers without SQL.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from meterlib.catalogue_edits import CatalogueEdits
from meterlib.effects import KEYS_SWEPT_PER_CLAIM, Effects
from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.state import EMPTY, Catalogue, CustomerState, Want, controlled, entities_wanted

__all__ = ["CatalogueMemo", "StateReads", "StateSession", "controlled", "entities_wanted"]


class CatalogueMemo:
    """The Catalogue a store built last: rebuilt only when the features listed differ
    (features never change or go away, so a new count or a new object means new ones)."""

    __slots__ = ("catalogue",)

    def __init__(self) -> None:
        self.catalogue: Catalogue | None = None

    def of(self, features: list[Feature]) -> Catalogue:
        """The Catalogue of `features` (the kept one when they are the same)."""
        catalogue = self.catalogue
        if catalogue is None or catalogue.features != features:
            catalogue = self.catalogue = Catalogue(features)
        return catalogue


# a session whose store keeps no memo of its own shares this one (a catalogue differing
# from the last one listed is simply rebuilt: slower when stores alternate, never wrong)
_SHARED_MEMO = CatalogueMemo()


class _Rows(Protocol):
    """The row-by-row session methods the adapter is built from (`StoreSession`)."""

    def next_seq(self, kind: str) -> int: ...
    def list_features(self) -> list[Feature]: ...
    def add_feature(self, feature: Feature) -> None: ...
    def get_customer(self, customer_id: str) -> Customer | None: ...
    def put_customer(self, customer: Customer) -> None: ...
    def get_entity(self, customer_id: str, entity_id: str) -> Entity | None: ...
    def put_entity(self, entity: Entity) -> None: ...
    def list_grants(self, customer_id: str) -> list[Grant]: ...
    def put_grants(self, grants: Iterable[Grant]) -> None: ...
    def delete_grants(self, grant_ids: Iterable[str]) -> None: ...
    def get_lock(self, lock_id: str) -> Lock | None: ...
    def list_locks(self, customer_id: str) -> list[Lock]: ...
    def put_lock(self, lock: Lock) -> None: ...
    def delete_lock(self, lock_id: str) -> None: ...
    def add_event(self, event: EventRecord) -> None: ...
    def get_idempotency_key(self, key: str) -> int | None: ...
    def put_idempotency_key(self, key: str, expires_at: int) -> None: ...
    def list_counters(self, customer_id: str) -> list[Counter]: ...
    def expire_idempotency_keys(self, now: int, limit: int) -> int: ...
    def put_counters(self, counters: Iterable[Counter]) -> None: ...
    def _catalogue_memo(self) -> CatalogueMemo: ...
    def _revision(self, customer_id: str) -> Hashable | None: ...
    def catalogue(self) -> Catalogue: ...
    def reserve(self, kind: str, count: int) -> tuple[int, ...]: ...
    def replace_feature(self, feature: Feature) -> None: ...
    def delete_feature(self, feature_id: str) -> None: ...
    def delete_customer(self, customer_id: str) -> None: ...
    def delete_entity(self, customer_id: str, entity_id: str) -> None: ...


class StateSession:
    """Mixin: the state seam of a session, over its row methods (see the module)."""

    __slots__ = ()

    def _catalogue_memo(self) -> CatalogueMemo:
        """Where this session's store keeps its Catalogue (overridden by stores that keep one)."""
        return _SHARED_MEMO

    def _revision(self, customer_id: str) -> Hashable | None:
        """The store's revision of the customer (`Recalls` stores), read with the state."""
        return None

    def catalogue(self: _Rows) -> Catalogue:
        """The catalogue this transaction sees."""
        return self._catalogue_memo().of(self.list_features())

    def load(self: _Rows, want: Want) -> CustomerState:
        """The working state `want` names (a write session has serialised writers on the
        customer by reading it first; its `want.seqs` are reserved)."""
        catalogue = self.catalogue()
        customer_id = want.customer_id
        customer = self.get_customer(customer_id)
        if customer is None:
            grants: tuple[Grant, ...] = ()
            locks: tuple[Lock, ...] = ()
        else:
            grants = tuple(self.list_grants(customer_id))
            locks = tuple(self.list_locks(customer_id))
        entities: Mapping[str, Entity] = EMPTY  # type: ignore[assignment]
        wanted = entities_wanted(want, locks)
        if wanted:
            found = {eid: self.get_entity(customer_id, eid) for eid in wanted}
            entities = {eid: e for eid, e in found.items() if e is not None}
        counters: Mapping[str, Counter] = EMPTY  # type: ignore[assignment]
        if customer is not None and controlled(customer, entities):
            counters = {c.key: c for c in self.list_counters(customer_id)}
        named: Mapping[str, Lock | None] = EMPTY  # type: ignore[assignment]
        if want.lock_ids:
            named = {lid: self.get_lock(lid) for lid in want.lock_ids}
        claims: Mapping[str, int | None] = EMPTY  # type: ignore[assignment]
        if want.keys:
            claims = {key: self.get_idempotency_key(key) for key in want.keys}
        seqs: Mapping[str, tuple[int, ...]] = EMPTY  # type: ignore[assignment]
        if want.seqs:
            seqs = {kind: self.reserve(kind, count) for kind, count in want.seqs}
        return CustomerState(
            customer_id,
            customer,
            entities,
            grants,
            locks,
            counters,
            named,
            claims,
            seqs,
            catalogue,
            self._revision(customer_id),
        )

    def reserve(self: _Rows, kind: str, count: int) -> tuple[int, ...]:
        """`count` new numbers of `kind`, ascending (write sessions only)."""
        if count == 1:  # a track's one event number: no generator to build
            return (self.next_seq(kind),)
        return tuple(self.next_seq(kind) for _ in range(count))

    def lock_owner(self: _Rows, lock_id: str) -> str | None:
        """The customer holding `lock_id`, or None when no such lock is open."""
        lock = self.get_lock(lock_id)
        return None if lock is None else lock.customer_id

    def apply(self: _Rows, effects: Effects) -> None:
        """Write `effects` (features, customer, entities, grants, locks, events, counters,
        claims, spent keys, in that order); a later read in the same session sees them."""
        for feature in effects.features:
            self.add_feature(feature)
        if effects.customer is not None:
            self.put_customer(effects.customer)
        for entity in effects.entities:
            self.put_entity(entity)
        if effects.grants:
            self.put_grants(effects.grants)
        if effects.deleted_grants:
            self.delete_grants(effects.deleted_grants)
        for lock in effects.locks:
            self.put_lock(lock)
        for lock_id in effects.deleted_locks:
            self.delete_lock(lock_id)
        for event in effects.events:
            self.add_event(event)
        if effects.counters:
            self.put_counters(effects.counters)
        for key, until in effects.claims:
            self.put_idempotency_key(key, until)
        if effects.keys_spent_by is not None:
            limit = KEYS_SWEPT_PER_CLAIM * max(1, len(effects.claims))
            self.expire_idempotency_keys(effects.keys_spent_by, limit)

    def restore_rows(self: _Rows, effects: Effects) -> None:
        """`apply`: a restore writes its rows the way every write does."""
        StateSession.apply(self, effects)

    def apply_edits(self: _Rows, edits: CatalogueEdits) -> None:
        """Write `edits`: features replaced, then features, entities, customers deleted."""
        for feature in edits.features:
            self.replace_feature(feature)
        for feature_id in edits.deleted_features:
            self.delete_feature(feature_id)
        for customer_id, entity_id in edits.deleted_entities:
            self.delete_entity(customer_id, entity_id)
        for customer_id in edits.deleted_customers:
            self.delete_customer(customer_id)


class _Loads(Protocol):
    def load(self, want: Want) -> CustomerState: ...


class _Transacts(Protocol):
    def transaction(self, *, write: bool = True) -> AbstractContextManager[_Loads]: ...


class StateReads:
    """Mixin for a store: `read` as a `load` in a read transaction."""

    __slots__ = ()

    def read(self: _Transacts, want: Want) -> CustomerState:
        """One consistent read of the state `want` names, with no transaction left open."""
        with self.transaction(write=False) as session:
            return session.load(want)
