"""Check's verdict: which one pool is judged, and whether it allows the amount. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from meterlib.models import Feature, Grant
from meterlib.quantity import ZERO
from meterlib.results import CheckDetails, Preview
from meterlib.rules.balances import balance_of, flag_of
from meterlib.rules.deduction import Change
from meterlib.subject import Subject, View
from meterlib.tracking import picked_pool


def is_allowed(
    subject: Subject,
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
    subject: Subject,
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


def check_details(
    feature: Feature,
    pool: Feature,
    usable: list[Grant],
    extra: list[Grant],
    *,
    allowed: bool,
    preview: bool,
) -> CheckDetails:
    """What a check that deducted nothing shows: the judged pool's balance (or flag), and a
    preview when it was denied and one was asked for."""
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
