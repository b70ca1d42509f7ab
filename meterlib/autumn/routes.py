"""Autumn's operations, answered by a Ledger; and the one table from meterlib errors to HTTP.

Each handler takes a `Call` (the ledger, the parsed JSON body, the ledger's now) and returns
the JSON payload of a 200. The bridge is faithful where the native API is friendlier: it
checks that customers, entities and features exist before calling methods that would create
them, and it answers in Autumn's shapes, codes and statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, cast

from dateutil.relativedelta import relativedelta

from meterlib import controls, validation
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
from meterlib.quantity import json_safe, to_json_number

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
    (AlreadyExists, "entity"): (409, "entity_already_exists"),
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
    api_version: str | None = None  # the x-api-version header, if the client sent one


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


# --- billing controls ---------------------------------------------------------------------

# the key order of Autumn's billing_controls object
_CONTROL_KEYS = ("auto_topups", "spend_limits", "usage_limits", "usage_alerts", "overage_allowed")
_BASES = ("balance", "included", "recurring", "usage_limit")  # a usage alert's 100%
_SOURCE_SINCE = (2, 3)  # API versions from 2.3 tag each customer control with its `source`


def _unsupported(path: str, what: str) -> NoReturn:
    raise InvalidRequest(f"{path}: {what} not supported by meterlib", code="invalid_request")


def _billing_controls(body: Body, *, entity: bool = False) -> dict[str, Any] | None:
    """The body's `billing_controls`, checked whole before anything is read or written.

    A malformed one is a 400 `invalid_inputs` naming the entry (`billing_controls.
    usage_limits[0].interval: ...`). The SDK sends every usage alert with `basis: "balance"`,
    which is what meterlib's alerts measure; it is dropped. What meterlib does not model
    (`balance_allocations`, a usage limit entry that sets its window's `usage`, another
    `basis`, an alert's `filter`) is a 400 `invalid_request`.
    """
    raw = body.mapping("billing_controls")
    if raw is None:
        return None
    path = body.field("billing_controls")
    if not entity and raw.get("balance_allocations") is not None:
        _unsupported(f"{path}.balance_allocations", "balance allocations are")
    limits = raw.get("usage_limits")
    for i, entry in enumerate(limits if isinstance(limits, list) else ()):
        if isinstance(entry, dict) and entry.get("usage") is not None and "limit" not in entry:
            _unsupported(f"{path}.usage_limits[{i}].usage", "setting a window's usage is")
    alerts = raw.get("usage_alerts")
    if isinstance(alerts, list):
        raw = {
            **raw,
            "usage_alerts": [
                _usage_alert(a, f"{path}.usage_alerts[{i}]") for i, a in enumerate(alerts)
            ],
        }
    try:
        controls.validate(raw, entity=entity)
    except InvalidRequest as exc:
        if path == "billing_controls":
            raise
        prefix = path.removesuffix("billing_controls")
        raise InvalidRequest(f"{prefix}{exc}", field=f"{prefix}{exc.field}") from None
    return raw


def _usage_alert(alert: object, path: str) -> object:
    """A usage alert without the SDK's default `basis`; other bases and filters are refused."""
    if not isinstance(alert, dict):
        return alert  # controls.validate names the bad entry
    basis = alert.get("basis")
    if basis is not None and basis not in _BASES:
        invalid(f"{path}.basis", f"expected one of {' | '.join(map(repr, _BASES))}")
    if basis not in (None, "balance"):
        _unsupported(f"{path}.basis", f"a usage alert's basis {basis!r} is")
    if alert.get("filter") is not None:
        _unsupported(f"{path}.filter", "a usage alert's filter is")
    return {k: v for k, v in alert.items() if k not in ("basis", "filter")}


def _filter_key(properties: Mapping[str, Any]) -> str:
    """Autumn's filter identity of a usage limit: `k=v` pairs sorted by key, joined by `&`."""
    return "&".join(f"{k}={v}" for k, v in sorted(properties.items()))


def _tags_source(call: Call) -> bool:
    """Whether the caller's API version shows `source` on each customer control (2.3 on)."""
    parts = (call.api_version or "").split(".")[:2]
    if not all(p.isdigit() for p in parts):
        return True  # no version (or one we cannot read): the SDK's default, 2.5.0
    return tuple(int(p) for p in parts) >= _SOURCE_SINCE


def _controls_payload(
    ledger: Ledger,
    stored: Mapping[str, Any],
    customer_id: str,
    entity_id: str | None,
    *,
    source: str | None,
) -> dict[str, Any]:
    """Autumn's `billing_controls` of a customer or an entity: the stored entries (a key only
    if it was ever written), each usage limit in force with its current window's `usage`."""
    used: dict[tuple[str, str], Any] = {}
    if stored.get("usage_limits"):
        used = {
            (w.feature_id, _filter_key(w.filter)): w.usage
            for w in ledger.usage_limits(customer_id, entity_id=entity_id)
            if w.entity_id == entity_id  # its own entries: the ones it shows
        }
    out: dict[str, Any] = {}
    for key in _CONTROL_KEYS:
        if key not in stored:
            continue
        entries: list[dict[str, Any]] = cast("list[dict[str, Any]]", json_safe(stored[key]))
        for entry in entries:  # fresh dicts: json_safe copies
            if key == "usage_limits":
                props = (entry.get("filter") or {}).get("properties") or {}
                usage = used.get((entry["feature_id"], _filter_key(props)))
                if usage is not None:
                    entry["usage"] = to_json_number(usage)
            if source is not None:
                entry["source"] = source
        out[key] = entries
    return out


# --- customers ----------------------------------------------------------------------------


def _customer_payload(call: Call, customer_id: str, expand: list[str]) -> dict[str, Any]:
    """Autumn's Customer: every required key, balances and flags never null, billing controls
    with their windows' usage."""
    ledger = call.ledger
    customer = ledger.get_customer(customer_id)
    out = customer.to_dict()
    out["billing_controls"] = _controls_payload(
        ledger,
        customer.billing_controls,
        customer_id,
        None,
        source="customer" if _tags_source(call) else None,
    )
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


def _customer_details(body: Body) -> dict[str, Any]:
    """What a new customer is made with (get_or_create's body, entities.create's
    customer_data), checked whole: `create_customer` arguments plus `billing_controls`."""
    details = strip_none(
        {
            "name": validation.optional_id(body.text("name"), body.field("name")),
            "email": validation.optional_id(body.text("email"), body.field("email")),
            "billing_controls": _billing_controls(body),
        }
    )
    metadata = body.mapping("metadata")
    if metadata is not None:
        details["metadata"] = validation.properties(metadata, body.field("metadata"))
    for key in ("fingerprint", "stripe_id", "currency", "auto_enable_plan_id"):
        body.text(key)
    for key in ("create_in_stripe", "send_email_receipts"):
        body.boolean(key)
    body.nested("config")
    return details


def _ensure_customer(ledger: Ledger, customer_id: str, details: dict[str, Any]) -> None:
    """Create the customer with `details` (billing controls applied) unless it exists; an
    existing customer is left as it is, as Autumn does."""
    try:
        ledger.get_customer(customer_id)
    except CustomerNotFound:
        pass
    else:
        return
    kwargs = dict(details)
    billing_controls = kwargs.pop("billing_controls", None)
    ledger.create_customer(customer_id, **kwargs)
    if billing_controls:
        ledger.update_customer(customer_id, billing_controls=billing_controls)


def get_or_create_customer(call: Call) -> Any:
    """`POST /v1/customers.get_or_create`: the customer, created with the given details if new.

    The whole body, billing controls included, is checked before anything is created.
    """
    body = Body(call.body)
    if body.data.get("customer_id") is None:
        invalid("customer_id", "meterlib needs a customer_id (customers without one are not kept)")
    customer_id = body.required_text("customer_id")
    details = _customer_details(body)
    body.nested("billing_details")
    expand = body.texts("expand") or []
    _ensure_customer(call.ledger, customer_id, details)
    return _customer_payload(call, customer_id, expand)


def get_customer(call: Call) -> Any:
    """`POST /v1/customers.get`: 404 `customer_not_found` for an unknown id."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    expand = body.texts("expand") or []
    return _customer_payload(call, customer_id, expand)


def update_customer(call: Call) -> Any:
    """`POST /v1/customers.update`: name, email, metadata and billing controls, in one write.

    Billing controls are patched per key (a key given replaces its list, `[]` clears it);
    metadata is merged into the stored one, a key sent as null is removed. Fields meterlib
    does not keep (fingerprint, stripe_id, currency, config, ...) are checked and ignored.
    """
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    name = validation.optional_id(body.text("name"), "name")
    email = validation.optional_id(body.text("email"), "email")
    metadata = body.mapping("metadata")
    for key in ("fingerprint", "stripe_id", "currency"):
        body.text(key)
    body.boolean("send_email_receipts")
    body.nested("config")
    body.nested("billing_details")
    new_id = body.nullable_text("new_customer_id")
    billing_controls = _billing_controls(body)
    customer = call.ledger.get_customer(customer_id)
    if new_id is None:
        raise InvalidRequest("Customer ID cannot be set to null", code="invalid_request")
    if isinstance(new_id, str) and new_id != customer_id:
        _unsupported("new_customer_id", "changing a customer's id is")
    merged = None
    if metadata is not None:
        merged = {**customer.metadata, **metadata}
        merged = {k: v for k, v in merged.items() if v is not None}
    call.ledger.update_customer(
        customer_id,
        **strip_none(
            {
                "name": name,
                "email": email,
                "metadata": merged,
                "billing_controls": billing_controls,
            }
        ),
    )
    return _customer_payload(call, customer_id, [])


# --- entities -----------------------------------------------------------------------------


def _entity_payload(ledger: Ledger, customer_id: str, entity_id: str) -> dict[str, Any]:
    """Autumn's Entity: its balances and flags as the entity sees them, and its own billing
    controls (never the customer's it inherits), each usage limit with its `usage`."""
    entity = ledger.get_entity(customer_id, entity_id)
    out = entity.to_dict()
    if out["feature_id"] is None:
        del out["feature_id"]
    out["billing_controls"] = _controls_payload(
        ledger, entity.billing_controls, customer_id, entity_id, source=None
    )
    balances = {
        fid: balance.to_dict()
        for fid, balance in ledger.balances(customer_id, entity_id=entity_id).items()
    }
    flags = {
        fid: flag.to_dict() for fid, flag in ledger.flags(customer_id, entity_id=entity_id).items()
    }
    out.update(subscriptions=[], purchases=[], balances=balances, flags=flags)
    return out


def _entity_owner(ledger: Ledger, entity_id: str) -> str | None:
    """The customer that has an entity of this id (entities.get / update without customer_id);
    400 `entity_id_required` when several do, None when none does."""
    owners = []
    for customer in ledger.list_customers():
        try:
            ledger.get_entity(customer.id, entity_id)
        except EntityNotFound:
            continue
        owners.append(customer.id)
    if len(owners) > 1:
        raise InvalidRequest(
            f"More than one customer has an entity with ID '{entity_id}'. Include customer_id "
            f"in the request so we know which one to use.",
            code="entity_id_required",
        )
    return owners[0] if owners else None


def create_entity(call: Call) -> Any:
    """`POST /v1/entities.create`: an entity of a non-consumable feature (a seat, a workspace),
    its customer created from `customer_data` if missing; everything is checked first."""
    body = Body(call.body)
    feature_id = body.required_text("feature_id")
    customer_id = body.required_text("customer_id")
    entity_id = validation.require_id(body.required_text("entity_id"), "entity_id")
    name = validation.optional_id(body.text("name"), "name")
    billing_controls = _billing_controls(body, entity=True)
    customer_data = body.nested("customer_data")
    details = {} if customer_data is None else _customer_details(customer_data)
    feature = call.ledger.get_feature(feature_id)
    if feature.consumable:
        raise InvalidRequest(
            f"Feature '{feature_id}' is consumable (e.g. credits, API calls). Entities can only "
            f"be created for non-consumable features (e.g. seats).",
            code="invalid_request",
        )
    try:
        call.ledger.get_entity(customer_id, entity_id)
    except (CustomerNotFound, EntityNotFound):
        pass
    else:
        call.subject = "entity"
        raise AlreadyExists(f"Entity {entity_id} already exists")
    _ensure_customer(call.ledger, customer_id, details)
    call.ledger.create_entity(
        customer_id, entity_id, feature_id=feature_id, **strip_none({"name": name})
    )
    if billing_controls:
        call.ledger.update_entity(customer_id, entity_id, billing_controls=billing_controls)
    return _entity_payload(call.ledger, customer_id, entity_id)


def get_entity(call: Call) -> Any:
    """`POST /v1/entities.get`: without customer_id, the entity is looked for in every customer
    (404 `entity_not_found` where Autumn answers a 500)."""
    body = Body(call.body)
    entity_id = body.required_text("entity_id")
    customer_id = body.text("customer_id") or _entity_owner(call.ledger, entity_id)
    if customer_id is None:
        raise EntityNotFound(entity_id)
    return _entity_payload(call.ledger, customer_id, entity_id)


def update_entity(call: Call) -> Any:
    """`POST /v1/entities.update`: the entity's billing controls, patched per key as a
    customer's (an entity has no auto_topups)."""
    body = Body(call.body)
    entity_id = body.required_text("entity_id")
    customer_id = body.text("customer_id")
    billing_controls = _billing_controls(body, entity=True)
    if customer_id is None:
        customer_id = _entity_owner(call.ledger, entity_id)
        if customer_id is None:
            raise NotFound(
                f"No customer found for entity '{entity_id}'. Pass customer_id to identify "
                f"the customer.",
                code="customer_not_found",
            )
    if billing_controls is None:
        call.ledger.get_entity(customer_id, entity_id)
    else:
        call.ledger.update_entity(customer_id, entity_id, billing_controls=billing_controls)
    return _entity_payload(call.ledger, customer_id, entity_id)


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
    "customers.update": update_customer,
    "entities.create": create_entity,
    "entities.get": get_entity,
    "entities.update": update_entity,
    "events.list": list_events,
    "features.create": create_feature,
    "features.get": get_feature,
    "features.list": list_features,
}
