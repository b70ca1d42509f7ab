"""Autumn's JSON shapes, in one place: what `to_dict()` of a model or a result answers, and
the documents the bridge and the CLI both build from them (a customer with its balances, an
entity with its own, a list, a page of events, an error). Balances, flags, check and track
answers are shaped in `meterlib.balance_shapes`, under this module.

snake_case keys, instants as epoch ms, amounts as JSON numbers rounded to 10 dp. Shapes read
attributes only, through the protocols declared beside them, so they stand under the models
and the results (which call them) and import neither: a shape changes here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from meterlib.balance_shapes import (
    BalanceFields,
    DeductionFields,
    FlagFields,
    balance,
    deduction,
    flag,
)
from meterlib.instants import to_ms
from meterlib.quantity import json_safe, to_json_number

ENV = "sandbox"  # meterlib answers as Autumn's sandbox environment

# The notification types (Autumn's webhook types, but for top-ups: see `webhook`)
LIMIT_REACHED = "balances.limit_reached"
USAGE_ALERT = "balances.usage_alert_triggered"
AUTO_TOPUP = "balances.auto_topup"
# meterlib's extra keys in a notification's data, left out of Autumn's webhook body
_NOT_SENT = {USAGE_ALERT: ("name", "threshold", "threshold_type"), AUTO_TOPUP: ("status",)}


# --- what the shapes read -----------------------------------------------------------------
# Read-only properties, so frozen attrs classes (and anything else with these attributes) fit.


class FeatureFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def type(self) -> str: ...
    @property
    def consumable(self) -> bool: ...
    @property
    def event_names(self) -> Sequence[str]: ...
    @property
    def credit_schema(self) -> Mapping[str, Decimal] | None: ...


class CustomerFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def metadata(self) -> Mapping[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def billing_controls(self) -> Mapping[str, Any]: ...


class EntityFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def feature_id(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def billing_controls(self) -> Mapping[str, Any]: ...


class EventFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def entity_id(self) -> str | None: ...
    @property
    def feature_id(self) -> str | None: ...
    @property
    def event_name(self) -> str | None: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def deductions(self) -> Sequence[DeductionFields]: ...


class EventPageFields(Protocol):
    @property
    def events(self) -> Sequence[EventFields]: ...
    @property
    def next_cursor(self) -> str | None: ...


class NotificationFields(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def occurred_at(self) -> datetime: ...


# --- the catalogue ------------------------------------------------------------------------


def feature(f: FeatureFields) -> dict[str, Any]:
    """Autumn's Feature object."""
    out: dict[str, Any] = {
        "id": f.id,
        "name": f.name if f.name is not None else f.id,
        "type": f.type,
        "consumable": f.consumable,
        "archived": False,
        "event_names": list(f.event_names),
    }
    if f.credit_schema is not None:
        out["credit_schema"] = [
            {"metered_feature_id": fid, "credit_cost": to_json_number(cost)}
            for fid, cost in f.credit_schema.items()
        ]
    return out


def customer(c: CustomerFields) -> dict[str, Any]:
    """The customer fields of Autumn's Customer object (`customer_document` adds the rest)."""
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "created_at": to_ms(c.created_at, field="created_at"),
        "fingerprint": None,
        "stripe_id": None,
        "env": ENV,
        "metadata": json_safe(c.metadata),
        "send_email_receipts": False,
        "billing_controls": json_safe(c.billing_controls),
    }


def entity(e: EntityFields) -> dict[str, Any]:
    """Autumn's Entity object without balances (`entity_document` adds them)."""
    return {
        "id": e.id,
        "customer_id": e.customer_id,
        "feature_id": e.feature_id,
        "name": e.name,
        "created_at": to_ms(e.created_at, field="created_at"),
        "env": ENV,
        "billing_controls": json_safe(e.billing_controls),
    }


# --- events -------------------------------------------------------------------------------


def event(e: EventFields) -> dict[str, Any]:
    """Autumn's event list item."""
    return {
        "id": e.id,
        "timestamp": to_ms(e.timestamp, field="instant"),
        "feature_id": e.feature_id if e.feature_id is not None else e.event_name,
        "customer_id": e.customer_id,
        "entity_id": e.entity_id,
        "event_name": e.event_name,
        "value": to_json_number(e.value),
        "properties": json_safe(e.properties),
        "deductions": [deduction(d) for d in e.deductions],
    }


def event_list(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    """Autumn's events.list response, from the events' shapes."""
    return {"list": items, "next_cursor": next_cursor}


def event_page(page: EventPageFields) -> dict[str, Any]:
    """Autumn's events.list response for one page of events."""
    return event_list([event(e) for e in page.events], page.next_cursor)


# --- notifications ------------------------------------------------------------------------


def notification(n: NotificationFields) -> dict[str, Any]:
    """`{"type", "occurred_at" (epoch ms), "data"}`, numbers as JSON numbers."""
    return {
        "type": n.type,
        "occurred_at": to_ms(n.occurred_at, field="occurred_at"),
        "data": json_safe(n.data),
    }


def webhook_type(n: NotificationFields) -> str:
    """The webhook type Autumn sends for a notification: its own, but a top-up's says how
    it went."""
    if n.type != AUTO_TOPUP:
        return n.type
    if n.data.get("status") == "succeeded":
        return "billing.auto_topup_succeeded"
    return "billing.auto_topup_failed"


def webhook(n: NotificationFields) -> dict[str, Any]:
    """Autumn's webhook body: its type, and its data without meterlib's extra keys; a top-up
    names no entity and says when it happened."""
    data = dict(n.data)
    if data.get("entity_id") is None or n.type == AUTO_TOPUP:
        data.pop("entity_id", None)
    for key in _NOT_SENT.get(n.type, ()):
        data.pop(key, None)
    out: dict[str, Any] = {"type": webhook_type(n)}
    if n.type == AUTO_TOPUP:
        out["occurred_at"] = to_ms(n.occurred_at, field="occurred_at")
    out["data"] = json_safe(data)
    return out


# --- documents the bridge and the CLI both answer -----------------------------------------


def listing(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Autumn's `{"list": [...]}` of a list call without pages (features, customers)."""
    return {"list": list(items)}


def customer_document(
    c: CustomerFields,
    balances: Mapping[str, BalanceFields],
    flags: Mapping[str, FlagFields],
    *,
    billing_controls: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Autumn's Customer object: the customer, no plans, its balances and flags.

    `billing_controls` replaces the stored ones (the bridge shows each window's usage)."""
    out = customer(c)
    if billing_controls is not None:
        out["billing_controls"] = billing_controls
    out.update(
        subscriptions=[],
        purchases=[],
        licenses=[],
        balances={k: balance(b) for k, b in balances.items()},
        flags={k: flag(f) for k, f in flags.items()},
    )
    return out


def entity_document(
    e: EntityFields,
    balances: Mapping[str, BalanceFields],
    flags: Mapping[str, FlagFields],
    *,
    billing_controls: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Autumn's Entity object with the balances and flags the entity sees; `feature_id` only
    when it has one."""
    out = entity(e)
    if out["feature_id"] is None:
        del out["feature_id"]
    if billing_controls is not None:
        out["billing_controls"] = billing_controls
    out.update(
        subscriptions=[],
        purchases=[],
        balances={k: balance(b) for k, b in balances.items()},
        flags={k: flag(f) for k, f in flags.items()},
    )
    return out


def error(message: str, code: str) -> dict[str, Any]:
    """Autumn's error body."""
    return {"message": message, "code": code, "env": ENV}
