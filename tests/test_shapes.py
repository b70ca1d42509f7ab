"""Autumn's wire shapes (`meterlib.shapes`, `meterlib.balance_shapes`): key order of the
documents the bridge and the CLI both answer, and shapes that read attributes only."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from meterlib import balance_shapes, shapes
from meterlib.models import Customer, Entity, Feature
from meterlib.results import Balance, BreakdownItem, Event, EventPage, Flag, Reset, Rollover

CREATED = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
CREATED_MS = 1_738_324_800_000
RESETS = datetime(2025, 2, 28, 12, 0, tzinfo=UTC)


def _balance() -> Balance:
    item = BreakdownItem(
        id="monthly",
        plan_id=None,
        included_grant=Decimal(100),
        prepaid_grant=Decimal(0),
        remaining=Decimal("-2.5"),
        usage=Decimal("102.5"),
        unlimited=False,
        reset=Reset(interval="month", interval_count=3, resets_at=RESETS),
        expires_at=None,
        overage_allowed=True,
        max_purchase=Decimal(10),
    )
    return Balance(
        feature_id="messages",
        granted=Decimal(100),
        remaining=Decimal("-2.5"),
        usage=Decimal("102.5"),
        unlimited=False,
        overage_allowed=True,
        max_purchase=Decimal(10),
        next_reset_at=RESETS,
        breakdown=(item,),
        rollovers=(Rollover(granted=Decimal(5), balance=Decimal(1), expires_at=None),),
    )


def _flag() -> Flag:
    return Flag(id="sso_grant", feature_id="sso", plan_id="pro", expires_at=None)


def test_customer_document_in_autumns_key_order() -> None:
    """The customer's fields, then no plans, then balances and flags, each in Autumn's shape."""
    customer = Customer(id="c1", name="One", metadata={"n": Decimal("1.5")}, created_at=CREATED)
    doc = shapes.customer_document(customer, {"messages": _balance()}, {"sso": _flag()})
    assert list(doc) == [
        "id", "name", "email", "created_at", "fingerprint", "stripe_id", "env", "metadata",
        "send_email_receipts", "billing_controls", "subscriptions", "purchases", "licenses",
        "balances", "flags",
    ]  # fmt: skip
    assert doc["created_at"] == CREATED_MS
    assert doc["metadata"] == {"n": 1.5}
    assert doc["env"] == "sandbox"
    assert doc["balances"]["messages"] == balance_shapes.balance(_balance())
    assert doc["flags"] == {
        "sso": {"id": "sso_grant", "plan_id": "pro", "expires_at": None, "feature_id": "sso"}
    }


def test_billing_controls_given_replace_the_stored_ones_in_place() -> None:
    """The bridge's controls (with each window's usage) take the stored controls' place."""
    customer = Customer(id="c1", created_at=CREATED, billing_controls={"usage_limits": []})
    shown = {"usage_limits": [{"feature_id": "messages", "usage": 3}]}
    doc = shapes.customer_document(customer, {}, {}, billing_controls=shown)
    assert doc["billing_controls"] == shown
    assert list(doc).index("billing_controls") == 9


def test_entity_document_names_its_feature_only_when_it_has_one() -> None:
    """`feature_id` is left out for an entity without one; no `licenses` on an entity."""
    plain = Entity(id="e1", customer_id="c1", created_at=CREATED)
    seat = Entity(id="e2", customer_id="c1", feature_id="seats", created_at=CREATED)
    assert list(shapes.entity_document(plain, {}, {})) == [
        "id", "customer_id", "name", "created_at", "env", "billing_controls", "subscriptions",
        "purchases", "balances", "flags",
    ]  # fmt: skip
    assert shapes.entity_document(seat, {}, {"sso": _flag()})["feature_id"] == "seats"


def test_balance_shape() -> None:
    """Numbers as JSON numbers, instants as epoch ms, an overage row's usage-based price, the
    reset's interval_count (not 1), a never-expiring rollover's expires_at 0."""
    out = balance_shapes.balance(_balance())
    assert json.dumps(out, separators=(",", ":")) == (
        '{"feature_id":"messages","granted":100,"remaining":-2.5,"usage":102.5,'
        '"unlimited":false,"overage_allowed":true,"max_purchase":10,'
        '"next_reset_at":1740744000000,"breakdown":[{"id":"monthly","plan_id":null,'
        '"included_grant":100,"prepaid_grant":0,"remaining":-2.5,"usage":102.5,'
        '"unlimited":false,"reset":{"interval":"month","resets_at":1740744000000,'
        '"interval_count":3},"price":{"billing_units":1,"billing_method":"usage_based",'
        '"max_purchase":10},"expires_at":null}],'
        '"rollovers":[{"granted":5,"balance":1,"expires_at":0}]}'
    )


def test_shapes_read_attributes_only() -> None:
    """Any object with the attributes has the shape: the shapes import no model."""
    feature = Feature(id="credits", credit_schema={"messages": Decimal("0.5")})
    like = SimpleNamespace(
        id="credits",
        name=None,
        type="metered",
        consumable=True,
        event_names=(),
        credit_schema={"messages": Decimal("0.5")},
    )
    assert shapes.feature(like) == feature.to_dict()
    assert feature.to_dict()["credit_schema"] == [
        {"metered_feature_id": "messages", "credit_cost": 0.5}
    ]


def test_event_page_and_error() -> None:
    """events.list: the list, then the cursor; an error body names Autumn's environment."""
    event = Event(
        id="evt_1",
        customer_id="c1",
        entity_id=None,
        feature_id=None,
        event_name="msg",
        value=Decimal(2),
        properties={},
        timestamp=CREATED,
        idempotency_key=None,
        deductions=(),
    )
    page = EventPage(events=(event,), next_cursor="abc")
    assert page.to_dict() == {"list": [shapes.event(event)], "next_cursor": "abc"}
    assert shapes.event(event)["feature_id"] == "msg"  # the event name stands in for it
    assert shapes.error("no", "not_found") == {
        "message": "no",
        "code": "not_found",
        "env": "sandbox",
    }


@pytest.mark.parametrize("module", [shapes, balance_shapes])
def test_shapes_stand_under_the_models(module: object) -> None:
    """The shapes import only the lowest floor (numbers, instants, errors, each other), so
    models and results can call them and the bridge and the CLI share them."""
    allowed = {"meterlib.quantity", "meterlib.instants", "meterlib.errors"}
    allowed |= {"meterlib.balance_shapes"}
    tree = ast.parse(Path(str(getattr(module, "__file__", ""))).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert {name for name in imported if name.startswith("meterlib")} <= allowed
