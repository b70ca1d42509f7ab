"""Every rejection branch of meterlib.validation, reached through the public API.

Each bad argument raises InvalidRequest (`invalid_inputs`) naming the field that was wrong,
with a message saying what would be right, before anything is written. The accepted edges
beside them (a percentage of exactly 100, a lock id of 256 characters, ...) pass. Every test
runs over every store.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from meterlib import CustomerNotFound, InvalidRequest, Ledger

NAN, INF = float("nan"), float("inf")
Call = Callable[[Ledger], object]


def grant(**kw: Any) -> Call:
    """create("new", "newfeat", included=10, **kw)."""
    return lambda lg: lg.create("new", "newfeat", **{"included": 10, **kw})


def monthly(rollover: object) -> Call:
    return grant(reset="month", rollover=rollover)


def track(**kw: Any) -> Call:
    return lambda lg: lg.track("c1", "messages", **kw)


def lock(value: object) -> Call:
    return lambda lg: lg.check("c1", "messages", lock=value)


def feature(**kw: Any) -> Call:
    return lambda lg: lg.create_feature("newfeat", **kw)


def credit(schema: object) -> Call:
    return feature(type="credit_system", credit_schema=schema)


# (id, call, the field named, a fragment of the message)
REJECTED = [
    ("blank-id", lambda lg: lg.create_customer("  "), "customer_id", "non-empty string"),
    ("negative-included", grant(included=-1), "included", ">= 0"),
    ("int-flag", lambda lg: lg.check("c1", "messages", send_event=1), "send_event", "true or"),
    ("properties-list", track(properties=["a"]), "properties", "object with string keys"),
    ("properties-int-key", track(properties={1: "a"}), "properties", "keys must be strings"),
    ("properties-nan", track(properties={"x": NAN}), "properties.x", "finite number"),
    ("properties-inf", track(properties={"x": -INF}), "properties.x", "finite number"),
    (
        "properties-decimal-inf",
        track(properties={"a": {"b": Decimal("Infinity")}}),
        "properties.a.b",
        "finite number",
    ),
    ("properties-list-item", track(properties={"a": [1, NAN]}), "properties.a[1]", "finite"),
    ("properties-set", track(properties={"a": {1, 2}}), "properties.a", "set is not a JSON"),
    (
        "metadata-nan",
        lambda lg: lg.create_customer("new", metadata={"k": NAN}),
        "metadata.k",
        "finite",
    ),
    (
        "unknown-interval",
        lambda lg: lg.update("c1", "messages", interval="fortnight", add_to_balance=1),
        "interval",
        "one_off",
    ),
    ("reset-int", grant(reset=5), "reset", "interval name or"),
    ("reset-unknown-key", grant(reset={"interval": "month", "every": 2}), "reset", "['every']"),
    (
        "reset-count-0",
        grant(reset={"interval": "day", "interval_count": 0}),
        "reset.interval_count",
        "from 1 to 1000",
    ),
    (
        "reset-count-1.5",
        grant(reset={"interval": "day", "interval_count": 1.5}),
        "reset.interval_count",
        "whole",
    ),
    ("rollover-str", monthly("month"), "rollover", "expected an object"),
    ("rollover-unknown-key", monthly({"max": 5, "expires": 1}), "rollover", "['expires']"),
    ("rollover-duration", monthly({"duration": "week"}), "rollover.duration", '"forever"'),
    ("rollover-max-0", monthly({"max": 0}), "rollover.max", "> 0"),
    ("rollover-max-negative", monthly({"max": -5}), "rollover.max", "> 0"),
    ("rollover-max-nan", monthly({"max": NAN}), "rollover.max", "finite"),
    ("rollover-pct-0", monthly({"max_percentage": 0}), "rollover.max_percentage", "(0, 100]"),
    ("rollover-pct-101", monthly({"max_percentage": "100.5"}), "rollover.max_percentage", "100"),
    ("rollover-length-0", monthly({"length": 0}), "rollover.length", ">= 1"),
    ("rollover-length-1.5", monthly({"length": 1.5}), "rollover.length", "whole number"),
    ("feature-type", feature(type="bool"), "type", "credit_system"),
    ("credit-schema-empty", credit({}), "credit_schema", "non-empty"),
    ("credit-schema-list", credit(["a"]), "credit_schema", "mapping"),
    ("credit-schema-blank-key", credit({"": 1}), "credit_schema key", "non-empty"),
    ("credit-cost-negative", credit({"messages": -1}), "credit_schema", ">= 0"),
    ("credit-cost-inf", credit({"messages": INF}), "credit_schema['messages']", "finite"),
    ("event-names-str", feature(event_names="chat"), "event_names", "list of strings"),
    ("event-names-blank", feature(event_names=["chat", ""]), "event_names[]", "non-empty"),
    ("behavior", track(overage_behavior="reject"), "overage_behavior", '"overflow"'),
    ("lock-list", lock(["l1"]), "lock", "lock_id"),
    ("lock-unknown-key", lock({"lock_id": "l1", "ttl": 5}), "lock", "['ttl']"),
    ("lock-disabled", lock({"lock_id": "l1", "enabled": False}), "lock.enabled", "true"),
    ("lock-id-257", lock({"lock_id": "x" * 257}), "lock.lock_id", "256"),
]


@pytest.fixture
def seeded(ledger: Ledger) -> Ledger:
    ledger.create("c1", "messages", included=100)
    return ledger


@pytest.mark.parametrize(
    ("call", "field", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in REJECTED]
)
def test_rejected(seeded: Ledger, call: Call, field: str, fragment: str) -> None:
    """The call raises InvalidRequest naming `field`, and writes nothing."""
    with pytest.raises(InvalidRequest) as info:
        call(seeded)
    assert (info.value.code, info.value.field) == ("invalid_inputs", field)
    assert fragment in str(info.value)
    assert [f.id for f in seeded.list_features()] == ["messages"]
    with pytest.raises(CustomerNotFound):
        seeded.get_customer("new")
    assert seeded.events("c1").events == ()
    balance = seeded.balance("c1", "messages")
    assert balance is not None
    assert balance.remaining == 100


ACCEPTED = [
    ("reset-count-none", grant(reset={"interval": "month", "interval_count": None})),
    ("rollover-pct-100", monthly({"max_percentage": 100})),
    ("rollover-forever-ignores-length", monthly({"duration": "forever", "length": 0})),
    ("credit-cost-0", credit({"messages": 0})),
    ("lock-id-256", lock({"lock_id": "x" * 256, "enabled": True})),
    ("properties-nested", track(properties={"a": [1, {"b": None}], "c": Decimal("1.5")})),
]


@pytest.mark.parametrize("call", [pytest.param(c, id=i) for i, c in ACCEPTED])
def test_accepted_edges(seeded: Ledger, call: Call) -> None:
    """The value beside each rejected one is accepted."""
    call(seeded)
