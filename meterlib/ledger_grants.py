"""Ledger calls that change grants: create, update and delete, with Autumn's target/delta rules."""

from __future__ import annotations

from meterlib import validation
from meterlib.errors import InvalidRequest
from meterlib.instants import optional_ms
from meterlib.ledger_core import LedgerCore, _one_of
from meterlib.models import ONE_OFF
from meterlib.operation import single
from meterlib.operations.creation import CreateArgs, decide_create, refused
from meterlib.operations.deletion import DeleteArgs, decide_delete
from meterlib.operations.updates import UpdateArgs, decide_update
from meterlib.results import Balance


class GrantCalls(LedgerCore):
    """Adding, changing and removing grants."""

    def create(
        self,
        customer_id: str,
        feature_id: str,
        *,
        entity_id: str | None = None,
        included: object = None,
        included_grant: object = None,
        granted_balance: object = None,
        unlimited: bool = False,
        reset: object = None,
        rollover: object = None,
        expires_at: object = None,
        next_reset_at: object = None,
        balance_id: str | None = None,
        overage_allowed: bool = False,
        max_purchase: object = None,
        plan_id: str | None = None,
    ) -> Balance | None:
        """Add a grant (a new breakdown row; grants stack). Creates a missing customer, entity
        or metered feature. Returns the subject's balance of the feature (None for a flag)."""
        customer_id = validation.require_id(customer_id, "customer_id")
        feature_id = validation.require_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        amount = validation.non_negative(
            _one_of(
                "included",
                included=included,
                included_grant=included_grant,
                granted_balance=granted_balance,
            ),
            "included",
        )
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
        now = self._now()

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
        if rule is not None and expiry is not None and interval != ONE_OFF:
            from meterlib.intervals import add  # noqa: PLC0415

            first = add(now, interval, count)
            if first > expiry:
                raise refused("expires_at occurs before the next rollover event")

        args = CreateArgs(
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
        return self._write((args.want(),), single(decide_create, args), now)

    def update(
        self,
        customer_id: str,
        feature_id: str,
        *,
        entity_id: str | None = None,
        remaining: object = None,
        current_balance: object = None,
        add_to_balance: object = None,
        usage: object = None,
        included: object = None,
        included_grant: object = None,
        granted_balance: object = None,
        interval: str | None = None,
        balance_id: str | None = None,
        next_reset_at: object = None,
        expires_at: object = None,
    ) -> Balance | None:
        """Change grants of a feature with Autumn's target/delta algorithm; returns the balance."""
        customer_id = validation.require_id(customer_id, "customer_id")
        feature_id = validation.require_id(feature_id, "feature_id")
        entity_id = validation.optional_id(entity_id, "entity_id")
        target_remaining = validation.optional_quantity(
            _one_of("remaining", remaining=remaining, current_balance=current_balance), "remaining"
        )
        delta = validation.optional_quantity(add_to_balance, "add_to_balance")
        target_usage = validation.optional_quantity(usage, "usage")
        target_grant = validation.non_negative(
            _one_of(
                "included",
                included=included,
                included_grant=included_grant,
                granted_balance=granted_balance,
            ),
            "included",
        )
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
        now = self._now()
        if new_expiry is not None and new_expiry <= now:
            raise InvalidRequest("expires_at must be in the future", code="invalid_request")
        if new_reset is not None and new_reset <= now:
            raise InvalidRequest("next_reset_at must be in the future", code="invalid_request")

        args = UpdateArgs(
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
        return self._write((args.want(),), single(decide_update, args), now)

    def delete(
        self,
        customer_id: str,
        *,
        feature_id: str | None = None,
        entity_id: str | None = None,
        balance_id: str | None = None,
        interval: str | None = None,
        recalculate_balances: bool = False,
    ) -> None:
        """Remove grants; with `recalculate_balances` their usage moves onto the grants left."""
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
        args = DeleteArgs(customer_id, feature_id, entity_id, balance_id, selector, recalculate)
        self._write((args.want(),), single(decide_delete, args), self._now())
