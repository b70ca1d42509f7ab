"""Autumn's JSON shapes of what the Ledger answers about balances: Balance (with its
breakdown, resets and rollovers), Flag, a balances.list row, and the check and track
responses with their deductions and preview. `meterlib.shapes` has the rest and says why
shapes live apart from the values they show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from meterlib.instants import to_ms
from meterlib.quantity import to_json_number


def _ms(value: datetime | None) -> int | None:
    return None if value is None else to_ms(value, field="instant")


def _number(value: Decimal | None) -> int | float | None:
    return None if value is None else to_json_number(value)


# --- what the shapes read -----------------------------------------------------------------
# Read-only properties, so frozen attrs classes (and anything else with these attributes) fit.


class ResetFields(Protocol):
    @property
    def interval(self) -> str: ...
    @property
    def interval_count(self) -> int: ...
    @property
    def resets_at(self) -> datetime | None: ...


class BreakdownFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def plan_id(self) -> str | None: ...
    @property
    def included_grant(self) -> Decimal: ...
    @property
    def prepaid_grant(self) -> Decimal: ...
    @property
    def remaining(self) -> Decimal: ...
    @property
    def usage(self) -> Decimal: ...
    @property
    def unlimited(self) -> bool: ...
    @property
    def reset(self) -> ResetFields | None: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def overage_allowed(self) -> bool: ...
    @property
    def max_purchase(self) -> Decimal | None: ...


class RolloverFields(Protocol):
    @property
    def granted(self) -> Decimal: ...
    @property
    def balance(self) -> Decimal: ...
    @property
    def expires_at(self) -> datetime | None: ...


class BalanceFields(Protocol):
    @property
    def feature_id(self) -> str: ...
    @property
    def granted(self) -> Decimal: ...
    @property
    def remaining(self) -> Decimal: ...
    @property
    def usage(self) -> Decimal: ...
    @property
    def unlimited(self) -> bool: ...
    @property
    def overage_allowed(self) -> bool: ...
    @property
    def max_purchase(self) -> Decimal | None: ...
    @property
    def next_reset_at(self) -> datetime | None: ...
    @property
    def breakdown(self) -> Sequence[BreakdownFields]: ...
    @property
    def rollovers(self) -> Sequence[RolloverFields]: ...
    @property
    def has_rollover_rule(self) -> bool: ...


class FlagFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def feature_id(self) -> str: ...
    @property
    def plan_id(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime | None: ...


class GrantRowFields(Protocol):
    @property
    def item(self) -> BreakdownFields: ...
    @property
    def feature_id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def entity_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def rollovers(self) -> Sequence[RolloverFields]: ...
    @property
    def created_at(self) -> datetime: ...


class PreviewFields(Protocol):
    @property
    def scenario(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def feature_id(self) -> str: ...
    @property
    def feature_name(self) -> str: ...
    @property
    def products(self) -> Sequence[Any]: ...


class CheckFields(Protocol):
    @property
    def allowed(self) -> bool: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def entity_id(self) -> str | None: ...
    @property
    def required_balance(self) -> Decimal: ...
    @property
    def balance(self) -> BalanceFields | None: ...
    @property
    def flag(self) -> FlagFields | None: ...
    @property
    def preview(self) -> PreviewFields | None: ...
    @property
    def balances(self) -> Mapping[str, BalanceFields | None] | None: ...
    @property
    def with_preview(self) -> bool: ...


class DeductionFields(Protocol):
    @property
    def feature_id(self) -> str: ...
    @property
    def balance_id(self) -> str: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def plan_id(self) -> str | None: ...
    @property
    def reset(self) -> ResetFields | None: ...


class TrackFields(Protocol):
    @property
    def customer_id(self) -> str: ...
    @property
    def entity_id(self) -> str | None: ...
    @property
    def event_name(self) -> str | None: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def balance(self) -> BalanceFields | None: ...
    @property
    def balances(self) -> Mapping[str, BalanceFields | None]: ...
    @property
    def deductions(self) -> Sequence[DeductionFields]: ...


# --- balances -----------------------------------------------------------------------------


def reset(r: ResetFields) -> dict[str, Any]:
    """Autumn's reset object: interval_count only when it is not 1."""
    out: dict[str, Any] = {"interval": r.interval, "resets_at": _ms(r.resets_at)}
    if r.interval_count != 1:
        out["interval_count"] = r.interval_count
    return out


def breakdown_item(i: BreakdownFields) -> dict[str, Any]:
    """Autumn's breakdown item; an overage row shows a usage-based price."""
    price = None
    if i.overage_allowed:
        price = {
            "billing_units": 1,
            "billing_method": "usage_based",
            "max_purchase": _number(i.max_purchase),
        }
    return {
        "id": i.id,
        "plan_id": i.plan_id,
        "included_grant": to_json_number(i.included_grant),
        "prepaid_grant": to_json_number(i.prepaid_grant),
        "remaining": to_json_number(i.remaining),
        "usage": to_json_number(i.usage),
        "unlimited": i.unlimited,
        "reset": None if i.reset is None else reset(i.reset),
        "price": price,
        "expires_at": _ms(i.expires_at),
    }


def rollover(r: RolloverFields) -> dict[str, Any]:
    """Autumn reports a never-expiring rollover with expires_at 0."""
    return {
        "granted": to_json_number(r.granted),
        "balance": to_json_number(r.balance),
        "expires_at": _ms(r.expires_at) or 0,
    }


def balance(b: BalanceFields) -> dict[str, Any]:
    """Autumn's Balance object."""
    out: dict[str, Any] = {
        "feature_id": b.feature_id,
        "granted": to_json_number(b.granted),
        "remaining": to_json_number(b.remaining),
        "usage": to_json_number(b.usage),
        "unlimited": b.unlimited,
        "overage_allowed": b.overage_allowed,
        "max_purchase": _number(b.max_purchase),
        "next_reset_at": _ms(b.next_reset_at),
        "breakdown": [breakdown_item(item) for item in b.breakdown],
    }
    if b.has_rollover_rule or b.rollovers:
        out["rollovers"] = [rollover(r) for r in b.rollovers]
    return out


def _balances(found: Mapping[str, BalanceFields | None]) -> dict[str, Any]:
    return {k: None if v is None else balance(v) for k, v in found.items()}


def flag(f: FlagFields) -> dict[str, Any]:
    """Autumn's Flag object."""
    return {
        "id": f.id,
        "plan_id": f.plan_id,
        "expires_at": _ms(f.expires_at),
        "feature_id": f.feature_id,
    }


def grant_row(g: GrantRowFields) -> dict[str, Any]:
    """Autumn's balances.list row: a breakdown item with its owner, status and rollovers."""
    out = breakdown_item(g.item)
    out.update(
        feature_id=g.feature_id,
        status=g.status,
        rollovers=[rollover(r) for r in g.rollovers],
        customer_id=g.customer_id,
        entity_id=g.entity_id,
        created_at=_ms(g.created_at),
    )
    return out


# --- check and track ----------------------------------------------------------------------


def preview(p: PreviewFields) -> dict[str, Any]:
    """Autumn's preview object."""
    return {
        "scenario": p.scenario,
        "title": p.title,
        "message": p.message,
        "feature_id": p.feature_id,
        "feature_name": p.feature_name,
        "products": list(p.products),
    }


def check(r: CheckFields) -> dict[str, Any]:
    """Autumn's check response."""
    out: dict[str, Any] = {
        "allowed": r.allowed,
        "customer_id": r.customer_id,
        "required_balance": to_json_number(r.required_balance),
        "balance": None if r.balance is None else balance(r.balance),
        "flag": None if r.flag is None else flag(r.flag),
    }
    if r.entity_id is not None:
        out["entity_id"] = r.entity_id
    if r.balances is not None:
        out["balances"] = _balances(r.balances)
    if r.with_preview:
        out["preview"] = None if r.preview is None else preview(r.preview)
    return out


def deduction(d: DeductionFields) -> dict[str, Any]:
    """Autumn's deduction object."""
    return {
        "balance_id": d.balance_id,
        "feature_id": d.feature_id,
        "plan_id": d.plan_id,
        "reset": None if d.reset is None else reset(d.reset),
        "value": to_json_number(d.value),
    }


def track(r: TrackFields) -> dict[str, Any]:
    """Autumn's track response; `balances` only when it holds two or more features."""
    out: dict[str, Any] = {
        "customer_id": r.customer_id,
        "value": to_json_number(r.value),
        "balance": None if r.balance is None else balance(r.balance),
        "deductions": [deduction(d) for d in r.deductions],
    }
    if r.entity_id is not None:
        out["entity_id"] = r.entity_id
    if r.event_name is not None:
        out["event_name"] = r.event_name
    if len(r.balances) >= 2:
        out["balances"] = _balances(r.balances)
    return out
