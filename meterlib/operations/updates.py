"""Update: change grants of a feature with Autumn's target/delta algorithm. Pure.

The targets are the subject's usable grants of the feature (narrowed by interval or
balance id); a remaining/add_to_balance or usage target is spread over them in deduction
order, an included target adjusts the first, and the reset or expiry moves the earliest.
Limits reached and usage alerts are told; no top-up runs (Autumn's update runs none).
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from attrs import evolve

from meterlib.effects import Decision
from meterlib.errors import BalanceNotFound, InvalidRequest
from meterlib.models import ONE_OFF, Feature, Grant
from meterlib.operations.catch_up import customer_of, entity_of, feature_of, open_working
from meterlib.quantity import ZERO
from meterlib.results import Balance
from meterlib.rules import resets
from meterlib.rules.context import Context
from meterlib.rules.deduction import apply_allowing
from meterlib.rules.working import Working
from meterlib.state import CustomerState, Want


class UpdateArgs(NamedTuple):
    """A validated update request."""

    customer_id: str
    feature_id: str
    entity_id: str | None
    remaining: Decimal | None
    delta: Decimal | None  # add_to_balance
    usage: Decimal | None
    included: Decimal | None
    interval: str | None
    balance_id: str | None
    next_reset_at: int | None
    expires_at: int | None

    def want(self) -> Want:
        """What an update loads."""
        return Want(self.customer_id, () if self.entity_id is None else (self.entity_id,))


def _targets(
    subject: Working,
    feature: Feature,
    entity_id: str | None,
    *,
    interval: str | None,
    balance_id: str | None,
) -> list[Grant]:
    usable, _ = subject.rows((feature.id,), entity_id)
    return [
        g
        for g in usable
        if (interval is None or g.interval == interval)
        and (balance_id is None or balance_id in (g.public_id, g.id))
    ]


def decide_update(state: CustomerState, ctx: Context, args: UpdateArgs) -> Decision[Balance | None]:
    """The grants changed as the arguments say; the feature's balance after."""
    feature = feature_of(state.catalogue, args.feature_id)
    customer_of(state)
    entity_of(state, args.entity_id)
    subject = open_working(state, ctx, write=True, notify=True)
    customer_id, feature_id, entity_id = args.customer_id, args.feature_id, args.entity_id
    selector, balance_id = args.interval, args.balance_id
    target_remaining, delta, target_usage = args.remaining, args.delta, args.usage
    target_grant, new_reset, new_expiry = args.included, args.next_reset_at, args.expires_at
    targets = _targets(subject, feature, entity_id, interval=selector, balance_id=balance_id)
    if not targets:
        raise BalanceNotFound(
            f"No balances to update for feature {feature_id}, customer {customer_id}"
            + (f", entity {entity_id}" if entity_id else "")
            + (f", interval {selector}" if selector else "")
            + (f", balance_id {balance_id}" if balance_id else "")
        )
    first = targets[0]
    if target_remaining is not None or delta is not None:
        if first.unlimited:
            value = (
                target_remaining
                if target_remaining is not None
                else first.balance + (delta or ZERO)
            )
            subject.apply({first.id: evolve(first, balance=value)})
        else:
            amount = (
                -(delta or ZERO)
                if target_remaining is None
                else sum((g.balance for g in targets), ZERO) - target_remaining
            )
            subject.apply(apply_allowing(targets, amount))
        targets = [subject.grants[g.id] for g in targets]
    if target_usage is not None:
        if targets[0].unlimited:
            subject.apply({targets[0].id: evolve(targets[0], balance=-target_usage)})
        else:
            grant_total = sum((g.included_grant for g in targets), ZERO)
            amount = sum((g.balance for g in targets), ZERO) - (grant_total - target_usage)
            subject.apply(apply_allowing(targets, amount))
        targets = [subject.grants[g.id] for g in targets]
    if target_grant is not None:
        head = targets[0]
        adjustment = target_grant - sum((g.included for g in targets), ZERO)
        subject.apply({head.id: evolve(head, adjustment=adjustment)})
        targets = [subject.grants[g.id] for g in targets]
    if new_reset is not None:
        target = min(
            targets,
            key=lambda g: (g.next_reset_at is None, g.next_reset_at or 0),
        )
        if target.interval == ONE_OFF or target.unlimited:
            raise InvalidRequest(
                f"Cannot update next reset at for lifetime balance (feature {feature_id},"
                f" customer {customer_id})",
                code="invalid_request",
            )
        if target.expires_at is not None and new_reset >= target.expires_at:
            raise InvalidRequest(
                "next_reset_at must occur before expires_at", code="invalid_request"
            )
        subject.apply({target.id: resets.reanchor(target, new_reset)})
        targets = [subject.grants[g.id] for g in targets]
    if new_expiry is not None:
        target = min(targets, key=lambda g: (g.expires_at is None, g.expires_at or 0))
        subject.apply({target.id: evolve(target, expires_at=new_expiry)})
    subject.settle([feature], entity_id, None, topups=False)
    result = subject.balance(feature, entity_id)
    return Decision(result, subject.effects(), subject.notifications())
