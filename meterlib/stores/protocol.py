"""The store contract: what a Ledger needs from storage, and nothing about billing.

A store persists the frozen models of `meterlib.models` and hands them back unchanged:
Decimals exact, instants to the millisecond, dicts as given. All reads and writes happen
inside `Store.transaction()`, which is one atomic, isolated unit of work: committed on a
clean exit, rolled back (nothing of it visible, ever) on any exception. Write transactions
are serialised against each other, across threads and, for file or server stores, processes.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from meterlib.catalogue_edits import CatalogueEdits, FeatureUsers
from meterlib.effects import Effects
from meterlib.hourly_totals import HourlyTotal
from meterlib.models import Counter, Customer, Entity, EventRecord, Feature, Grant, Lock
from meterlib.state import Catalogue, CustomerState, Want
from meterlib.usage_rows import UsageQuery, UsageRow


class StoreSession(Protocol):
    """One unit of work. Every method may raise `StoreError` for a backend failure."""

    def next_seq(self, kind: str) -> int:
        """A number larger than any returned before for `kind` ("grant", "feature"); for
        "event", larger than the seq of every stored event and than the last one this
        session returned (a number handed out but never stored may come back later)."""

    # catalogue
    def get_feature(self, feature_id: str) -> Feature | None: ...
    def list_features(self) -> list[Feature]:
        """Every feature, in `seq` order."""

    def add_feature(self, feature: Feature) -> None:
        """Insert a new feature (the caller checked that the id is free)."""

    def get_customer(self, customer_id: str) -> Customer | None: ...
    def list_customers(self) -> list[Customer]:
        """Every customer, in id order."""

    def put_customer(self, customer: Customer) -> None:
        """Insert or replace by id."""

    def get_entity(self, customer_id: str, entity_id: str) -> Entity | None: ...
    def list_entities(self, customer_id: str) -> list[Entity]:
        """The customer's entities, in id order."""

    def put_entity(self, entity: Entity) -> None:
        """Insert or replace by (customer_id, id)."""

    # grants (with their rollovers)
    def list_grants(self, customer_id: str) -> list[Grant]:
        """Every grant of the customer and its entities, expired ones too, in `seq` order."""

    def put_grants(self, grants: Iterable[Grant]) -> None:
        """Insert or replace each grant by id."""

    def delete_grants(self, grant_ids: Iterable[str]) -> None:
        """Remove the grants (and their rollovers); unknown ids are ignored."""

    # locks
    def get_lock(self, lock_id: str) -> Lock | None: ...
    def list_locks(self, customer_id: str) -> list[Lock]:
        """The customer's open locks, in creation order."""

    def put_lock(self, lock: Lock) -> None:
        """Insert or replace by lock_id."""

    def delete_lock(self, lock_id: str) -> None: ...

    # events
    def add_event(self, event: EventRecord) -> None:
        """Record the event; its seq comes from `next_seq("event")` (a store may refuse one
        already stored)."""

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
        """Newest first by (timestamp, seq) descending; at most `limit`.

        `feature_id` matches an event whose `feature_ids` contain it; `start` is inclusive,
        `end` exclusive; `before=(timestamp, seq)` keeps only events strictly older than it.
        """

    # idempotency keys
    def get_idempotency_key(self, key: str) -> int | None:
        """The instant (ms) until which `key` is claimed, or None if never claimed."""

    def put_idempotency_key(self, key: str, expires_at: int) -> None:
        """Claim `key` until `expires_at`, replacing any older claim."""

    # counters (usage windows, auto top-up rate limits)
    def list_counters(self, customer_id: str) -> list[Counter]:
        """The customer's counters, in key order (code-point order of `key`)."""

    def put_counters(self, counters: Iterable[Counter]) -> None:
        """Insert or replace each counter by (customer_id, key)."""

    # the state seam: what every operation goes through (`session_adapter` builds these
    # from the methods above; a store may answer them natively)
    def catalogue(self) -> Catalogue:
        """The features this transaction sees, as one shared Catalogue."""

    def load(self, want: Want) -> CustomerState:
        """The customer's working state: in a write session, writers on the customer are
        serialised first, and `want.seqs` are reserved. Entities: the wanted ones and those
        of the customer's open locks (an expired lock is released under its entity's
        controls). Counters are loaded when billing controls bear on the customer or one of
        those entities (nothing else reads them)."""

    def apply(self, effects: Effects) -> None:
        """Write `effects`; may be deferred to the commit, but a later `load` in the same
        session sees them."""

    def reserve(self, kind: str, count: int) -> tuple[int, ...]:
        """`count` more numbers of `kind` (`next_seq`), ascending."""

    def lock_owner(self, lock_id: str) -> str | None:
        """The customer holding the open lock `lock_id`, or None."""

    # --- usage reports ---
    def usage_rows(self, query: UsageQuery) -> list[UsageRow]:
        """The events `query` names as plain rows, in no particular order. Amounts exact
        (summed by the caller, never by the database's floats); properties and deductions
        only when the query asks for them."""

    def overdue_lock_owners(self, now: int) -> list[str]:
        """The customers holding a lock whose `expires_at` is at or before `now`, in id order."""

    # --- more catalogue calls: pages, feature changes, deletes ---
    def page_customers(self, *, after: str | None, limit: int) -> list[Customer]:
        """At most `limit` customers with an id after `after` (None: from the first), in id
        order (code-point order)."""

    def page_entities(
        self, *, customer_id: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[Entity]:
        """At most `limit` entities (of `customer_id` only, when given) whose
        (customer_id, id) comes after `after`, in that order (with `customer_id`, `after` is
        one of that customer's keys)."""

    def feature_users(self, feature_id: str) -> FeatureUsers:
        """Every grant (any customer, expired too, in seq order), entity and open lock that
        names the feature."""

    def replace_feature(self, feature: Feature) -> None:
        """Replace the stored feature of that id (every later catalogue read sees it)."""

    def delete_feature(self, feature_id: str) -> None:
        """Remove the feature row alone."""

    def delete_customer(self, customer_id: str) -> None:
        """Remove the customer and every row it owns: entities, grants, locks, counters,
        events and the hourly totals of its pruned events (idempotency keys are not anyone's
        and stay)."""

    def delete_entity(self, customer_id: str, entity_id: str) -> None:
        """Remove the entity row alone."""

    def apply_edits(self, edits: CatalogueEdits) -> None:
        """Write `edits` (features replaced, features, entities and customers deleted)."""

    # --- retention, dumps ---
    def expire_idempotency_keys(self, now: int, limit: int) -> int:
        """Remove at most `limit` keys claimed until `now` or earlier (spent: a claim holds
        until its instant); how many went. `apply` calls it for `Effects.keys_spent_by`."""

    def list_idempotency_keys(self, now: int) -> list[tuple[str, int]]:
        """The keys claimed beyond `now`, with their instants, in key order."""

    def seq_values(self) -> dict[str, int]:
        """Per kind, a number at least the largest `next_seq` has handed out."""

    def restore_seq(self, kind: str, value: int) -> None:
        """Make every later `next_seq(kind)` larger than `value`."""

    def restore_rows(self, effects: Effects) -> None:
        """Write the rows of a ledger being restored (an empty one, in this transaction):
        as `apply`, with `effects.customer` the owner of its entities, grants, locks and
        counters; a store may skip what `apply` does to serialise writers."""

    def take_events(self, before: int, limit: int) -> list[EventRecord]:
        """Remove and return at most `limit` of the oldest events recorded before `before`
        (oldest first by (timestamp, seq))."""

    def add_hourly_totals(self, totals: Iterable[HourlyTotal]) -> None:
        """Add each total to the one kept for its key (`HourlyTotal.key`), or keep it."""

    def list_hourly_totals(self, start: int, end: int) -> list[HourlyTotal]:
        """The totals of the hours in [start, end), in key order."""

    def pruned_through(self) -> int | None:
        """The instant before which events have been pruned (None: never pruned)."""

    def set_pruned_through(self, before: int) -> None:
        """Record that events before `before` are pruned (an earlier instant is kept)."""


class Store(Protocol):
    """Where a Ledger keeps its state (a store may also be `Recalls`)."""

    def transaction(self, *, write: bool = True) -> AbstractContextManager[StoreSession]:
        """A unit of work; `write=False` promises not to write and may run concurrently."""

    def read(self, want: Want) -> CustomerState:
        """One consistent read of the state `want` names (no seqs reserved, nothing locked
        beyond the read itself): what `load` returns in a read transaction."""

    def close(self) -> None:
        """Release the store's resources; the store is unusable afterwards."""


@runtime_checkable
class Recalls(Protocol):
    """Optional capability: a store that can say cheaply whether a customer changed.

    `revision(customer_id)` changes whenever anything a check of that customer reads may have
    changed (its record, entities, grants, locks, counters, or the features), a rollback
    included, readable without a transaction. A Ledger over such a store answers a plain check
    again from the last identical one while the revision and time allow
    (`meterlib.recent_checks`). MemoryStore offers it; a store shared with other processes
    could not read it without a transaction, so SQLite and PostgreSQL do not.
    """

    def revision(self, customer_id: str) -> Hashable:
        """The customer's revision now (inside a transaction: that of what it sees)."""
