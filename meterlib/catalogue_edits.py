"""What the catalogue calls beyond create write and read: feature changes, removals, pages.

A decision of `operations/catalogue_edits.py` returns an `Edit`: its result, the `Effects`
every store already writes (grants and locks that go with an entity), and the
`CatalogueEdits` a store applies with `StoreSession.apply_edits`. Kept apart from
`Effects`, which every check and track builds: these calls are rare.
"""

from __future__ import annotations

from collections.abc import Callable
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


def entity_page_params(customer_id: str | None, after: tuple[str, str] | None) -> list[str]:
    """The SQL parameters of a `page_entities` filter, in the order its WHERE names them:
    the customer, then the key to start after (just the entity id within one customer)."""
    params = [] if customer_id is None else [customer_id]
    if after is not None:
        params += [after[1]] if customer_id is not None else list(after)
    return params


class _Lists(Protocol):
    def list_customers(self, *, limit: int = ..., cursor: str | None = ...) -> CustomerPage: ...
    def list_entities(
        self, customer_id: str | None = ..., *, limit: int = ..., cursor: str | None = ...
    ) -> EntityPage: ...


T = TypeVar("T")


def _all(page_of: Callable[[str | None], tuple[tuple[T, ...], str | None]]) -> list[T]:
    found: list[T] = []
    cursor: str | None = None
    while True:
        items, cursor = page_of(cursor)
        found += items
        if cursor is None:
            return found


def every_customer(ledger: _Lists) -> list[Customer]:
    """Every customer in id order, page after page (for callers that want them all)."""

    def page_of(cursor: str | None) -> tuple[tuple[Customer, ...], str | None]:
        page = ledger.list_customers(limit=1000, cursor=cursor)
        return page.customers, page.next_cursor

    return _all(page_of)


def every_entity(ledger: _Lists) -> list[Entity]:
    """Every entity of every customer, in (customer id, id) order, page after page."""

    def page_of(cursor: str | None) -> tuple[tuple[Entity, ...], str | None]:
        page = ledger.list_entities(limit=1000, cursor=cursor)
        return page.entities, page.next_cursor

    return _all(page_of)
