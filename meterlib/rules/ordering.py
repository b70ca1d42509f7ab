"""Autumn's deduction order: which grant is drained first (and listed first in a breakdown)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from meterlib.intervals import order_minutes
from meterlib.models import Feature, Grant

SortKey = tuple[int, int, int, int, int, int, int, int, str, int, int]


def sort_key(
    features: dict[str, Feature], *, entity_view: bool, reverse: bool = False
) -> Callable[[Grant], SortKey]:
    """The comparator of autumn-check-track §3 as a key; `reverse` flips rules 5 and 6."""
    flip = -1 if reverse else 1

    def key(grant: Grant) -> SortKey:
        feature = features.get(grant.feature_id)
        kind = feature.type if feature is not None else "metered"
        entity_level = grant.entity_id is not None
        resets = grant.next_reset_at is not None
        expires = grant.expires_at
        return (
            0 if entity_level == entity_view else 1,
            0 if kind == "boolean" else 1,
            1 if kind == "credit_system" else 0,
            0 if grant.unlimited else 1,
            flip * (0 if resets else 1),
            flip * order_minutes(grant.interval, grant.interval_count),
            0 if expires is not None else 1,
            expires if expires is not None else 0,
            grant.entity_id or "",
            1 if grant.overage_allowed else 0,
            grant.seq,
        )

    return key


def in_deduction_order(
    grants: Iterable[Grant],
    features: dict[str, Feature],
    *,
    entity_view: bool,
    reverse: bool = False,
) -> list[Grant]:
    """`grants` sorted by Autumn's deduction order."""
    ordered = list(grants)
    if len(ordered) < 2:  # the common case: nothing to order, so no keys to build
        return ordered
    ordered.sort(key=sort_key(features, entity_view=entity_view, reverse=reverse))
    return ordered
