"""Autumn's events and features operations: events.list (several features paged exactly),
and features.create, features.get and features.list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta

from meterlib import shapes
from meterlib.autumn.wire import Body, invalid, strip_none
from meterlib.errors import (
    AlreadyExists,
    FeatureNotFound,
    InvalidRequest,
)
from meterlib.instants import to_datetime, to_ms

if TYPE_CHECKING:
    from meterlib.autumn.call import Call
    from meterlib.ledger import Ledger


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
            return shapes.event_page(
                call.ledger.events(customer_id, limit=limit, cursor=cursor, **query)
            )
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
            found.append(shapes.event(event))
            if len(found) == limit:
                more = i + 1 < len(page.events) or page.next_cursor is not None
                if not more:
                    return shapes.event_list(found, None)
                # re-read up to this event to get the native cursor that points just after it
                upto = ledger.events(customer_id, limit=i + 1, cursor=cursor, **query)
                return shapes.event_list(found, upto.next_cursor)
        if page.next_cursor is None:
            return shapes.event_list(found, None)
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
    schema = credit_schema(body)
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
    return shapes.feature(feature)


def credit_schema(body: Body) -> dict[str, int | float] | None:
    """The body's `credit_schema` list as {metered_feature_id: credit_cost} (None if absent);
    a member named twice is kept as the last entry names it."""
    if not body.has("credit_schema") or body.data["credit_schema"] is None:
        return None
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
    return schema


def get_feature(call: Call) -> Any:
    """`POST /v1/features.get`."""
    body = Body(call.body)
    return shapes.feature(call.ledger.get_feature(body.required_text("feature_id")))


def list_features(call: Call) -> Any:
    """`POST /v1/features.list`: the SDK sends no body at all."""
    Body(call.body)
    return shapes.listing(shapes.feature(f) for f in call.ledger.list_features())


# operation ("<resource>.<action>", from the path /v1/<resource>.<action>) -> handler
