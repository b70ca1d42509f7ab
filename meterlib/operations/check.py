"""Check: which one pool is judged, whether it allows the amount, and the check's decisions.

`decide_plain_check` answers from a read (and says how long the answer may be recalled);
`decide_deducting_check` (send_event or lock) deducts all of the amount or nothing. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from meterlib.effects import NO_EFFECTS, Decision
from meterlib.errors import AlreadyExists, InvalidRequest
from meterlib.models import Feature, Grant, Lock, LockItem
from meterlib.operations.catch_up import customer_of, entity_of, feature_of, open_working
from meterlib.operations.track import picked_pool
from meterlib.quantity import ZERO
from meterlib.results import CheckDetails, CheckResult, Preview, check_result
from meterlib.rules.balances import balance_of, flag_of
from meterlib.rules.context import Context
from meterlib.rules.deduction import REJECT, Change
from meterlib.rules.view import View
from meterlib.rules.working import Working
from meterlib.state import CustomerState, Want


def is_allowed(
    subject: Working,
    feature: Feature,
    entity_id: str | None,
    required: Decimal,
    *,
    properties: Mapping[str, Any] | None = None,
    member: Feature | None = None,
    usable: list[Grant] | None = None,
) -> bool:
    """autumn-check-track §5.5 over the usable grants of one pool; `member` is the feature
    asked about when `feature` is a credit system judged for it (its usage limits gate).
    `usable` is `subject.rows((feature.id,), entity_id)[0]` when the caller has it already."""
    if usable is None:
        usable, _ = subject.rows((feature.id,), entity_id)
    if not usable or feature.type == "boolean":
        return bool(usable)  # a flag is allowed when the subject has a live grant of it
    if subject.controlled(entity_id):
        assert subject.controls is not None
        verdict = subject.controls.judge(
            subject, feature, entity_id, required, properties=properties, member=member
        )
        return verdict.allowed
    if required < 0:
        return True
    # one pass: this runs in front of every gated request
    remaining = overage = ZERO
    room: Decimal | None = None  # Σ max_purchase of the overage rows; None: none allow it
    for grant in usable:
        if grant.unlimited:
            return True
        balance = grant.balance
        if balance > 0:
            remaining += balance
            if remaining >= required:
                # nothing below can take it back (overage only adds room), so the rest of
                # the rows, and their rollover lots, need not be summed
                return True
        for lot in grant.rollovers:
            remaining += lot.balance
        if grant.overage_allowed:
            if grant.max_purchase is None:
                return True  # uncapped overage
            room = (room or ZERO) + grant.max_purchase
        if balance < 0:
            overage -= balance
    if room is None:
        return remaining >= required
    return max(ZERO, room - overage) + remaining >= required


def judged_pool(
    subject: Working,
    feature: Feature,
    entity_id: str | None,
    required: Decimal,
    *,
    properties: Mapping[str, Any] | None = None,
) -> Feature:
    """The one pool a check judges: the feature or one of its credit systems (§5.4).

    Autumn picks a credit system by the unconverted amount, then judges it by the converted
    one; meterlib keeps that quirk so answers match.
    """
    pools = subject.catalogue.credit_systems_of(feature)
    if not pools:
        return feature
    own = subject.has_any(feature, entity_id, display=False)
    if own and is_allowed(subject, feature, entity_id, required, properties=properties):
        return feature
    owned: Feature | None = None
    for pool in pools:
        if subject.has_any(pool, entity_id, display=False):
            owned = owned or pool
            if is_allowed(
                subject, pool, entity_id, required, properties=properties, member=feature
            ):
                return pool
    if owned is not None:
        return owned
    return feature if own else pools[0]


def denial_preview(feature: Feature, *, had_balance: bool) -> Preview:
    """What a denied check shows (plans are out of scope, so no products are offered)."""
    name = feature.name or feature.id
    if had_balance:
        return Preview(
            scenario="usage_limit",
            title=f"{name} limit reached",
            message=f"You have reached your {name} limit. Add more {name} to continue.",
            feature_id=feature.id,
            feature_name=name,
        )
    return Preview(
        scenario="feature_flag",
        title="Feature Unavailable",
        message=f"Your current plan does not include {name}.",
        feature_id=feature.id,
        feature_name=name,
    )


def check_details(judged: Judged, allowed: bool, preview: bool) -> CheckDetails:
    """What a check that deducted nothing shows: the `judged` pool's balance (or flag), and a
    preview when it was denied and one was asked for."""
    feature, pool, usable, extra = judged
    if pool.type == "boolean":
        shown, flag = None, flag_of(pool, usable)
    else:
        shown, flag = balance_of(pool, usable, extra), None
    why = None
    if preview and not allowed:
        why = denial_preview(feature, had_balance=shown is not None or flag is not None)
    return shown, flag, why, None


def deducted_details(
    view: View, feature: Feature, entity_id: str | None, changes: Sequence[Change]
) -> CheckDetails:
    """What a check that deducted shows: the balance of the pool it drew on, and every pool's
    balance when the feature belongs to a credit system."""
    relevant = view.catalogue.relevant(feature)
    after = {f.id: view.balance(f, entity_id) for f in relevant}
    shown = after.get(picked_pool(view, feature, changes, entity_id).id)
    if shown is None:
        shown = after.get(feature.id)
    return shown, None, None, after if len(relevant) > 1 else None


def want_of(customer_id: str, entity_id: str | None, lock_id: str | None, deducting: bool) -> Want:
    """What a check loads: its subject, and the lock id a locking one would open. No event
    number is reserved: a denied check records no event, and a number reserved and left
    unused would be skipped by one store and handed out again by another (the event ids
    of every store must agree), so an allowed one asks for its number."""
    return Want(
        customer_id,
        () if entity_id is None else (entity_id,),
        (),
        () if lock_id is None or not deducting else (lock_id,),
    )


Judged = tuple[Feature, Feature, list[Grant], list[Grant]]  # asked, pool, usable, displayed


def judged(subject: Working, feature: Feature, args: CheckArgs) -> tuple[Judged, Decimal]:
    """The pool a check judges, with its rows as they are now, and the amount converted to
    that pool's units."""
    pool = judged_pool(subject, feature, args.entity_id, args.required, properties=args.properties)
    converted = args.required * subject.catalogue.cost(feature, pool)
    usable, extra = subject.rows((pool.id,), args.entity_id)
    return (feature, pool, usable, extra), converted


def answer(
    args: CheckArgs,
    judged: Judged,
    required: Decimal,
    *,
    allowed: bool,
    details: Callable[[], CheckDetails] | None = None,
) -> CheckResult:
    """A check's result; unless `details` says otherwise, it shows the `judged` pool's rows
    as they were read."""
    preview = args.with_preview
    return check_result(
        allowed=allowed,
        customer_id=args.customer_id,
        entity_id=args.entity_id,
        feature_id=judged[0].id,
        required_balance=required,
        with_preview=preview,
        details=details
        # positional: a partial with keywords builds a dict on every check
        or partial(check_details, judged, allowed, preview),
    )


class CheckArgs(NamedTuple):
    """A validated check request."""

    customer_id: str
    feature_id: str
    entity_id: str | None
    required: Decimal
    properties: dict[str, Any]
    held: tuple[str, int | None] | None  # lock: (lock_id, expires_at)
    with_preview: bool


def decide_plain_check(
    state: CustomerState, ctx: Context, args: CheckArgs, *, recalled: bool = True
) -> Decision[CheckResult]:
    """A check that deducts nothing. `remember` (when `recalled`: the store can answer it
    again): until when the answer holds while the customer does not change (False: not at
    all: billing controls keep counters over windows, and locks expire, neither of which a
    store's revision covers)."""
    feature = feature_of(state.catalogue, args.feature_id)
    entity_id = args.entity_id
    if entity_id is not None:  # without one, `open_working` raises CustomerNotFound
        customer_of(state)
        entity_of(state, entity_id)
    subject = open_working(state, ctx, write=False)
    seen, converted = judged(subject, feature, args)
    _, pool, usable, _ = seen
    allowed = is_allowed(
        subject,
        pool,
        entity_id,
        converted,
        properties=args.properties,
        member=feature,
        usable=usable,
    )
    result = answer(args, seen, converted, allowed=allowed)
    if not recalled or subject.locked or subject.controlled(entity_id):
        return Decision(result)
    return Decision(result, NO_EFFECTS, (), None, subject.settled_until())


def decide_deducting_check(
    state: CustomerState, ctx: Context, args: CheckArgs
) -> Decision[CheckResult]:
    """A check with `send_event` or `lock`: it deducts all of the amount or nothing."""
    feature = feature_of(state.catalogue, args.feature_id)
    held = args.held
    if feature.type == "boolean":
        raise InvalidRequest(
            "send_event cannot be used with boolean features, which are flags rather "
            "than usage-tracked",
            code="invalid_request",
        )
    if held is not None and feature.type == "metered" and not feature.consumable:
        raise InvalidRequest("Lock is not supported for allocated features", code="invalid_request")
    customer_of(state)
    entity_id, props, required = args.entity_id, args.properties, args.required
    entity_of(state, entity_id)
    subject = open_working(state, ctx, write=True, notify=True)
    seen, converted = judged(subject, feature, args)
    _, _, usable, extra = seen

    def result(allowed: bool, details: Callable[[], CheckDetails] | None = None) -> CheckResult:
        # by default it shows the judged pool as it was before any deduction
        return answer(args, seen, converted, allowed=allowed, details=details)

    if held is not None and subject.named_lock(held[0]) is not None:
        raise AlreadyExists(
            f"A lock with ID {held[0]!r} already exists; finalize it or use a new lock_id"
        )
    # a denial writes nothing but what catching up did (an expired lock released)
    if not usable and not extra and required > 0:
        return Decision(result(False), subject.effects(), subject.notifications())
    outcome = subject.deduct(feature, required, entity_id, REJECT, props)
    if outcome.leftover > 0:
        return Decision(result(False), subject.effects(), subject.notifications())
    subject.apply(outcome.grants)
    subject.record_event(
        feature_id=feature.id,
        event_name=None,
        entity_id=entity_id,
        value=required,
        properties=props,
        timestamp=ctx.now,
        changes=outcome.changes,
    )
    if held is not None:
        subject.put_lock(lock_of(args, feature, outcome.changes, ctx.now))
    subject.settle([feature], entity_id, props)
    details = partial(deducted_details, subject.snapshot(), feature, entity_id, outcome.changes)
    return Decision(result(True, details), subject.effects(), subject.notifications())


def lock_of(args: CheckArgs, feature: Feature, changes: Sequence[Change], now: int) -> Lock:
    """The lock a deducting check opens: exactly what it took, item by item."""
    assert args.held is not None
    return Lock(
        lock_id=args.held[0],
        customer_id=args.customer_id,
        feature_id=feature.id,
        entity_id=args.entity_id,
        value=args.required,
        items=tuple(
            LockItem(
                grant_id=c.grant_id,
                rollover_id=c.rollover_id,
                cost=c.cost,
                balance_delta=c.balance_delta,
                value_delta=c.value_delta,
            )
            for c in changes
        ),
        created_at=now,
        expires_at=args.held[1],
        properties=args.properties,
    )
