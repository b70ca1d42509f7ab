"""create, update and delete's arguments, with the cross-field rules Autumn applies."""

from __future__ import annotations

from decimal import Decimal

from meterlib import validation
from meterlib.errors import InvalidRequest
from meterlib.instants import optional_ms
from meterlib.intervals import add
from meterlib.models import ONE_OFF
from meterlib.operations.creation import CreateArgs, refused
from meterlib.operations.deletion import DeleteArgs
from meterlib.operations.updates import UpdateArgs


def one_of(field: str, **aliases: object) -> object:
    """The value of whichever alias of `field` was given (InvalidRequest for two)."""
    given = {k: v for k, v in aliases.items() if v is not None}
    if len(given) > 1:
        raise InvalidRequest(f"{field}: pass only one of {', '.join(sorted(given))}", field=field)
    return next(iter(given.values()), None)


def _included(included: object, included_grant: object, granted_balance: object) -> Decimal | None:
    """The included amount, under whichever of Autumn's three names it was given."""
    given = one_of(
        "included",
        included=included,
        included_grant=included_grant,
        granted_balance=granted_balance,
    )
    return validation.non_negative(given, "included")


def create_args(
    now: int,
    customer_id: str,
    feature_id: str,
    *,
    entity_id: str | None,
    included: object,
    included_grant: object,
    granted_balance: object,
    unlimited: bool,
    reset: object,
    rollover: object,
    expires_at: object,
    next_reset_at: object,
    balance_id: str | None,
    overage_allowed: bool,
    max_purchase: object,
    plan_id: str | None,
) -> CreateArgs:
    """`Ledger.create`'s arguments (what depends on the catalogue is the decision's)."""
    customer_id = validation.require_id(customer_id, "customer_id")
    feature_id = validation.require_id(feature_id, "feature_id")
    entity_id = validation.optional_id(entity_id, "entity_id")
    amount = _included(included, included_grant, granted_balance)
    unlimited = validation.flag(unlimited, "unlimited")
    schedule = validation.reset(reset)
    rule = validation.rollover(rollover)
    expiry = optional_ms(expires_at or None, field="expires_at")
    first_reset = optional_ms(next_reset_at, field="next_reset_at")
    balance_id = validation.optional_id(balance_id, "balance_id")
    overage_allowed = validation.flag(overage_allowed, "overage_allowed")
    cap = validation.non_negative(max_purchase, "max_purchase")
    plan_id = validation.optional_id(plan_id, "plan_id")
    interval, count = schedule if schedule is not None else (ONE_OFF, 1)

    if unlimited and schedule is not None and interval != ONE_OFF:
        raise refused("unlimited grants do not reset: pass either unlimited=True or reset=")
    if rule is not None and schedule is None:
        raise refused("Rollover cannot be provided for one-time balances: pass reset= too")
    if (
        rule is not None
        and interval in ("minute", "hour")
        and rule.max is None
        and rule.max_percentage is None
    ):
        # one lot per boundary would pile up tens of thousands of live rollovers a month
        raise refused(
            f"rollover on a {interval} reset needs a cap: pass rollover max or max_percentage"
        )
    if first_reset is not None:
        if interval == ONE_OFF:
            raise refused("next_reset_at requires a reset interval to be provided")
        if first_reset <= now:
            raise refused("next_reset_at must be in the future")
        if expiry is not None and first_reset >= expiry:
            raise refused("next_reset_at must occur before expires_at")
    if expiry is not None and expiry <= now:
        raise refused("expires_at must be in the future")
    if cap is not None and not overage_allowed:
        raise refused("max_purchase caps overage: pass overage_allowed=True with it")
    if rule is not None and expiry is not None and interval != ONE_OFF:  # noqa: SIM102
        # the first rollover falls at the first reset
        if add(now, interval, count) > expiry:
            raise refused("expires_at occurs before the next rollover event")
    return CreateArgs(
        customer_id,
        feature_id,
        entity_id,
        amount,
        unlimited,
        interval,
        count,
        schedule is not None,
        rule,
        expiry,
        first_reset,
        balance_id,
        overage_allowed,
        cap,
        plan_id,
    )


def update_args(
    now: int,
    customer_id: str,
    feature_id: str,
    *,
    entity_id: str | None,
    remaining: object,
    current_balance: object,
    add_to_balance: object,
    usage: object,
    included: object,
    included_grant: object,
    granted_balance: object,
    interval: str | None,
    balance_id: str | None,
    next_reset_at: object,
    expires_at: object,
) -> UpdateArgs:
    """`Ledger.update`'s arguments."""
    customer_id = validation.require_id(customer_id, "customer_id")
    feature_id = validation.require_id(feature_id, "feature_id")
    entity_id = validation.optional_id(entity_id, "entity_id")
    target_remaining = validation.optional_quantity(
        one_of("remaining", remaining=remaining, current_balance=current_balance), "remaining"
    )
    delta = validation.optional_quantity(add_to_balance, "add_to_balance")
    target_usage = validation.optional_quantity(usage, "usage")
    target_grant = _included(included, included_grant, granted_balance)
    selector = None if interval is None else validation.interval(interval)
    balance_id = validation.optional_id(balance_id, "balance_id")
    new_reset = optional_ms(next_reset_at, field="next_reset_at")
    new_expiry = optional_ms(expires_at, field="expires_at")
    if delta is not None and target_remaining is not None:
        raise InvalidRequest(
            "Cannot specify both add_to_balance and remaining", field="add_to_balance"
        )
    if target_usage is not None and target_remaining is not None:
        raise InvalidRequest("Cannot specify both usage and remaining", field="usage")
    if new_expiry is not None and new_expiry <= now:
        raise InvalidRequest("expires_at must be in the future", code="invalid_request")
    if new_reset is not None and new_reset <= now:
        raise InvalidRequest("next_reset_at must be in the future", code="invalid_request")
    return UpdateArgs(
        customer_id,
        feature_id,
        entity_id,
        target_remaining,
        delta,
        target_usage,
        target_grant,
        selector,
        balance_id,
        new_reset,
        new_expiry,
    )


def delete_args(  # noqa: PLR0917  (a method's parameters, in its order)
    customer_id: str,
    feature_id: str | None,
    entity_id: str | None,
    balance_id: str | None,
    interval: str | None,
    recalculate_balances: bool,
) -> DeleteArgs:
    """`Ledger.delete`'s arguments."""
    customer_id = validation.require_id(customer_id, "customer_id")
    feature_id = validation.optional_id(feature_id, "feature_id")
    entity_id = validation.optional_id(entity_id, "entity_id")
    balance_id = validation.optional_id(balance_id, "balance_id")
    selector = None if interval is None else validation.interval(interval)
    recalculate = validation.flag(recalculate_balances, "recalculate_balances")
    if recalculate and feature_id is None:
        raise InvalidRequest(
            "feature_id is required when recalculate_balances is true",
            code="invalid_request",
            field="feature_id",
        )
    return DeleteArgs(customer_id, feature_id, entity_id, balance_id, selector, recalculate)
