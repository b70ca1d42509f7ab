"""How grants add up to what a subject sees: Balance, BreakdownItem, Rollover, Flag. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from meterlib.instants import optional_datetime, to_datetime
from meterlib.models import Feature, Grant
from meterlib.quantity import ZERO
from meterlib.results import Balance, BreakdownItem, Flag, GrantRow, Reset, Rollover


def _reset(grant: Grant, feature: Feature) -> Reset | None:
    if feature.type == "metered" and not feature.consumable:
        return None  # allocated features (seats) never reset: Autumn shows no reset
    return Reset(
        interval=grant.interval,
        interval_count=grant.interval_count,
        resets_at=optional_datetime(grant.next_reset_at),
    )


def breakdown_item(grant: Grant, feature: Feature) -> BreakdownItem:
    """One grant's line of the breakdown: remaining floored at 0, usage signed."""
    included_grant = grant.included_grant
    return BreakdownItem(
        id=grant.public_id,
        plan_id=grant.plan_id,
        included_grant=included_grant,
        prepaid_grant=ZERO,
        remaining=max(ZERO, grant.balance),
        usage=included_grant - grant.balance,
        unlimited=grant.unlimited,
        reset=_reset(grant, feature),
        expires_at=optional_datetime(grant.expires_at),
        overage_allowed=grant.overage_allowed,
        max_purchase=grant.max_purchase,
    )


def _rollovers(grants: Sequence[Grant]) -> tuple[Rollover, ...]:
    out: list[Rollover] = []
    for grant in grants:
        if not grant.rollovers:
            continue
        lots = sorted(
            grant.rollovers, key=lambda lot: (lot.expires_at is None, lot.expires_at or 0)
        )
        out.extend(
            Rollover(
                granted=lot.balance + lot.usage,
                balance=lot.balance,
                expires_at=optional_datetime(lot.expires_at),
            )
            for lot in lots
        )
    return tuple(out)


def max_purchase(grants: Sequence[Grant]) -> Decimal | None:
    """Σ max_purchase of the overage rows; None if there are none, or one is uncapped."""
    caps = [g.max_purchase for g in grants if g.overage_allowed]
    if not caps or any(cap is None for cap in caps):
        return None
    return sum((cap for cap in caps if cap is not None), ZERO)


def balance_of(
    feature: Feature, grants: Sequence[Grant], extra: Sequence[Grant] = ()
) -> Balance | None:
    """The Balance of `feature` over usable `grants` (in deduction order).

    `extra` are grants shown in the totals but neither listed nor usable (a customer's view of
    its entities' own grants). None when there is nothing to show.
    """
    if not grants and not extra:
        return None
    every = [*grants, *extra]
    rollovers = _rollovers(grants) + _rollovers(extra)
    has_rule = any(g.rollover is not None for g in every)
    unlimited = [g for g in every if g.unlimited]
    if unlimited:
        first = unlimited[0]
        plans = {g.plan_id for g in unlimited}
        usage = -sum((g.balance for g in unlimited), ZERO)
        item = BreakdownItem(
            id=first.id,
            plan_id=first.plan_id if len(plans) == 1 else None,
            included_grant=ZERO,
            prepaid_grant=ZERO,
            remaining=ZERO,
            usage=usage,
            unlimited=True,
            reset=None,
            expires_at=None,
        )
        return Balance(
            feature_id=feature.id,
            granted=ZERO,
            remaining=ZERO,
            usage=usage,
            unlimited=True,
            overage_allowed=False,
            max_purchase=None,
            next_reset_at=None,
            breakdown=(item,),
            rollovers=rollovers,
            has_rollover_rule=has_rule,
        )
    shown = [breakdown_item(g, feature) for g in every]
    granted = remaining = usage = ZERO
    for i in shown:
        granted += i.included_grant
        remaining += i.remaining
        usage += i.usage
    lot_granted = lot_remaining = lot_usage = ZERO
    for g in every:
        for lot in g.rollovers:
            lot_granted += lot.balance + lot.usage
            lot_remaining += lot.balance
            lot_usage += lot.usage
    items = tuple(shown[: len(grants)])
    resets = [g.next_reset_at for g in every if g.next_reset_at is not None]
    return Balance(
        feature_id=feature.id,
        granted=granted + lot_granted,
        remaining=remaining + lot_remaining,
        usage=usage + lot_usage,
        unlimited=False,
        overage_allowed=any(g.overage_allowed for g in every),
        max_purchase=max_purchase(grants),
        next_reset_at=optional_datetime(min(resets)) if resets else None,
        breakdown=items,
        rollovers=rollovers,
        has_rollover_rule=has_rule,
    )


def flag_of(feature: Feature, grants: Sequence[Grant]) -> Flag | None:
    """A boolean feature's flag: the first grant's, None without one."""
    if not grants:
        return None
    first = grants[0]
    return Flag(
        id=first.public_id,
        feature_id=feature.id,
        plan_id=first.plan_id,
        expires_at=optional_datetime(first.expires_at),
    )


def grant_row(grant: Grant, feature: Feature, status: str) -> GrantRow:
    """One grant on its own, with its live rollovers (what Autumn's balances.list shows)."""
    return GrantRow(
        item=breakdown_item(grant, feature),
        feature_id=grant.feature_id,
        customer_id=grant.customer_id,
        entity_id=grant.entity_id,
        status=status,
        rollovers=_rollovers([grant]),
        created_at=to_datetime(grant.created_at),
    )
