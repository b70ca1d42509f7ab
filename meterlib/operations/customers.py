"""Customers and entities: create, update, and the reaction to newly written auto top-ups. Pure.

A create returns what is there when the id is taken (Autumn's get-or-create); an update
changes only the fields given, its billing controls patched per key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from attrs import evolve

from meterlib import controls
from meterlib.controls import Controls
from meterlib.controls.reactions import Enforcement
from meterlib.effects import Decision, Effects
from meterlib.instants import to_datetime
from meterlib.models import Customer, Entity
from meterlib.operations.catch_up import customer_of, entity_of, feature_of, open_working
from meterlib.rules.context import Context
from meterlib.state import CustomerState, Want


class CustomerArgs(NamedTuple):
    """A validated create_customer or update_customer request (None: keep the field)."""

    customer_id: str
    name: str | None
    email: str | None
    metadata: dict[str, Any] | None
    billing_controls: controls.Update | None = None

    def want(self) -> Want:
        """What a customer call loads."""
        return Want(self.customer_id)


class EntityArgs(NamedTuple):
    """A validated create_entity or update_entity request."""

    customer_id: str
    entity_id: str
    feature_id: str | None = None
    name: str | None = None
    billing_controls: controls.Update | None = None

    def want(self) -> Want:
        """What an entity call loads."""
        return Want(self.customer_id, (self.entity_id,))


def decide_create_customer(
    state: CustomerState, ctx: Context, args: CustomerArgs
) -> Decision[Customer]:
    """The customer, made if it is not there (one that is is returned as it is)."""
    if state.customer is not None:
        return Decision(state.customer)
    customer = Customer(
        id=args.customer_id,
        name=args.name,
        email=args.email,
        metadata=args.metadata or {},
        created_at=to_datetime(ctx.now),
    )
    return Decision(customer, Effects(customer=customer))


def decide_update_customer(
    state: CustomerState, ctx: Context, args: CustomerArgs
) -> Decision[Customer]:
    """The customer with the fields given changed; newly written auto top-ups react at once."""
    customer = customer_of(state)
    before = customer.billing_controls
    update = args.billing_controls
    customer = evolve(
        customer,
        name=customer.name if args.name is None else args.name,
        email=customer.email if args.email is None else args.email,
        metadata=customer.metadata if args.metadata is None else args.metadata,
        billing_controls=before if update is None else controls.merge(before, update),
    )
    written = Effects(customer=customer)
    if update is None or "auto_topups" not in update.stored:
        return Decision(customer, written)
    # the working copy obeys the new controls
    reacted = decide_configured(
        state.after(written),
        ctx,
        before=Controls.from_stored(before),
        purchase_counts=update.purchase_counts,
    )
    return Decision(customer, written | reacted.effects, reacted.notifications)


def decide_configured(
    state: CustomerState, ctx: Context, *, before: Controls, purchase_counts: Mapping[str, int]
) -> Decision[None]:
    """`auto_topups` were written (the state holds the customer as updated): set runtime
    counts, lift suspensions, and top up the first feature that became enabled."""
    working = open_working(state, ctx, write=True, notify=True)
    enforcement = working.controls
    assert isinstance(enforcement, Enforcement)  # the customer has billing controls now
    enforcement.configured(working, before, purchase_counts, written=True)
    return Decision(None, working.effects(), working.notifications())


def decide_create_entity(state: CustomerState, ctx: Context, args: EntityArgs) -> Decision[Entity]:
    """The customer's entity, made if it is not there (one that is is returned as it is)."""
    customer_of(state)
    if args.feature_id is not None:
        feature_of(state.catalogue, args.feature_id)
    existing = state.entities.get(args.entity_id)
    if existing is not None:
        return Decision(existing)
    entity = Entity(
        id=args.entity_id,
        customer_id=args.customer_id,
        feature_id=args.feature_id,
        name=args.name,
        created_at=to_datetime(ctx.now),
    )
    return Decision(entity, Effects(entities=(entity,)))


def decide_update_entity(state: CustomerState, ctx: Context, args: EntityArgs) -> Decision[Entity]:
    """The entity with its billing controls patched (as it is when none are given)."""
    customer_of(state)
    entity = entity_of(state, args.entity_id)
    assert entity is not None  # an entity id was given
    update = args.billing_controls
    if update is None:
        return Decision(entity)
    entity = evolve(entity, billing_controls=controls.merge(entity.billing_controls, update))
    return Decision(entity, Effects(entities=(entity,)))
