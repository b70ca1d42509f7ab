"""Deleting customers, entities and features, and changing features. Pure.

A customer goes with everything it owns. An entity goes with its own grants and the locks
it holds (released first); its events stay (they are the customer's history). A feature
goes only while nothing live names it: no credit system lists it, no grant of it is live,
no entity is of it, no lock holds it; its expired grants go with it, as nothing could show
them any more.
"""

from __future__ import annotations

import json
from decimal import Decimal

from attrs import evolve

from meterlib.catalogue_edits import CatalogueEdits, Edit, FeatureUsers
from meterlib.controls.windows import WINDOW_PREFIX
from meterlib.effects import Effects
from meterlib.errors import InvalidRequest
from meterlib.models import Counter, Feature
from meterlib.operations.catch_up import customer_of, entity_of, feature_of, open_working
from meterlib.quantity import ZERO
from meterlib.rules.context import Context
from meterlib.state import Catalogue, CustomerState


def decide_delete_customer(state: CustomerState) -> Edit[None]:
    """The customer removed with all it owns (CustomerNotFound if it is not there)."""
    customer_of(state)
    return Edit(None, edits=CatalogueEdits(deleted_customers=(state.customer_id,)))


def decide_delete_entity(state: CustomerState, ctx: Context, entity_id: str) -> Edit[None]:
    """The entity removed with its grants; the locks it holds are released first, so what
    they held from the customer's grants comes back (its events stay, a release's too)."""
    customer_of(state)
    entity_of(state, entity_id)
    grants = Effects(
        deleted_grants=tuple(g.id for g in state.grants if g.entity_id == entity_id),
        counters=_emptied_windows(state, entity_id),
    )
    edits = CatalogueEdits(deleted_entities=((state.customer_id, entity_id),))
    held = [lk for lk in state.locks if lk.entity_id == entity_id]
    if not held:
        return Edit(None, grants, edits)
    working = open_working(state, ctx, write=True, notify=True)
    for lock in held:
        if lock.lock_id not in working.deleted_locks:  # else its expiry released it
            current = working.put_locks.get(lock.lock_id, lock)
            working.settle_lock(current, final_value=ZERO, properties=None, at=ctx.now)
    return Edit(None, working.effects() | grants, edits, working.notifications())


def _emptied_windows(state: CustomerState, entity_id: str) -> tuple[Counter, ...]:
    """The entity's own usage windows, counting nothing again: the same id made anew starts
    from nothing (the entity's controls load them; stores keep counters by customer)."""
    prefix = f"{WINDOW_PREFIX}:"
    return tuple(
        Counter(customer_id=c.customer_id, key=c.key)
        for c in state.counters.values()
        if c.key.startswith(prefix) and json.loads(c.key[len(prefix) :])[0] == entity_id
    )


def decide_update_feature(
    catalogue: Catalogue,
    feature_id: str,
    *,
    name: str | None,
    event_names: tuple[str, ...] | None,
    credit_schema: dict[str, Decimal] | None,
) -> Edit[Feature]:
    """The feature with the fields given replaced (a schema only on a credit system)."""
    feature = feature_of(catalogue, feature_id)
    if credit_schema is not None and feature.type != "credit_system":
        raise InvalidRequest(
            f"credit_schema: only a credit_system has one; {feature_id!r} is a "
            f"{feature.type} feature",
            field="credit_schema",
            code="invalid_request",
        )
    if credit_schema is not None and feature_id in credit_schema:
        raise InvalidRequest(
            f"credit_schema: a credit system cannot list itself ({feature_id!r})",
            field="credit_schema",
            code="invalid_request",
        )
    changed = evolve(
        feature,
        name=feature.name if name is None else name,
        event_names=feature.event_names if event_names is None else event_names,
        credit_schema=feature.credit_schema if credit_schema is None else credit_schema,
    )
    if changed == feature:
        return Edit(feature)
    return Edit(changed, edits=CatalogueEdits(features=(changed,)))


def decide_delete_feature(
    catalogue: Catalogue, users: FeatureUsers, feature_id: str, now: int
) -> Edit[None]:
    """The feature removed with its expired grants; InvalidRequest (invalid_request) naming
    what still uses it otherwise."""
    feature = feature_of(catalogue, feature_id)
    systems = [c.id for c in catalogue.credit_systems_of(feature)]
    live = [g for g in users.grants if g.live_at(now)]
    using = (
        f"credit system {systems[0]!r} lists it: take it out of that credit_schema first"
        if systems
        else f"customer {live[0].customer_id!r} has a live grant of it ({live[0].id!r}): "
        "delete its grants first"
        if live
        else f"entity {users.entities[0].id!r} of customer {users.entities[0].customer_id!r} "
        "is of it: delete the entity first"
        if users.entities
        else f"lock {users.locks[0].lock_id!r} holds it: finalize the lock first"
        if users.locks
        else None
    )
    if using is not None:
        raise InvalidRequest(
            f"feature {feature_id!r} is in use and cannot be deleted: {using}",
            field="feature_id",
            code="invalid_request",
        )
    return Edit(
        None,
        Effects(deleted_grants=tuple(g.id for g in users.grants)),
        CatalogueEdits(deleted_features=(feature_id,)),
    )
