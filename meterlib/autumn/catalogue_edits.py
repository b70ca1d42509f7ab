"""Autumn's list and delete calls for customers and entities, the test clock, and the
plan listings a ledger without plans answers empty.

Lists follow Autumn's latest (cursor) handlers: newest first by `created_at` then id,
`limit` + 1 rows read to know whether a next page exists, and a cursor that is the
url-safe base64 of `{"v": 0, "id": ..., "t": created_at}`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from meterlib.autumn.customers import _customer_payload, _entity_owner, _entity_payload
from meterlib.autumn.wire import Body, invalid
from meterlib.catalogue_edits import every_customer, every_entity
from meterlib.clock import ManualClock
from meterlib.errors import EntityNotFound, InvalidRequest
from meterlib.instants import instant, to_ms
from meterlib.models import Customer, Entity

if TYPE_CHECKING:
    from meterlib.autumn.call import Call

T = TypeVar("T", Customer, Entity)
_ORG_MAX = {"customers": 1000, "entities": 5000}  # Autumn's default org maximums
_SUCCESS = {"success": True}


def _cursor(item: Customer | Entity) -> str:
    text = json.dumps(
        {"v": 0, "id": item.id, "t": to_ms(item.created_at, field="created_at")},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _position(cursor: str) -> tuple[int, str] | None:
    """Where a `start_cursor` points ((created_at, id)); None for the first page."""
    if not cursor:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = (found["t"], found["id"])
    except (binascii.Error, ValueError, UnicodeError, TypeError, KeyError):
        position = None
    if position is None or not isinstance(position[0], int) or not isinstance(position[1], str):
        raise InvalidRequest(
            f"start_cursor: {cursor!r} is not a cursor this server returned",
            code="invalid_cursor",
            field="start_cursor",
        )
    return position


def _page(
    body: Body, kind: str, items: Iterable[T], matches: Callable[[T], bool]
) -> tuple[list[T], str | None]:
    """One page of `items` newest first (or oldest first with `sort_order: "asc"`)."""
    limit = body.whole("limit", minimum=1, maximum=5000)
    limit = 50 if limit is None else limit
    if limit > _ORG_MAX[kind]:
        raise InvalidRequest(
            f"limit {limit} exceeds max of {_ORG_MAX[kind]} for this org", code="invalid_request"
        )
    after = _position(body.text("start_cursor") or "")
    descending = body.choice("sort_order", ("asc", "desc")) != "asc"
    body.texts("processors")
    body.choice("subscription_status", ("active", "scheduled"))
    plans = body.data.get("plans")
    if plans is not None and not isinstance(plans, list):
        invalid("plans", "must be an array")
    span = body.nested("created_at_range")
    start = None if span is None else span.number("start")
    end = None if span is None else span.number("end")

    def key(item: T) -> tuple[int, str]:
        return (to_ms(item.created_at, field="created_at"), item.id)

    rows = sorted(
        (
            item
            for item in items
            if matches(item)
            and not plans  # no customer or entity of a ledger has a plan
            and (start is None or key(item)[0] >= start)
            and (end is None or key(item)[0] <= end)
            and (after is None or (key(item) < after if descending else key(item) > after))
        ),
        key=key,
        reverse=descending,
    )
    page = rows[:limit]
    return page, _cursor(page[-1]) if len(rows) > limit and page else None


def _search(body: Body) -> str | None:
    text = body.text("search")
    return text.casefold() if text else None


def list_customers(call: Call) -> Any:
    """`POST /v1/customers.list`: full customer objects, newest first, `search` matching a
    part of the id, name or email (any case)."""
    body = Body(call.body)
    search = _search(body)

    def matches(c: Customer) -> bool:
        fields = (c.id, c.name or "", c.email or "")
        return search is None or any(search in f.casefold() for f in fields)

    page, cursor = _page(body, "customers", every_customer(call.ledger), matches)
    return {"list": [_customer_payload(call, c.id, []) for c in page], "next_cursor": cursor}


def list_entities(call: Call) -> Any:
    """`POST /v1/entities.list`: every entity, or one customer's (an unknown customer is an
    empty list, as in Autumn), newest first, `search` matching a part of the id or name."""
    body = Body(call.body)
    customer_id = body.text("customer_id")
    if customer_id is not None and not customer_id.strip():
        invalid("customer_id", "cannot be empty")
    search = _search(body)

    def matches(e: Entity) -> bool:
        if customer_id is not None and e.customer_id != customer_id:
            return False
        return search is None or any(search in f.casefold() for f in (e.id, e.name or ""))

    page, cursor = _page(body, "entities", every_entity(call.ledger), matches)
    return {
        "list": [_entity_payload(call.ledger, e.customer_id, e.id) for e in page],
        "next_cursor": cursor,
    }


def delete_customer(call: Call) -> Any:
    """`POST /v1/customers.delete`: the customer and all it owns (404 for an unknown id)."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    body.boolean("delete_in_stripe")
    call.ledger.delete_customer(customer_id)
    return _SUCCESS


def delete_entity(call: Call) -> Any:
    """`POST /v1/entities.delete`: without customer_id, the entity's only owner (400
    `entity_id_required` for several; 404 `entity_not_found` for none, where Autumn
    answers a 500)."""
    body = Body(call.body)
    entity_id = body.required_text("entity_id")
    customer_id = body.text("customer_id") or _entity_owner(call.ledger, entity_id)
    if customer_id is None:
        raise EntityNotFound(entity_id)
    call.ledger.delete_entity(customer_id, entity_id)
    return _SUCCESS


def advance_test_clock(call: Call) -> Any:
    """`POST /v1/customers.advance_test_clock`: the ledger's ManualClock moved forward to
    `frozen_time` floored to the second; every customer shares that clock. The move is done
    when the answer comes, so its status is "ready" (Autumn: "advancing", then "ready")."""
    body = Body(call.body)
    customer_id = body.required_text("customer_id")
    frozen = body.whole("frozen_time")
    if frozen is None:
        invalid("frozen_time", "Required")
    instant(frozen, field="frozen_time")  # 1970 to 9999, as every instant
    call.ledger.get_customer(customer_id)
    clock = call.ledger.clock
    if not isinstance(clock, ManualClock):
        raise InvalidRequest(
            "This ledger has no test clock: it runs on "
            f"{getattr(clock, '__name__', type(clock).__name__)}; build it with "
            "Ledger(clock=ManualClock(...)) to advance time",
            code="invalid_request",
        )
    target = frozen // 1000 * 1000
    if target <= call.now:
        raise InvalidRequest(
            "frozen_time must be later than the current test clock time "
            f"({call.now} ms; received {frozen}, floored to {target})",
            code="invalid_request",
        )
    clock.set(target)
    return {"customer_id": customer_id, "frozen_time": target, "status": "ready"}


def list_plans(call: Call) -> Any:
    """`POST /v1/subscriptions.list` and `/v1/purchases.list`: checked as Autumn checks
    them, then empty (a ledger has no plans)."""
    body = Body(call.body)
    customer_id = body.text("customer_id")
    entity_id = body.text("entity_id")
    body.whole("limit", minimum=1, maximum=200)
    body.text("start_cursor")
    body.text("plan_id")
    statuses = body.texts("statuses")
    if statuses is not None:
        if not statuses:
            invalid("statuses", "must hold at least one status")
        for i, status in enumerate(statuses):
            if status not in ("active", "scheduled", "past_due", "expired"):
                invalid(f"statuses.{i}", "expected active | scheduled | past_due | expired")
    if entity_id is not None and customer_id is None:
        invalid("entity_id", "requires customer_id")
    if customer_id is not None:
        if entity_id is None:
            call.ledger.get_customer(customer_id)
        else:
            call.ledger.get_entity(customer_id, entity_id)
    return {"list": [], "has_more": False, "next_cursor": None}
