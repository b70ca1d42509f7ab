"""What one operation reads: the customer's working state, loaded in one store call.

A store fills a `CustomerState` for a `Want` (the customer, the entities the call names, the
idempotency keys and lock ids it touches, the sequence numbers it will need) inside one
transaction; the decision functions read nothing else. `after` says what a load returns
once the store has applied some `Effects`: the contract every store is tested against.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

from meterlib.effects import Effects
from meterlib.models import Counter, Customer, Entity, Feature, Grant, Lock
from meterlib.quantity import ONE

EMPTY: Mapping[str, object] = {}


class Catalogue:
    """The features of one transaction, with the credit-system relations Autumn uses.

    Features are immutable and never deleted, so a store keeps one Catalogue for as long as
    it lists the same features: the memo dicts inside are the store seam's cache.
    """

    def __init__(self, features: Iterable[Feature]) -> None:
        self.features = list(features)  # as the store listed them
        self.by_id = {f.id: f for f in self.features}
        self.ordered = sorted(self.by_id.values(), key=lambda f: f.seq)
        self._credit_systems: dict[str, tuple[Feature, ...]] = {}
        self._pools: dict[str, dict[str, Feature]] = {}

    def credit_systems_of(self, feature: Feature) -> tuple[Feature, ...]:
        """Credit systems containing `feature`, in catalogue order (kept: every check asks)."""
        found = self._credit_systems.get(feature.id)
        if found is None:
            found = tuple(c for c in self.ordered if c.credit_cost(feature.id) is not None)
            self._credit_systems[feature.id] = found
        return found

    def relevant(self, feature: Feature) -> list[Feature]:
        """`feature` and every credit system it can draw on."""
        return list(self.pools(feature).values())

    def pools(self, feature: Feature) -> Mapping[str, Feature]:
        """`relevant(feature)` by id (every deduction asks: kept, so do not change it)."""
        found = self._pools.get(feature.id)
        if found is None:
            found = {f.id: f for f in (feature, *self.credit_systems_of(feature))}
            self._pools[feature.id] = found
        return found

    def cost(self, member: Feature, pool: Feature) -> Decimal:
        """Units of `pool` one unit of `member` consumes."""
        if pool.id == member.id:
            return ONE
        cost = pool.credit_cost(member.id)
        return ONE if cost is None else cost

    def with_features(self, added: Iterable[Feature]) -> Catalogue:
        """This catalogue with `added` appended (a new object: this one is shared)."""
        added = [f for f in added if f.id not in self.by_id]
        return Catalogue([*self.features, *added]) if added else self


def entities_wanted(want: Want, locks: tuple[Lock, ...]) -> tuple[str, ...]:
    """The wanted entities, and those of the open locks: a lock released on expiry gives its
    units back under its entity's billing controls (locks are rare, so this usually adds none)."""
    if not locks:
        return want.entity_ids
    held = (lk.entity_id for lk in locks if lk.entity_id is not None)
    return tuple(dict.fromkeys((*want.entity_ids, *held)))


def controlled(customer: Customer, entities: Mapping[str, Entity]) -> bool:
    """Whether billing controls may read counters: the customer's, or a wanted entity's.
    Counters are read by nothing else, so a store need not load them otherwise."""
    if customer.billing_controls:
        return True
    return any(e.billing_controls for e in entities.values())


class Want(NamedTuple):
    """What one operation needs loaded (built by the validated arguments, before any I/O)."""

    customer_id: str
    entity_ids: tuple[str, ...] = ()  # only the entities the call names
    keys: tuple[str, ...] = ()  # idempotency keys to claim, as stored ("track:<key>")
    lock_ids: tuple[str, ...] = ()  # lock ids the call names (any owner)
    seqs: tuple[tuple[str, int], ...] = ()  # numbers to reserve: (("event", 1),) for a track


class CustomerState(NamedTuple):
    """Everything a decision about one customer may read, as the store holds it now.

    Frozen values only; the tuples and mappings are the store's and must not be changed.
    Built positionally on the hot path (a NamedTuple costs half an attrs class to build).
    """

    customer_id: str
    customer: Customer | None  # None: not there (create makes it; other calls raise)
    entities: Mapping[str, Entity]  # the wanted entities that exist, by id
    grants: tuple[Grant, ...]  # the customer's and its entities', expired too, (seq, id) order
    locks: tuple[Lock, ...]  # the customer's open locks, (created_at, lock_id) order
    counters: Mapping[str, Counter]  # the customer's counters by key
    named_locks: Mapping[str, Lock | None]  # Want.lock_ids → the lock (any owner) or None
    claims: Mapping[str, int | None]  # Want.keys → claimed until (ms), None if never claimed
    seqs: Mapping[str, tuple[int, ...]]  # Want.seqs, reserved, ascending
    catalogue: Catalogue
    revision: Hashable | None = None  # stores that recall (MemoryStore): read with this state

    def after(self, effects: Effects) -> CustomerState:
        """What a load of the same Want returns once a store has applied `effects`."""
        customer = self.customer
        if effects.customer is not None and effects.customer.id == self.customer_id:
            customer = effects.customer
        entities = dict(self.entities)
        for entity in effects.entities:
            if entity.customer_id == self.customer_id and entity.id in entities:
                entities[entity.id] = entity
        grants = {g.id: g for g in self.grants}
        for grant in effects.grants:
            if grant.customer_id == self.customer_id:
                grants[grant.id] = grant
        for gid in effects.deleted_grants:
            grants.pop(gid, None)
        locks = {lk.lock_id: lk for lk in self.locks}
        named = dict(self.named_locks)
        for lock in effects.locks:
            if lock.customer_id == self.customer_id:
                locks[lock.lock_id] = lock
            if lock.lock_id in named:
                named[lock.lock_id] = lock
        for lid in effects.deleted_locks:
            locks.pop(lid, None)
            if lid in named:
                named[lid] = None
        counters = dict(self.counters)
        for counter in effects.counters:
            if counter.customer_id == self.customer_id:
                counters[counter.key] = counter
        if customer is None or not controlled(customer, entities):
            counters = {}  # a load reads them only where billing controls may
        claims = dict(self.claims)
        for key, until in effects.claims:
            if key in claims:
                claims[key] = until
        return CustomerState(
            self.customer_id,
            customer,
            entities,
            tuple(sorted(grants.values(), key=lambda g: (g.seq, g.id))),
            tuple(sorted(locks.values(), key=lambda lk: (lk.created_at, lk.lock_id))),
            dict(sorted(counters.items())),
            named,
            claims,
            self.seqs,
            self.catalogue.with_features(effects.features),
            self.revision,
        )
