"""MemoryStore's pages, feature changes and deletes (a mixin of its session).

Every write goes through the session's undo log, as the rest of MemorySession does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from meterlib.catalogue_edits import FeatureUsers
from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.stores.memory_retention import Retained


class _State(Protocol):
    """The parts of MemoryStore's state these methods use."""

    features: dict[str, Feature]
    features_sorted: list[Feature] | None
    customers: dict[str, Customer]
    entities: dict[tuple[str, str], Entity]
    grants: dict[str, dict[str, Grant]]
    locks: dict[str, Lock]
    customer_locks: dict[str, dict[str, Lock]]
    events: list[tuple[int, int, EventRecord]]
    counters: dict[str, dict[str, Counter]]
    retained: Retained


class MemoryCatalogueEdits:
    """The catalogue-edit methods of `MemorySession`."""

    __slots__ = ()
    _s: _State
    _undo: list[Callable[[], None]]

    if TYPE_CHECKING:

        def _set(self, mapping: dict[Any, Any], key: object, value: object) -> None: ...
        def _pop(self, mapping: dict[Any, Any], key: object) -> None: ...
        def _changes(self, customer_id: str | None) -> None: ...
        def _forbid_read_only(self) -> None: ...

    def page_customers(self, *, after: str | None, limit: int) -> list[Customer]:
        """`StoreSession.page_customers`."""
        ids = sorted(k for k in self._s.customers if after is None or k > after)
        return [self._s.customers[k] for k in ids[:limit]]

    def page_entities(
        self, *, customer_id: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[Entity]:
        """`StoreSession.page_entities`."""
        keys = sorted(
            k
            for k in self._s.entities
            if (customer_id is None or k[0] == customer_id) and (after is None or k > after)
        )
        return [self._s.entities[k] for k in keys[:limit]]

    def feature_users(self, feature_id: str) -> FeatureUsers:
        """`StoreSession.feature_users`."""
        s = self._s
        grants = sorted(
            (g for rows in s.grants.values() for g in rows.values() if g.feature_id == feature_id),
            key=lambda g: g.seq,
        )
        entities = [e for e in s.entities.values() if e.feature_id == feature_id]
        locks = [lk for lk in s.locks.values() if lk.feature_id == feature_id]
        return FeatureUsers(tuple(grants), tuple(entities), tuple(locks))

    def replace_feature(self, feature: Feature) -> None:
        """`StoreSession.replace_feature`."""
        self._catalogue_write(lambda: self._set(self._s.features, feature.id, feature))

    def delete_feature(self, feature_id: str) -> None:
        """`StoreSession.delete_feature`."""
        self._catalogue_write(lambda: self._pop(self._s.features, feature_id))

    def _catalogue_write(self, write: Callable[[], None]) -> None:
        state = self._s
        write()
        self._changes(None)
        state.features_sorted = None
        self._undo.append(lambda: setattr(state, "features_sorted", None))

    def delete_customer(self, customer_id: str) -> None:
        """`StoreSession.delete_customer`."""
        s = self._s
        self._pop(s.customers, customer_id)
        for key in [k for k in s.entities if k[0] == customer_id]:
            self._pop(s.entities, key)
        self._pop(s.grants, customer_id)
        for lock_id in list(s.customer_locks.get(customer_id, {})):
            self._pop(s.locks, lock_id)
        self._pop(s.customer_locks, customer_id)
        self._pop(s.counters, customer_id)
        events = s.events
        kept = [e for e in events if e[2].customer_id != customer_id]
        if len(kept) != len(events):
            old = list(events)
            events[:] = kept
            self._undo.append(lambda: events.__setitem__(slice(None), old))
        totals = s.retained.totals
        for hour_key in [k for k in totals if k[1] == customer_id]:
            self._pop(totals, hour_key)
        self._changes(customer_id)

    def delete_entity(self, customer_id: str, entity_id: str) -> None:
        """`StoreSession.delete_entity`."""
        self._pop(self._s.entities, (customer_id, entity_id))
        self._changes(customer_id)
