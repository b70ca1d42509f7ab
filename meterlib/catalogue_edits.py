"""What the catalogue calls beyond create write and read: feature changes, removals, pages.

A decision of `operations/catalogue_edits.py` returns an `Edit`: its result, the `Effects`
every store already writes (grants and locks that go with an entity), and the
`CatalogueEdits` a store applies with `StoreSession.apply_edits`. Kept apart from
`Effects`, which every check and track builds: these calls are rare.
"""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from attrs import frozen

from meterlib.effects import NO_EFFECTS, Effects
from meterlib.models import Customer, Entity, Feature, Grant, Lock
from meterlib.notifications import Notification

R = TypeVar("R")


class CatalogueEdits(NamedTuple):
    """Catalogue rows replaced or removed by one call."""

    features: tuple[Feature, ...] = ()  # replaced by id (an update keeps the seq)
    deleted_features: tuple[str, ...] = ()
    # with every row they own: entities, grants, locks, counters, events
    deleted_customers: tuple[str, ...] = ()
    deleted_entities: tuple[tuple[str, str], ...] = ()  # (customer_id, id): the entity row


NO_EDITS = CatalogueEdits()


class FeatureUsers(NamedTuple):
    """Every stored row that names a feature (what `delete_feature` decides over)."""

    grants: tuple[Grant, ...] = ()  # of every customer, expired ones too
    entities: tuple[Entity, ...] = ()  # entities whose feature_id it is
    locks: tuple[Lock, ...] = ()  # open locks on it


class Edit(NamedTuple, Generic[R]):
    """An edit decision's output."""

    result: R
    effects: Effects = NO_EFFECTS
    edits: CatalogueEdits = NO_EDITS
    notifications: tuple[Notification, ...] = ()  # delivered after the commit


@frozen(kw_only=True)
class CustomerPage:
    """One page of customers in id order; pass `next_cursor` back for the next page."""

    customers: tuple[Customer, ...]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        """`{"list": [Customer], "next_cursor": ...}`, as Autumn's list calls answer."""
        return {"list": [c.to_dict() for c in self.customers], "next_cursor": self.next_cursor}


@frozen(kw_only=True)
class EntityPage:
    """One page of entities in (customer id, entity id) order; `next_cursor` as above."""

    entities: tuple[Entity, ...]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        """`{"list": [Entity], "next_cursor": ...}`."""
        return {"list": [e.to_dict() for e in self.entities], "next_cursor": self.next_cursor}


class _ListsCustomers(Protocol):
    def list_customers(self, *, limit: int = ..., cursor: str | None = ...) -> CustomerPage: ...


def every_customer(ledger: _ListsCustomers) -> list[Customer]:
    """Every customer in id order, page after page (for callers that want them all)."""
    found: list[Customer] = []
    cursor: str | None = None
    while True:
        page = ledger.list_customers(limit=1000, cursor=cursor)
        found += page.customers
        cursor = page.next_cursor
        if cursor is None:
            return found
