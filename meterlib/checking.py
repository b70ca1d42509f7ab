"""Check's verdict: which one pool is judged, and whether it allows the amount. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from meterlib.models import Feature
from meterlib.quantity import ZERO
from meterlib.results import Preview
from meterlib.subject import Subject


def is_allowed(
    subject: Subject,
    feature: Feature,
    entity_id: str | None,
    required: Decimal,
    *,
    properties: Mapping[str, Any] | None = None,
    member: Feature | None = None,
) -> bool:
    """autumn-check-track §5.5 over the usable grants of one pool; `member` is the feature
    asked about when `feature` is a credit system judged for it (its usage limits gate)."""
    if feature.type == "boolean":
        return subject.flag(feature, entity_id) is not None
    usable, _ = subject.rows((feature.id,), entity_id)
    if not usable:
        return False
    if subject.controls is not None and subject.controls.active(entity_id):
        verdict = subject.controls.judge(
            subject, feature, entity_id, required, properties=properties, member=member
        )
        return verdict.allowed
    if required < 0 or any(g.unlimited for g in usable):
        return True
    remaining = sum((max(ZERO, g.balance) for g in usable), ZERO) + sum(
        (lot.balance for g in usable for lot in g.rollovers), ZERO
    )
    if any(g.overage_allowed for g in usable):
        caps = [g.max_purchase for g in usable if g.overage_allowed]
        if any(cap is None for cap in caps):
            return True
        overage = sum((max(ZERO, -g.balance) for g in usable), ZERO)
        room = max(ZERO, sum((c for c in caps if c is not None), ZERO) - overage)
        return room + remaining >= required
    return remaining >= required


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


def preview(feature: Feature, *, had_balance: bool) -> Preview:
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
