"""Autumn's balances operations: check, track, batch_track and finalize (usage), create,
update, delete and list (grants); and the existence checks they make before calling the
Ledger, which would otherwise create what they name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meterlib import balance_shapes
from meterlib.autumn.wire import ABSENT, Body, invalid, strip_none
from meterlib.catalogue_edits import every_customer
from meterlib.errors import (
    CustomerNotFound,
    EntityNotFound,
    FeatureNotFound,
    MeterError,
)

if TYPE_CHECKING:
    from meterlib.autumn.call import Call
    from meterlib.ledger import Ledger


# --- shared checks ----------------------------------------------------------------------


def _require_customer(ledger: Ledger, customer_id: str, entity_id: str | None = None) -> None:
    """404 for a customer Autumn does not know (an entity named for one is the entity's 404)."""
    try:
        ledger.get_customer(customer_id)
    except CustomerNotFound:
        if entity_id is not None:
            raise EntityNotFound(entity_id, customer_id=customer_id) from None
        raise


def _require_entity(ledger: Ledger, customer_id: str, entity_id: str | None) -> None:
    """404 `entity_not_found` unless the entity exists (the native `create` would make it)."""
    if entity_id is not None:
        ledger.get_entity(customer_id, entity_id)


def _require_event_name(ledger: Ledger, event_name: str) -> None:
    """Autumn's 404 `invalid_request` for an event name no feature listens to."""
    if not any(event_name in f.event_names for f in ledger.list_features()):
        raise FeatureNotFound(event_name, message=f"No features found for event name: {event_name}")


# --- balances: check, track, batch_track, finalize ------------------------------------


def check(call: Call) -> Any:
    """`POST /v1/balances.check`: may the subject use `required_balance` now (and take it)."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    feature_id = body.required_text("feature_id")
    entity_id = body.text("entity_id")
    lock = None
    lock_body = body.nested("lock")
    if lock_body is not None:
        lock_id = lock_body.required_text("lock_id")
        if len(lock_id) > 256:
            invalid("lock.lock_id", "must be at most 256 characters")
        if lock_body.boolean("enabled") is not True:
            invalid("lock.enabled", "Invalid literal value, expected true")
        lock_body.choice("overage_behavior", ("cap", "overflow"))
        lock = strip_none({"lock_id": lock_id, "expires_at": lock_body.ms("expires_at")})
        call.subject = "lock"
    kwargs = strip_none(
        {
            "entity_id": entity_id,
            "required_balance": body.number("required_balance"),
            "send_event": body.boolean("send_event"),
            "properties": body.mapping("properties"),
            "lock": lock,
            "with_preview": body.boolean("with_preview"),
        }
    )
    _require_customer(call.ledger, customer_id, entity_id)
    return balance_shapes.check(call.ledger.check(customer_id, feature_id, **kwargs))


_TRACK_MESSAGE = "Either feature_id or event_name must be provided"


def _track_arguments(body: Body) -> dict[str, Any]:
    """The native `track` arguments of one track body (batch items included)."""
    customer_id = body.required_text("customer_id")
    feature_id = body.text("feature_id")
    event_name = body.text("event_name")
    if event_name == "":
        invalid(body.field("event_name"), "cannot be empty")
    if (feature_id is None) == (event_name is None):
        invalid(body.field("input") if body.path else "input", _TRACK_MESSAGE)
    return {
        "customer_id": customer_id,
        **strip_none(
            {
                "feature_id": feature_id,
                "event_name": event_name,
                "entity_id": body.text("entity_id"),
                "value": body.number("value"),
                "properties": body.mapping("properties"),
                "idempotency_key": body.text("idempotency_key"),
                "timestamp": body.ms("timestamp"),
                "overage_behavior": body.choice("overage_behavior", ("cap", "overflow")),
            }
        ),
    }


def _resolve_features(call: Call, args: dict[str, Any]) -> None:
    """Autumn resolves features before anything else runs: unknown ones are 404s."""
    if "event_name" in args:
        call.subject = "event_name"
        _require_event_name(call.ledger, args["event_name"])
    else:
        call.ledger.get_feature(args["feature_id"])


def track(call: Call) -> Any:
    """`POST /v1/balances.track`; `async: true` is applied before answering, like the rest."""
    body = Body(call.body)
    args = _track_arguments(body)
    body.boolean("async")
    _resolve_features(call, args)
    _require_customer(call.ledger, args["customer_id"], args.get("entity_id"))
    customer_id = args.pop("customer_id")
    return balance_shapes.track(call.ledger.track(customer_id, **args))


def batch_track(call: Call) -> Any:
    """`POST /v1/balances.batch_track`: a bare array, validated whole, then applied item by item.

    As Autumn's queue worker does, an item that fails when applied (unknown customer, repeated
    `idempotency_key`) is dropped without failing the others; the answer is always
    `{"success": true}`.
    """
    if not isinstance(call.body, list):
        invalid("body", "expected an array of track bodies")
    if not 1 <= len(call.body) <= 1000:
        invalid("body", f"must hold 1 to 1000 items, received {len(call.body)}")
    items = [_track_arguments(Body(item, path=str(i))) for i, item in enumerate(call.body)]
    for args in items:
        _resolve_features(call, args)
        call.subject = None
    for args in items:
        customer_id = args.pop("customer_id")
        try:
            _require_customer(call.ledger, customer_id, args.get("entity_id"))
            call.ledger.track(customer_id, **args)
        except MeterError:
            continue  # invisible to the caller, as a failed job of Autumn's queue
    return {"success": True}


def finalize(call: Call) -> Any:
    """`POST /v1/balances.finalize`: confirm or release a lock made by check."""
    body = Body(call.body)
    lock_id = body.required_text("lock_id")
    action = body.choice("action", ("confirm", "release"), required=True)
    override_value = body.number("override_value")
    if override_value is not None and action == "release":
        invalid("override_value", "override_value cannot be provided when action is release")
    call.ledger.finalize(
        lock_id,
        **strip_none(
            {
                "action": action,
                "override_value": override_value,
                "properties": body.mapping("properties"),
            }
        ),
    )
    return {"success": True}


# --- balances: create, update, delete, list ---------------------------------------------

INTERVALS = ("one_off", "minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year")


def _count(body: Body, name: str) -> int | None:
    return body.whole(name, minimum=1)


def create_balance(call: Call) -> Any:
    """`POST /v1/balances.create`: a standalone grant; unknown customers are 404, not created."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    feature_id = body.required_text("feature_id")
    entity_id = body.text("entity_id")
    reset = None
    reset_body = body.nested("reset")
    if reset_body is not None:
        reset = strip_none(
            {
                "interval": reset_body.choice("interval", INTERVALS, required=True),
                "interval_count": _count(reset_body, "interval_count"),
            }
        )
    rollover = None
    rollover_body = body.nested("rollover")
    if rollover_body is not None:
        rollover = {
            "max": rollover_body.number("max"),
            "max_percentage": rollover_body.number("max_percentage"),
            "length": rollover_body.whole("length") if rollover_body.has("length") else 1,
            "duration": rollover_body.choice("duration", ("month", "forever")) or "month",
        }
        if not rollover_body.has("length"):
            invalid("rollover.length", "Required")
    kwargs = strip_none(
        {
            "entity_id": entity_id,
            "included": body.number("included_grant"),
            "unlimited": body.boolean("unlimited"),
            "reset": reset,
            "rollover": rollover,
            "expires_at": body.ms("expires_at"),
            "next_reset_at": body.ms("next_reset_at"),
            "balance_id": body.text("balance_id"),
        }
    )
    _require_customer(call.ledger, customer_id, entity_id)
    _require_entity(call.ledger, customer_id, entity_id)
    call.ledger.get_feature(feature_id)
    call.ledger.create(customer_id, feature_id, **kwargs)
    return {"success": True}


def update_balance(call: Call) -> Any:
    """`POST /v1/balances.update`: set remaining or usage, add to it, change the grant or dates."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    feature_id = body.required_text("feature_id")
    kwargs = strip_none(
        {
            "entity_id": body.text("entity_id"),
            "remaining": body.number("remaining"),
            "add_to_balance": body.number("add_to_balance"),
            "usage": body.number("usage"),
            "included": body.number("included_grant"),
            "interval": body.choice("interval", INTERVALS),
            "balance_id": body.text("balance_id"),
            "next_reset_at": body.ms("next_reset_at"),
            "expires_at": body.ms("expires_at"),
        }
    )
    _require_customer(call.ledger, customer_id, kwargs.get("entity_id"))
    call.ledger.update(customer_id, feature_id, **kwargs)
    return {"success": True}


def delete_balance(call: Call) -> Any:
    """`POST /v1/balances.delete`: remove the grants the filters match."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    kwargs = strip_none(
        {
            "feature_id": body.text("feature_id"),
            "entity_id": body.text("entity_id"),
            "balance_id": body.text("balance_id"),
            "interval": body.choice("interval", INTERVALS),
            "recalculate_balances": body.boolean("recalculate_balances"),
        }
    )
    _require_customer(call.ledger, customer_id, kwargs.get("entity_id"))
    call.ledger.delete(customer_id, **kwargs)
    return {"success": True}


def _cursor(body: Body) -> int:
    """balances.list cursors are the offset of the next row, as a decimal string."""
    cursor = body.text("start_cursor") or ""
    if cursor == "":
        return 0
    if not cursor.isdigit():
        invalid("start_cursor", f"is not a cursor this server returned: {cursor!r}")
    return int(cursor)


def _customer_rows(
    ledger: Ledger, customer_id: str, entity_id: str | None, statuses: list[str]
) -> list[dict[str, Any]]:
    """Every grant row of one customer (or one entity's own), live rows first."""
    return [
        balance_shapes.grant_row(row)
        for row in ledger.grants(customer_id, entity_id=entity_id, statuses=statuses)
    ]


def list_balances(call: Call) -> Any:
    """`POST /v1/balances.list`: one row per grant the filters match, paged by offset."""
    body = Body(call.body)
    limit = body.whole("limit", minimum=1, maximum=200) or 50
    offset = _cursor(body)
    customer_id = body.text("customer_id")
    entity_id = body.text("entity_id")
    if entity_id is not None and customer_id is None:
        invalid("entity_id", "entity_id requires customer_id")
    statuses = body.texts("statuses") or ["active"]
    for i, status in enumerate(statuses):
        if status not in ("active", "expired"):
            invalid(f"statuses.{i}", f"expected 'active' | 'expired', received {status!r}")
    plan_id = body.nullable_text("plan_id")
    feature_id = body.text("feature_id")
    if customer_id is not None:
        _require_customer(call.ledger, customer_id, entity_id)
        _require_entity(call.ledger, customer_id, entity_id)
        customers = [customer_id]
    else:
        customers = [c.id for c in every_customer(call.ledger)]
    if feature_id is not None:
        call.ledger.get_feature(feature_id)
    rows = [
        row
        for cid in customers
        for row in _customer_rows(call.ledger, cid, entity_id, statuses)
        if (feature_id is None or row["feature_id"] == feature_id)
        and (plan_id is ABSENT or row["plan_id"] == plan_id)
    ]
    page = rows[offset : offset + limit]
    more = offset + limit < len(rows)
    return {"list": page, "has_more": more, "next_cursor": str(offset + limit) if more else None}
