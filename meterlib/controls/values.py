"""Billing controls as frozen values: `Controls` and its entries, read from the stored form.

`Controls.from_stored()` turns the `billing_controls` dict that `controls_updates.validate`
wrote into these values; resolution (`controls_resolved`), the verdict (`controls_verdict`)
and enforcement read only these, never the raw dicts. Kept apart from validation, which works
on dicts, so the values stay small and importable without it (see `controls` for the overview).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from attrs import frozen

from meterlib.controls.filters import filter_matches
from meterlib.quantity import to_quantity


@frozen(kw_only=True)
class OverageAllowed:
    """`enabled` True lets a feature go into overage; False forbids it, even on pay-per-use rows."""

    feature_id: str
    enabled: bool


@frozen(kw_only=True)
class SpendLimit:
    """A cap on a feature's total overage units: absolute, or a percentage of the allowance."""

    feature_id: str | None
    enabled: bool
    overage_limit: Decimal | None = None
    limit_type: str = "absolute"


@frozen(kw_only=True)
class UsageLimit:
    """A hard cap on what a feature may consume per day / week / month / year window."""

    feature_id: str
    enabled: bool
    limit: Decimal
    interval: str
    anchor: str = "billing_cycle"
    filter: tuple[tuple[str, str], ...] = ()  # (key, value as a string), sorted by key

    @property
    def filter_key(self) -> str:
        """Autumn's filter identity: `k=v` pairs sorted by key, joined by `&` ("" unfiltered)."""
        return "&".join(f"{k}={v}" for k, v in self.filter)

    def matches(self, properties: Mapping[str, Any] | None) -> bool:
        """Whether an event with `properties` counts toward (and is gated by) this cap."""
        return filter_matches(self.filter, properties)


@frozen(kw_only=True)
class UsageAlert:
    """A threshold on usage, usage %, remaining or remaining % that notifies when crossed."""

    feature_id: str | None  # None: every feature
    enabled: bool
    threshold: Decimal
    threshold_type: str
    name: str | None = None

    def applies_to(self, feature_id: str) -> bool:
        """An alert without a feature watches every feature."""
        return self.feature_id is None or self.feature_id == feature_id


@frozen(kw_only=True)
class PurchaseLimit:
    """At most `limit` automatic top-ups per `interval_count` × `interval`."""

    interval: str
    interval_count: int
    limit: int


@frozen(kw_only=True)
class AutoTopup:
    """When a feature's balance falls to `threshold` or below, grant `quantity` more."""

    feature_id: str
    enabled: bool
    threshold: Decimal
    quantity: Decimal
    purchase_limit: PurchaseLimit | None = None


@frozen(kw_only=True)
class Controls:
    """The billing controls of one customer or entity, as frozen values."""

    spend_limits: tuple[SpendLimit, ...] = ()
    usage_limits: tuple[UsageLimit, ...] = ()
    usage_alerts: tuple[UsageAlert, ...] = ()
    overage_allowed: tuple[OverageAllowed, ...] = ()
    auto_topups: tuple[AutoTopup, ...] = ()

    @property
    def empty(self) -> bool:
        """No control at all: nothing changes how this subject is judged or deducted."""
        return not (
            self.spend_limits
            or self.usage_limits
            or self.usage_alerts
            or self.overage_allowed
            or self.auto_topups
        )

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> Controls:
        """The values of a stored `billing_controls` dict (as `validate` wrote it)."""
        if not stored:
            return EMPTY
        found = cls(
            spend_limits=tuple(
                SpendLimit(
                    feature_id=e.get("feature_id"),
                    enabled=bool(e.get("enabled", False)),
                    overage_limit=_opt_decimal(e.get("overage_limit")),
                    limit_type=e.get("limit_type") or "absolute",
                )
                for e in stored.get("spend_limits", ())
            ),
            usage_limits=tuple(
                UsageLimit(
                    feature_id=e["feature_id"],
                    enabled=bool(e.get("enabled", True)),
                    limit=to_quantity(e["limit"], field="limit"),
                    interval=e["interval"],
                    anchor=e.get("anchor") or "billing_cycle",
                    filter=tuple(sorted(((e.get("filter") or {}).get("properties") or {}).items())),
                )
                for e in stored.get("usage_limits", ())
            ),
            usage_alerts=tuple(
                UsageAlert(
                    feature_id=e.get("feature_id"),
                    enabled=bool(e.get("enabled", True)),
                    threshold=to_quantity(e["threshold"], field="threshold"),
                    threshold_type=e["threshold_type"],
                    name=e.get("name"),
                )
                for e in stored.get("usage_alerts", ())
            ),
            overage_allowed=tuple(
                OverageAllowed(feature_id=e["feature_id"], enabled=bool(e.get("enabled", False)))
                for e in stored.get("overage_allowed", ())
            ),
            auto_topups=tuple(_auto_topup(e) for e in stored.get("auto_topups", ())),
        )
        return EMPTY if found.empty else found  # callers test `is EMPTY` on the hot path


EMPTY = Controls()


def _opt_decimal(value: object) -> Decimal | None:
    return None if value is None else to_quantity(value, field="amount")


def _auto_topup(entry: Mapping[str, Any]) -> AutoTopup:
    limit = entry.get("purchase_limit")
    return AutoTopup(
        feature_id=entry["feature_id"],
        enabled=bool(entry.get("enabled", False)),
        threshold=to_quantity(entry["threshold"], field="threshold"),
        quantity=to_quantity(entry["quantity"], field="quantity"),
        purchase_limit=None
        if limit is None
        else PurchaseLimit(
            interval=limit["interval"],
            interval_count=int(limit.get("interval_count", 1)),
            limit=int(limit["limit"]),
        ),
    )
