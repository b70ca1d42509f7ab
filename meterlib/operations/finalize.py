"""Finalize: settle a lock at what it held (or an override), or release it. Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from meterlib.effects import Decision
from meterlib.errors import LockNotFound
from meterlib.operations.catch_up import open_working
from meterlib.quantity import ZERO
from meterlib.rules.context import Context
from meterlib.state import CustomerState, Want


class FinalizeArgs(NamedTuple):
    """A validated finalize request."""

    lock_id: str
    action: str  # "confirm" or "release"
    override: Decimal | None
    properties: dict[str, object] | None


def want_of(customer_id: str, lock_id: str) -> Want:
    """What a finalize loads once it knows the lock's owner: the lock (a finalize at the held
    value records no event, so its number is asked for when needed; see `check.want_of`)."""
    return Want(customer_id, (), (), (lock_id,))


def decide_finalize(state: CustomerState, ctx: Context, args: FinalizeArgs) -> Decision[None]:
    """Settle the lock: give back what it held beyond the final value, deduct what the final
    value adds, record the difference as an event, react (limits, alerts, top-ups)."""
    working = open_working(state, ctx, write=True, notify=True)
    lock = working.named_lock(args.lock_id)  # an expired lock was just released by catch-up
    if lock is None:
        raise LockNotFound(args.lock_id)
    if args.action == "release":
        final = ZERO
    else:
        final = args.override if args.override is not None else lock.value
    props = args.properties
    working.settle_lock(lock, final_value=final, properties=props, at=ctx.now)
    locked = state.catalogue.by_id.get(lock.feature_id)
    working.settle(
        [locked] if locked is not None else [],
        lock.entity_id,
        props if props is not None else lock.properties,
    )
    return Decision(None, working.effects(), working.notifications())
