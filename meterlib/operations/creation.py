"""Create: add a grant, making a missing customer, entity or metered feature on the way. Pure.

The arguments arrive validated on their own (`CreateArgs`); what depends on the catalogue
and the customer (the feature's type, an entity's own feature, a balance id in use, a flag
granted twice) is decided here, before anything is written. A new feature's number is asked
for (`Asks`), the grant's comes with the load.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from meterlib.effects import Asks, Decision, Effects
from meterlib.errors import AlreadyExists, InvalidRequest
from meterlib.instants import to_datetime
from meterlib.models import ONE_OFF, Customer, Entity, Feature, Grant, RolloverRule
from meterlib.operations.catch_up import open_working
from meterlib.quantity import ZERO
from meterlib.results import Balance
from meterlib.rules import resets
from meterlib.rules.context import Asked, Context
from meterlib.state import CustomerState, Want


class CreateArgs(NamedTuple):
    """A validated create request (its cross-field rules checked against the clock)."""

    customer_id: str
    feature_id: str
    entity_id: str | None
    included: Decimal | None
    unlimited: bool
    interval: str  # ONE_OFF when no reset was given
    interval_count: int
    scheduled: bool  # whether a reset was given
    rollover: RolloverRule | None
    expires_at: int | None
    next_reset_at: int | None
    balance_id: str | None
    overage_allowed: bool
    max_purchase: Decimal | None
    plan_id: str | None

    def want(self) -> Want:
        """What a create loads: the customer, the entity, one grant number."""
        entities = () if self.entity_id is None else (self.entity_id,)
        return Want(self.customer_id, entities, seqs=(("grant", 1),))


def refused(message: str) -> InvalidRequest:
    """Autumn's invalid_request for a create it will not make."""
    return InvalidRequest(message, code="invalid_request")


def _made(state: CustomerState, ctx: Context, args: CreateArgs) -> tuple[Feature, Effects]:
    """The feature, and the feature, customer and entity create makes when they are missing."""
    feature = state.catalogue.by_id.get(args.feature_id)
    features: tuple[Feature, ...] = ()
    if feature is None:
        seqs = ctx.seqs.get("feature")
        if not seqs:
            raise Asked(Asks(seqs=(("feature", 1),)))
        feature = Feature(id=args.feature_id, seq=seqs[0])
        features = (feature,)
    customer = None
    if state.customer is None:
        customer = Customer(id=args.customer_id, created_at=to_datetime(ctx.now))
    entities: tuple[Entity, ...] = ()
    if args.entity_id is not None:
        entity = state.entities.get(args.entity_id)
        if entity is None:
            entity = Entity(
                id=args.entity_id, customer_id=args.customer_id, created_at=to_datetime(ctx.now)
            )
            entities = (entity,)
        if entity.feature_id == args.feature_id:
            raise refused("Cannot give an entity a balance of its own feature type")
    return feature, Effects(features=features, customer=customer, entities=entities)


def _checked(feature: Feature, args: CreateArgs) -> tuple[str, int, int | None]:
    """The grant's interval, count and first reset, once the feature's type allows the rest."""
    interval, count, first_reset = args.interval, args.interval_count, args.next_reset_at
    if feature.type == "boolean":
        given = args.included is not None or args.unlimited or args.scheduled
        if given or args.rollover is not None:
            raise InvalidRequest(
                f"feature {feature.id} is boolean: it takes no included, unlimited, "
                "reset or rollover",
                field="included",
            )
    elif feature.type == "metered":
        if (args.included is None) == (not args.unlimited):
            raise InvalidRequest(
                f"included: a metered grant needs exactly one of included= or "
                f"unlimited=True (feature {feature.id})",
                field="included",
            )
        if not feature.consumable:
            if args.rollover is not None:
                raise refused("Rollover is not supported for continuous use features")
            interval, count, first_reset = ONE_OFF, 1, None
    return interval, count, first_reset


def decide_create(state: CustomerState, ctx: Context, args: CreateArgs) -> Decision[Balance | None]:
    """The new grant (and whatever it needed made); the subject's balance of the feature
    after it (None for a flag)."""
    feature, made = _made(state, ctx, args)
    interval, count, first_reset = _checked(feature, args)
    subject = open_working(state.after(made), ctx, write=True)
    balance_id, entity_id = args.balance_id, args.entity_id
    if balance_id is not None and any(
        balance_id in (g.balance_id, g.id) for g in subject.loaded.values()
    ):
        raise AlreadyExists(f"balance_id '{balance_id}' is already in use for this customer")
    if feature.type == "boolean" and subject.flag(feature, entity_id) is not None:
        raise AlreadyExists(
            f"A boolean entitlement {feature.id} already exists for customer {args.customer_id}"
        )
    now, unlimited, amount = ctx.now, args.unlimited, args.included
    anchor, period, next_at = (
        resets.new_schedule(interval, count, created_at=now, first_reset_at=first_reset)
        if not unlimited
        else (None, 0, None)
    )
    seq = subject.take_seq("grant")
    subject.add(
        Grant(
            id=f"grant_{seq}",
            seq=seq,
            customer_id=args.customer_id,
            feature_id=feature.id,
            entity_id=entity_id,
            balance_id=balance_id,
            plan_id=args.plan_id,
            included=amount or ZERO,
            unlimited=unlimited,
            interval=interval,
            interval_count=count,
            anchor=anchor,
            period=period,
            next_reset_at=next_at,
            rollover=args.rollover,
            balance=ZERO if unlimited else (amount or ZERO),
            expires_at=args.expires_at,
            created_at=now,
            overage_allowed=args.overage_allowed,
            max_purchase=args.max_purchase,
        )
    )
    result = None if feature.type == "boolean" else subject.balance(feature, entity_id)
    return Decision(result, made | subject.effects())
