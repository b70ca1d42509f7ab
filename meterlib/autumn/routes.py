"""Autumn's operations, answered by a Ledger; and the one table from meterlib errors to HTTP.

Each handler takes a `Call` (the ledger, the parsed JSON body, the ledger's now) and returns
the JSON payload of a 200. The bridge is faithful where the native API is friendlier: it
checks that customers, entities and features exist before calling methods that would create
them, and it answers in Autumn's shapes, codes and statuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta

from meterlib.autumn.wire import ABSENT, Body, invalid, strip_none
from meterlib.errors import (
    AlreadyExists,
    BalanceNotFound,
    CustomerNotFound,
    DuplicateIdempotencyKey,
    EntityNotFound,
    FeatureNotFound,
    InvalidRequest,
    LockNotFound,
    MeterError,
    NotFound,
    StoreError,
)
from meterlib.instants import to_datetime, to_ms

if TYPE_CHECKING:
    from meterlib.ledger import Ledger

# meterlib error class and what the request was about -> (HTTP status, Autumn code).
# A code of None keeps the error's own `.code`. The subject None is the general rule; a
# handler names a subject ("lock", "event_name") when Autumn answers that case differently.
ERRORS: dict[tuple[type[MeterError], str | None], tuple[int, str | None]] = {
    (CustomerNotFound, None): (404, "customer_not_found"),
    (EntityNotFound, None): (404, "entity_not_found"),
    (FeatureNotFound, None): (404, "feature_not_found"),
    (FeatureNotFound, "event_name"): (404, "invalid_request"),
    (BalanceNotFound, None): (404, "invalid_request"),
    (LockNotFound, None): (400, "invalid_request"),
    (NotFound, None): (404, None),
    (DuplicateIdempotencyKey, None): (409, "duplicate_idempotency_key"),
    (AlreadyExists, None): (409, "already_exists"),
    (AlreadyExists, "lock"): (409, "lock_already_exists"),
    (AlreadyExists, "feature"): (409, "duplicate_feature_id"),
    (InvalidRequest, None): (400, None),
    (StoreError, None): (500, "internal_error"),
    (MeterError, None): (400, None),  # never a 5xx for a caller's mistake: the SDK fails open
}


def status_and_code(exc: MeterError, subject: str | None) -> tuple[int, str]:
    """Where `exc` lands in `ERRORS`: the most specific class, the subject's rule first."""
    for cls in type(exc).__mro__:
        for key in ((cls, subject), (cls, None)):
            if key in ERRORS:
                status, code = ERRORS[key]
                return status, code if code is not None else exc.code
    return 400, exc.code  # pragma: no cover - MeterError itself is in the table


@dataclass
class Call:
    """One request being answered: its ledger, JSON body and the ledger's now (epoch ms)."""

    ledger: Ledger
    body: Any
    now: int
    subject: str | None = None  # what an error refers to, for `ERRORS`


Handler = Callable[[Call], Any]

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
    return call.ledger.check(customer_id, feature_id, **kwargs).to_dict()


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
    return call.ledger.track(customer_id, **args).to_dict()


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
        row.to_dict() for row in ledger.grants(customer_id, entity_id=entity_id, statuses=statuses)
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
        customers = [c.id for c in call.ledger.list_customers()]
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


# --- customers ----------------------------------------------------------------------------


def _customer_payload(ledger: Ledger, customer_id: str, expand: list[str]) -> dict[str, Any]:
    """Autumn's Customer: every required key, balances and flags never null."""
    out = ledger.get_customer(customer_id).to_dict()
    features = {f.id: f.to_dict() for f in ledger.list_features()} if expand else {}
    balances = {}
    for fid, balance in ledger.balances(customer_id).items():
        if balance is None:
            continue
        balances[fid] = balance.to_dict()
        if "balances.feature" in expand and fid in features:
            balances[fid]["feature"] = features[fid]
    flags = {}
    for fid, flag in ledger.flags(customer_id).items():
        flags[fid] = flag.to_dict()
        if "flags.feature" in expand and fid in features:
            flags[fid]["feature"] = features[fid]
    out.update(subscriptions=[], purchases=[], licenses=[], balances=balances, flags=flags)
    return out


def get_or_create_customer(call: Call) -> Any:
    """`POST /v1/customers.get_or_create`: the customer, created with the given details if new."""
    body = Body(call.body)
    if body.data.get("customer_id") is None:
        invalid("customer_id", "meterlib needs a customer_id (customers without one are not kept)")
    customer_id = body.required_text("customer_id")
    name = body.text("name")
    email = body.text("email")
    metadata = body.mapping("metadata")
    for key in ("fingerprint", "stripe_id", "currency", "auto_enable_plan_id"):
        body.text(key)
    billing_controls = body.mapping("billing_controls")
    expand = body.texts("expand") or []
    try:
        call.ledger.get_customer(customer_id)
        new = False
    except CustomerNotFound:
        new = True
    call.ledger.create_customer(
        customer_id, **strip_none({"name": name, "email": email, "metadata": metadata})
    )
    if new and billing_controls:
        call.ledger.update_customer(customer_id, billing_controls=billing_controls)
    return _customer_payload(call.ledger, customer_id, expand)


def get_customer(call: Call) -> Any:
    """`POST /v1/customers.get`: 404 `customer_not_found` for an unknown id."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    expand = body.texts("expand") or []
    return _customer_payload(call.ledger, customer_id, expand)


# --- events -------------------------------------------------------------------------------

_RANGES = {
    "24h": relativedelta(hours=24),
    "7d": relativedelta(days=7),
    "30d": relativedelta(days=30),
    "90d": relativedelta(days=90),
    # billing cycles: meterlib has no plans, so a cycle is taken to be a month
    "last_cycle": relativedelta(months=1),
    "1bc": relativedelta(months=1),
    "3bc": relativedelta(months=3),
}


def list_events(call: Call) -> Any:
    """`POST /v1/events.list`: events newest first, filtered by subject, features and time."""
    body = Body(call.body)
    limit = body.whole("limit", minimum=1, maximum=5000) or 50
    cursor = body.text("start_cursor") or None
    customer_id = body.text("customer_id")
    entity_id = body.text("entity_id")
    features = body.text_or_texts("feature_id")
    start = end = None
    window = body.choice("range", tuple(_RANGES))
    if window is not None:
        start = to_ms(to_datetime(call.now) - _RANGES[window], field="range")
    custom = body.nested("custom_range")
    if custom is not None:
        start = custom.ms("start") or start
        end = custom.ms("end")
    query = strip_none({"entity_id": entity_id, "start": start, "end": end})
    for feature_id in features or ():
        call.ledger.get_feature(feature_id)
    try:
        if not features or len(features) == 1:
            if features:
                query["feature_id"] = features[0]
            return call.ledger.events(customer_id, limit=limit, cursor=cursor, **query).to_dict()
        return _events_of_features(
            call.ledger,
            customer_id=customer_id,
            query=query,
            features=set(features),
            limit=limit,
            cursor=cursor,
        )
    except InvalidRequest as exc:
        if exc.field == "cursor":
            invalid("start_cursor", f"is not a cursor this server returned: {cursor!r}")
        raise


def _events_of_features(
    ledger: Ledger,
    *,
    customer_id: str | None,
    query: dict[str, Any],
    features: set[str],
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """events.list for several features: native pages filtered here, the cursor kept exact."""
    found: list[dict[str, Any]] = []
    while True:
        page = ledger.events(customer_id, limit=limit, cursor=cursor, **query)
        for i, event in enumerate(page.events):
            touched = {d.feature_id for d in event.deductions} | {event.feature_id}
            if not touched & features:
                continue
            found.append(event.to_dict())
            if len(found) == limit:
                more = i + 1 < len(page.events) or page.next_cursor is not None
                if not more:
                    return {"list": found, "next_cursor": None}
                # re-read up to this event to get the native cursor that points just after it
                upto = ledger.events(customer_id, limit=i + 1, cursor=cursor, **query)
                return {"list": found, "next_cursor": upto.next_cursor}
        if page.next_cursor is None:
            return {"list": found, "next_cursor": None}
        cursor = page.next_cursor


# --- features -----------------------------------------------------------------------------

FEATURE_TYPES = ("boolean", "metered", "credit_system", "ai_credit_system")


def create_feature(call: Call) -> Any:
    """`POST /v1/features.create`: 409 `duplicate_feature_id` for an id already in use."""
    body = Body(call.body)
    name = body.required_text("name")
    type_ = body.choice("type", FEATURE_TYPES, required=True) or "metered"
    feature_id = body.required_text("feature_id")
    consumable = body.boolean("consumable")
    body.choice("combine", ("sum", "max", "min"))
    body.nested("display")
    event_names = body.texts("event_names")
    schema = None
    if body.has("credit_schema") and body.data["credit_schema"] is not None:
        items = body.data["credit_schema"]
        if not isinstance(items, list):
            invalid("credit_schema", "must be an array")
        schema = {}
        for i, raw in enumerate(items):
            entry = Body(raw, path=f"credit_schema.{i}")
            member = entry.required_text("metered_feature_id")
            if entry.has("tiers"):
                raise InvalidRequest(
                    f"credit_schema.{i}.tiers: tiered credit costs are not supported by meterlib",
                    code="invalid_request",
                )
            cost = entry.number("credit_cost")
            if cost is None:
                invalid(entry.field("credit_cost"), "Required")
            schema[member] = cost
    if type_ == "ai_credit_system":
        raise InvalidRequest(
            "type: ai_credit_system features are not supported by meterlib", code="invalid_request"
        )
    try:
        call.ledger.get_feature(feature_id)
    except FeatureNotFound:
        pass
    else:
        call.subject = "feature"
        raise AlreadyExists(f"Feature {feature_id} already exists")
    feature = call.ledger.create_feature(
        feature_id,
        name=name,
        type=type_,
        **strip_none(
            {"consumable": consumable, "event_names": event_names, "credit_schema": schema}
        ),
    )
    return feature.to_dict()


def get_feature(call: Call) -> Any:
    """`POST /v1/features.get`."""
    body = Body(call.body)
    return call.ledger.get_feature(body.required_text("feature_id")).to_dict()


def list_features(call: Call) -> Any:
    """`POST /v1/features.list`: the SDK sends no body at all."""
    Body(call.body)
    return {"list": [f.to_dict() for f in call.ledger.list_features()]}


# operation ("<resource>.<action>", from the path /v1/<resource>.<action>) -> handler
ROUTES: dict[str, Handler] = {
    "balances.check": check,
    "balances.track": track,
    "balances.batch_track": batch_track,
    "balances.finalize": finalize,
    "balances.create": create_balance,
    "balances.update": update_balance,
    "balances.delete": delete_balance,
    "balances.list": list_balances,
    "customers.get_or_create": get_or_create_customer,
    "customers.get": get_customer,
    "events.list": list_events,
    "features.create": create_feature,
    "features.get": get_feature,
    "features.list": list_features,
}
