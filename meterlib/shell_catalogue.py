"""The shell of the catalogue calls beyond create: load → decide → apply, and the pages.

An edit loads what its decision reads in one write transaction, decides (pure), then
applies the decision's `Effects` and `CatalogueEdits` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from meterlib import operation
from meterlib.arguments.catalogue_edits import EntityRef, FeatureChange, PageQuery, cursor_of
from meterlib.catalogue_edits import CustomerPage, Edit, EntityPage
from meterlib.effects import Decision
from meterlib.errors import CustomerNotFound
from meterlib.models import Feature
from meterlib.notifications import Outbox
from meterlib.operations import catalogue_edits as decide
from meterlib.quantity import exact_arithmetic
from meterlib.rules.context import Context
from meterlib.shell_setup import Holds, context, detached, now
from meterlib.state import Catalogue
from meterlib.stores.protocol import StoreSession

R = TypeVar("R")
S = TypeVar("S")


def edit(
    ledger: Holds,
    load: Callable[[StoreSession], S],
    decide: Callable[[S, Context], Edit[R]],
) -> R:
    """`load(tx)`, then `decide(loaded, ctx)` (asked again with what it asks for), then its
    effects and edits applied, in one write transaction; notifications after the commit."""
    ctx = context(ledger, now(ledger))
    store = ledger.store
    with Outbox(ledger._notifier) as outbox, exact_arithmetic(), store.transaction() as tx:
        loaded = load(tx)
        made = operation.decided(
            tx, ctx, lambda c: Decision(decide(loaded, c)), ledger.approve_topup
        ).result
        if made.effects:
            tx.apply(made.effects)
        tx.apply_edits(made.edits)
        outbox.extend(made.notifications)
    return made.result


def delete_customer(ledger: Holds, ref: EntityRef) -> None:
    """The customer and all it owns removed."""
    edit(
        ledger,
        lambda tx: tx.load(ref.want()),
        lambda state, _: decide.decide_delete_customer(state),
    )


def delete_entity(ledger: Holds, ref: EntityRef) -> None:
    """The entity, its grants and its locks removed."""
    entity_id = ref.entity_id
    assert entity_id is not None
    edit(
        ledger,
        lambda tx: tx.load(ref.want()),
        lambda state, ctx: decide.decide_delete_entity(state, ctx, entity_id),
    )


def update_feature(ledger: Holds, change: FeatureChange) -> Feature:
    """The feature with the fields given replaced."""

    def decided(catalogue: Catalogue, _: Context) -> Edit[Feature]:
        return decide.decide_update_feature(
            catalogue,
            change.feature_id,
            name=change.name,
            event_names=change.event_names,
            credit_schema=change.credit_schema,
        )

    return detached(edit(ledger, lambda tx: tx.catalogue(), decided))


def delete_feature(ledger: Holds, feature_id: str) -> None:
    """The feature removed, unless something live uses it."""
    edit(
        ledger,
        lambda tx: (tx.catalogue(), tx.feature_users(feature_id)),
        lambda loaded, ctx: decide.decide_delete_feature(*loaded, feature_id, ctx.now),
    )


def customers(ledger: Holds, query: PageQuery) -> CustomerPage:
    """A page of customers in id order."""
    after = None if query.after is None else query.after[0]
    with ledger.store.transaction(write=False) as tx:
        found = tx.page_customers(after=after, limit=query.limit + 1)
    page = tuple(found[: query.limit])
    more = len(found) > query.limit and page
    return CustomerPage(
        customers=detached(page),
        next_cursor=cursor_of("customers", (page[-1].id,)) if more else None,
    )


def entities(ledger: Holds, query: PageQuery) -> EntityPage:
    """A page of entities in (customer id, entity id) order (CustomerNotFound for an
    unknown customer named)."""
    after = None if query.after is None else (query.after[0], query.after[1])
    owner = query.customer_id
    if owner is not None and after is not None and after[0] != owner:
        # a cursor of another listing: the stores take one of this customer's only
        if after[0] > owner:
            return EntityPage(entities=(), next_cursor=None)
        after = None
    with ledger.store.transaction(write=False) as tx:
        if query.customer_id is not None and tx.get_customer(query.customer_id) is None:
            raise CustomerNotFound(query.customer_id)
        found = tx.page_entities(customer_id=query.customer_id, after=after, limit=query.limit + 1)
    page = tuple(found[: query.limit])
    more = len(found) > query.limit and page
    last = page[-1] if page else None
    return EntityPage(
        entities=detached(page),
        next_cursor=cursor_of("entities", (last.customer_id, last.id)) if more and last else None,
    )
