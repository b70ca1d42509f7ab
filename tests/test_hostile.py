"""Hostile values at every public Ledger method and every bridge endpoint, on every store.

Huge, negative, NaN and infinite amounts, out-of-range and naive times, ids with lone
surrogates, NUL, control characters, too long or empty, JSON nested too deep, non-string keys,
huge ints and raw bodies JSON cannot even read: only a `MeterError` comes out of the Ledger,
only a 4xx in Autumn's error shape out of the bridge (sync and async), and after each refusal
the ledger is exactly as it was. `-m slow` runs the same properties with a larger budget.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meterlib import Ledger, ManualClock
from meterlib.autumn import ROUTES
from meterlib.autumn.transport import AutumnTransport
from meterlib.errors import MeterError
from meterlib.stores import Store

START = datetime(2025, 1, 31, 12, tzinfo=UTC)
NAN, INF = float("nan"), float("inf")
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def nested(levels: int, leaf: object = 1) -> object:
    """`levels` dicts one inside the other, built without recursion."""
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def looped() -> dict[str, Any]:
    """A dict that holds itself: deep without end."""
    loop: dict[str, Any] = {}
    loop["a"] = loop
    return loop


BAD_CHARS = "\ud800\udfff\x00\x01\x1f\x7f\n"
amounts = st.sampled_from(
    [
        10**18,
        -(10**18),
        10**20,
        10**5000,
        -(10**5000),
        NAN,
        INF,
        -INF,
        1e18,
        1e300,
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("-Infinity"),
        Decimal("1e-30"),
        Decimal("1e999999"),
        "1e400",
        "nan",
        "9" * 5000,
        True,
    ]
) | st.integers(min_value=10**18, max_value=10**40).map(lambda n: n * (-1) ** (n % 2))
times = st.sampled_from(
    [
        10**20,
        -(10**20),
        -1,
        10**5000,
        1e300,
        NAN,
        INF,
        datetime(2025, 1, 1),
        datetime(1969, 12, 31, tzinfo=UTC),
        datetime.max.replace(tzinfo=UTC),
        "2025-01-01",
    ]
)
ids = (
    st.sampled_from(["", "  ", "x" * 257, "é" * 300, 5, 10**5000, b"c1", ("c1",)])
    | st.builds(
        lambda head, bad, tail: head + bad + tail,
        st.text(max_size=5),
        st.text(alphabet=BAD_CHARS, min_size=1, max_size=3),
        st.text(max_size=5),
    )
    | st.text(alphabet=BAD_CHARS, min_size=1, max_size=10)
)
json_likes = st.sampled_from(
    [
        nested(33),
        nested(2000),
        nested(100_000),
        looped(),
        {1: "x"},
        {("a",): 1},
        {"k": 10**5000},
        {"k": NAN},
        {"k": {1, 2}},
        {"k": object()},
        {"k": "a\ud800"},
        {"a\ud800": 1},
        [nested(40)],
        "not an object",
    ]
)
hostile = st.one_of(amounts, times, ids, json_likes)

# every public method with arguments that work on the seeded ledger; one at a time is
# replaced by a hostile value (or, for batch_track, one key of an item)
CALLS: dict[str, dict[str, Any]] = {
    "create_feature": {"feature_id": "new", "name": "N", "type": "metered", "event_names": []},
    "get_feature": {"feature_id": "f"},
    "create_customer": {"customer_id": "c3", "name": "C", "email": "c@x", "metadata": {}},
    "get_customer": {"customer_id": "c1"},
    "update_customer": {"customer_id": "c1", "name": "N", "metadata": {}, "billing_controls": {}},
    "create_entity": {"customer_id": "c1", "entity_id": "e2", "feature_id": None, "name": "E"},
    "get_entity": {"customer_id": "c1", "entity_id": "e1"},
    "update_entity": {"customer_id": "c1", "entity_id": "e1", "billing_controls": {}},
    "create": {
        "customer_id": "c1",
        "feature_id": "f",
        "included": 5,
        "reset": "month",
        "rollover": {"max": 5},
        "expires_at": None,
        "next_reset_at": None,
        "balance_id": "b9",
        "max_purchase": None,
        "plan_id": "p",
        "entity_id": None,
    },
    "update": {
        "customer_id": "c1",
        "feature_id": "f",
        "add_to_balance": 1,
        "remaining": None,
        "usage": None,
        "included": None,
        "interval": None,
        "balance_id": None,
        "next_reset_at": None,
        "expires_at": None,
    },
    "delete": {"customer_id": "c2", "feature_id": "f", "balance_id": None, "interval": None},
    "balance": {"customer_id": "c1", "feature_id": "f", "entity_id": None},
    "balances": {"customer_id": "c1", "entity_id": None},
    "grants": {"customer_id": "c1", "entity_id": None, "statuses": ("active",)},
    "flags": {"customer_id": "c1", "entity_id": None},
    "usage_limits": {"customer_id": "c1", "entity_id": None},
    "check": {
        "customer_id": "c1",
        "feature_id": "f",
        "required_balance": 1,
        "send_event": True,
        "properties": {},
        "lock": {"lock_id": "l2"},
        "entity_id": None,
    },
    "track": {
        "customer_id": "c1",
        "feature_id": "big",
        "value": 9 * 10**16,
        "properties": {},
        "idempotency_key": None,
        "timestamp": None,
        "overage_behavior": "cap",
        "entity_id": None,
    },
    "batch_track": {"items": [{"customer_id": "c1", "feature_id": "f", "value": 1}]},
    "finalize": {"lock_id": "held", "action": "confirm", "override_value": 1, "properties": {}},
    "events": {"customer_id": "c1", "feature_id": None, "start": None, "end": None, "limit": 10},
    "claim_idempotency_key": {"key": "k9"},
    "prune": {"before": 0},
    "dump": {"fp": io.StringIO()},
    "restore": {"fp": io.StringIO()},
    "release_idempotency_key": {"key": "used"},
    "subscribe": {"callback": print, "events": None},
    "usage": {
        "feature_id": "f",
        "customer_id": "c1",
        "entity_id": None,
        "start": START - timedelta(days=2),
        "end": None,
        "bin_size": "day",
        "timezone": "Europe/Berlin",
        "group_by": "properties.k",
        "filter_by": {"k": "v"},
        "max_groups": 3,
        "measure": "count",
    },
    "list_customers": {"limit": 10, "cursor": None},
    "delete_customer": {"customer_id": "c2"},
    "list_entities": {"customer_id": "c1", "limit": 10, "cursor": None},
    "delete_entity": {"customer_id": "c1", "entity_id": "e1"},
    "update_feature": {
        "feature_id": "f",
        "name": "F",
        "event_names": ["go"],
        "credit_schema": None,
    },
    "delete_feature": {"feature_id": "pro"},
}
BATCH_KEYS = ("customer_id", "feature_id", "value", "properties", "timestamp", "entity_id")


def seed(ledger: Ledger) -> None:
    """Grants near the limit (an overage grant with 9.9×10^17 used), a credit system, a
    flag, an entity, an event, a claimed key and a held lock."""
    ledger.create_feature("f", event_names=("go",))
    ledger.create_feature("credits", type="credit_system", credit_schema={"f": 3})
    ledger.create_feature("pro", type="boolean")
    ledger.create("c1", "f", included=100, reset="month")
    ledger.create("c1", "credits", included=10**17)
    ledger.create("c1", "pro")
    ledger.create("c1", "f", included=10, entity_id="e1")
    ledger.create("c1", "big", included=10**17, overage_allowed=True)
    ledger.track("c1", "big", value=89 * 10**16)
    ledger.create("c2", "f", included=20)
    ledger.track("c1", "f", value=5, idempotency_key="used")
    assert ledger.check("c1", "f", required_balance=2, lock={"lock_id": "held"}).allowed


def snapshot(ledger: Ledger) -> Any:
    """Balances, grants, events, customers and features: what a refusal must leave as it was."""
    customers = ledger.list_customers().customers
    return (
        [c.to_dict() for c in customers],
        [f.to_dict() for f in ledger.list_features()],
        {
            c.id: (
                {k: v.to_dict() for k, v in ledger.balances(c.id).items()},
                [g.to_dict() for g in ledger.grants(c.id, statuses=("active", "expired"))],
            )
            for c in customers
        },
        {k: v.to_dict() for k, v in ledger.balances("c1", entity_id="e1").items()},
        [e.to_dict() for e in ledger.events(limit=1000).events],
    )


@pytest.fixture
def seeded(store: Store) -> Iterator[Ledger]:
    """A seeded Ledger over every store, on a clock that does not move."""
    ledger = Ledger(store, clock=ManualClock(START))
    seed(ledger)
    yield ledger


def call_with(ledger: Ledger, method: str, argument: str, value: object) -> Any:
    kwargs = dict(CALLS[method])
    if method == "batch_track" and argument != "items":
        kwargs["items"] = [{**kwargs["items"][0], argument: value}]
    else:
        kwargs[argument] = value
    return getattr(ledger, method)(**kwargs)


ledger_calls = st.sampled_from(sorted(CALLS)).flatmap(
    lambda m: st.tuples(
        st.just(m), st.sampled_from([*CALLS[m], *(BATCH_KEYS if m == "batch_track" else ())])
    )
)


def refuses_cleanly(ledger: Ledger, method: str, argument: str, value: object) -> None:
    before = snapshot(ledger)
    try:
        call_with(ledger, method, argument, value)
    except MeterError as exc:
        assert str(exc)
        assert snapshot(ledger) == before, (method, argument)
    else:  # a value that turned out acceptable: whatever it did must still read back
        snapshot(ledger)


class TestLedger:
    @FAST
    @given(target=ledger_calls, value=hostile)
    def test_only_meter_errors_and_nothing_changed(
        self, seeded: Ledger, target: tuple[str, str], value: object
    ) -> None:
        refuses_cleanly(seeded, *target, value)

    @pytest.mark.slow
    @SLOW
    @given(target=ledger_calls, value=hostile)
    def test_only_meter_errors_and_nothing_changed_at_length(
        self, seeded: Ledger, target: tuple[str, str], value: object
    ) -> None:
        refuses_cleanly(seeded, *target, value)

    def test_every_public_method_is_covered(self) -> None:
        public = {m for m in dir(Ledger) if not m.startswith("_")}
        assert public - set(CALLS) == {"list_features", "close", "open"}


@FAST
@given(
    url=hostile | st.sampled_from(["sqlite:///a\x00.db", "sqlite:///a\ud800.db", "memory://x"]),
    setting=st.sampled_from(["clock", "store", "approve_topup", "reverse_deduction_order"]),
    value=hostile,
)
def test_opening_and_constructing_refuse_cleanly(url: object, setting: str, value: object) -> None:
    """`Ledger.open` and the constructor take hostile arguments with a MeterError too."""
    with pytest.raises(MeterError):
        Ledger.open(url)  # type: ignore[arg-type]
    assume(not (setting == "reverse_deduction_order" and isinstance(value, bool)))  # valid
    with pytest.raises(MeterError):
        Ledger(**{setting: value})


# ---------------------------------------------------------------- the bridge

BODIES: dict[str, dict[str, Any]] = {
    "balances.check": {"customer_id": "c1", "feature_id": "f", "required_balance": 1},
    "balances.track": {"customer_id": "c1", "feature_id": "big", "value": 9 * 10**16},
    "balances.batch_track": {"items": [{"customer_id": "c1", "feature_id": "f"}]},
    "balances.finalize": {"lock_id": "held", "action": "confirm"},
    "balances.create": {"customer_id": "c1", "feature_id": "f", "included_grant": 5},
    "balances.update": {"customer_id": "c1", "feature_id": "f", "add_to_balance": 1},
    "balances.delete": {"customer_id": "c2", "feature_id": "f"},
    "balances.list": {"customer_id": "c1"},
    "customers.get_or_create": {"customer_id": "c3", "name": "C", "metadata": {}},
    "customers.get": {"customer_id": "c1"},
    "customers.update": {"customer_id": "c1", "name": "N", "billing_controls": {}},
    "entities.create": {"customer_id": "c1", "entity_id": "e2", "feature_id": "f"},
    "entities.get": {"customer_id": "c1", "entity_id": "e1"},
    "entities.update": {"customer_id": "c1", "entity_id": "e1", "billing_controls": {}},
    "events.list": {"customer_id": "c1"},
    "features.create": {"feature_id": "new", "name": "N", "type": "metered"},
    "features.get": {"feature_id": "f"},
    "features.list": {},
    "events.aggregate": {
        "feature_id": ["f", "big"],
        "customer_id": "c1",
        "range": "7d",
        "group_by": "properties.k",
        "filter_by": {"k": "v"},
        "timezone": "Europe/Berlin",
        "max_groups": 3,
        "measure": "count",
    },
    "customers.list": {"limit": 10, "search": "c", "start_cursor": ""},
    "customers.delete": {"customer_id": "c2"},
    "customers.advance_test_clock": {"customer_id": "c1", "frozen_time": 1_900_000_000_000},
    "entities.list": {"customer_id": "c1", "limit": 10},
    "entities.delete": {"customer_id": "c1", "entity_id": "e9"},
    "features.update": {"feature_id": "f", "name": "F", "event_names": ["go"]},
    "features.delete": {"feature_id": "pro"},
    "subscriptions.list": {"customer_id": "c1", "entity_id": "e1", "limit": 10},
    "purchases.list": {"customer_id": "c1", "statuses": ["active"]},
}
HOLE = '"\\u0000hole"'  # where raw JSON text replaces a field's value
# JSON text json.dumps cannot write (or that Python cannot read back), and what it can
raw_values = st.sampled_from(
    [
        "1e400",
        "-1e400",
        "9" * 5000,
        "1" + "0" * 18,
        "1e18",
        "1e20",
        "-100000000000000000000",
        '"c\\ud800"',
        '"c\\u0000"',
        '"c\\u001f"',
        '"' + "x" * 300 + '"',
        '""',
        "[" * 50 + "]" * 50,
        '{"a":' * 40 + "1" + "}" * 40,
        "[" * 100_000 + "]" * 100_000,
        '{"1": {"2": {"3": NaN}}}',
        "true",
        "null",
        '{"a": 1, "a": 2}',
    ]
)
raw_bodies = st.sampled_from(
    [b"\xff\xfe", b"[" * 100_000, b'{"a":' * 100_000, b"9" * 5000, b"{", b"NaN", b"[1, 2]"]
) | st.binary(max_size=40)


@pytest.fixture
def transport(seeded: Ledger) -> AutumnTransport:
    return AutumnTransport(seeded)


def send(transport: AutumnTransport, operation: str, content: bytes, *, use_async: bool) -> Any:
    url = f"https://api.useautumn.com/v1/{operation}"
    if not use_async:
        with httpx.Client(transport=transport) as client:
            return client.post(url, content=content)

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.post(url, content=content)

    return asyncio.run(run())


def answers_cleanly(transport: AutumnTransport, operation: str, content: bytes, aio: bool) -> None:
    before = snapshot(transport.ledger)
    response = send(transport, operation, content, use_async=aio)
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"message", "code", "env"}
        assert snapshot(transport.ledger) == before, (operation, content[:200])
    else:
        json.loads(response.content)


def answers_a_hostile_field(
    transport: AutumnTransport, target: tuple[str, str], raw: str, aio: bool
) -> None:
    operation, field = target
    body = json.dumps({**BODIES[operation], field: "\u0000hole"}).replace(HOLE, raw)
    answers_cleanly(transport, operation, body.encode(), aio)


bridge_fields = st.sampled_from(sorted(BODIES)).flatmap(
    lambda op: st.tuples(st.just(op), st.sampled_from(sorted(BODIES[op]) or ["customer_id"]))
)


class TestBridge:
    @FAST
    @given(target=bridge_fields, raw=raw_values, aio=st.booleans())
    def test_a_hostile_field_is_a_4xx_and_changes_nothing(
        self, transport: AutumnTransport, target: tuple[str, str], raw: str, aio: bool
    ) -> None:
        answers_a_hostile_field(transport, target, raw, aio)

    @FAST
    @given(operation=st.sampled_from(sorted(BODIES)), content=raw_bodies, aio=st.booleans())
    def test_a_hostile_body_is_a_4xx_and_changes_nothing(
        self, transport: AutumnTransport, operation: str, content: bytes, aio: bool
    ) -> None:
        answers_cleanly(transport, operation, content, aio)

    @pytest.mark.slow
    @SLOW
    @given(target=bridge_fields, raw=raw_values, aio=st.booleans())
    def test_a_hostile_field_at_length(
        self, transport: AutumnTransport, target: tuple[str, str], raw: str, aio: bool
    ) -> None:
        answers_a_hostile_field(transport, target, raw, aio)

    def test_every_endpoint_is_covered(self) -> None:
        assert set(BODIES) == set(ROUTES)
