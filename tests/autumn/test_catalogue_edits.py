"""The more catalogue calls of autumn-catalogue-more.md, driven by the real autumn-sdk 1.2.0,
sync and async: customers.list / delete / advance_test_clock, entities.list / delete,
features.update / delete, subscriptions.list and purchases.list."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from autumn_sdk import errors

from meterlib import Ledger
from meterlib.autumn import AutumnTransport
from meterlib.autumn.sdk import AutumnFake
from meterlib.autumn.wire import encode

Call = Callable[..., Any]
Failure = Callable[[pytest.ExceptionInfo[errors.AutumnDefaultError]], tuple[int, Any]]
JAN_1 = 1_735_689_600_000  # the fake's start, 2025-01-01T00:00Z
FEB_1 = 1_738_368_000_000


def refused(call: Call, api_error: Failure, operation: str, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(errors.AutumnDefaultError) as info:
        call(operation, **kwargs)
    status, body = api_error(info)
    return status, body["code"]


@pytest.fixture
def three(fake: AutumnFake) -> AutumnFake:
    """c1 (Ann, at the start), c2 (Bob, a minute later), c3 (Cy, two minutes later)."""
    fake.advance(minutes=1)
    fake.ledger.create_customer("c2", name="Bob", email="bob@example.com")
    fake.advance(minutes=1)
    fake.ledger.create_customer("c3", name="Cy")
    fake.ledger.create("c3", "messages", included=5)
    return fake


class TestListCustomers:
    """`customers.list`: newest first, cursor pages, search, Autumn's limits."""

    def test_newest_first_with_balances(self, three: AutumnFake, call: Call) -> None:
        """Every customer, newest first, each the full customer object."""
        res = call("customers.list")
        assert [c.id for c in res.list] == ["c3", "c2", "c1"]
        assert res.list[0].balances["messages"].remaining == 5
        assert res.next_cursor is None

    def test_cursor_pages(self, three: AutumnFake, call: Call) -> None:
        """Pages of one, walked with next_cursor, meet each customer once; asc flips them."""
        seen, cursor = [], ""
        while True:
            res = call("customers.list", limit=1, start_cursor=cursor)
            seen += [c.id for c in res.list]
            if res.next_cursor is None:
                break
            cursor = res.next_cursor
        assert seen == ["c3", "c2", "c1"]
        assert [c.id for c in call("customers.list", sort_order="asc").list] == ["c1", "c2", "c3"]

    def test_search(self, three: AutumnFake, call: Call) -> None:
        """search matches a part of the id, name or email, in any case."""
        assert [c.id for c in call("customers.list", search="BOB@").list] == ["c2"]
        assert [c.id for c in call("customers.list", search="ann").list] == ["c1"]
        assert call("customers.list", search="zzz").list == []

    def test_refusals(self, three: AutumnFake, call: Call, api_error: Failure) -> None:
        """A garbage cursor, a limit of 0 and one above the org's 1000 are refused."""
        assert refused(call, api_error, "customers.list", start_cursor="%%") == (
            400,
            "invalid_cursor",
        )
        assert refused(call, api_error, "customers.list", limit=0) == (400, "invalid_inputs")
        assert refused(call, api_error, "customers.list", limit=1001) == (400, "invalid_request")


class TestDeleteCustomer:
    """`customers.delete`: success, then the customer is unknown."""

    def test_deleted(self, three: AutumnFake, call: Call, api_error: Failure) -> None:
        """A deleted customer is a 404 afterwards and is gone from the list."""
        assert call("customers.delete", customer_id="c3").success is True
        assert refused(call, api_error, "customers.get", customer_id="c3") == (
            404,
            "customer_not_found",
        )
        assert [c.id for c in call("customers.list").list] == ["c2", "c1"]

    def test_unknown(self, fake: AutumnFake, call: Call, api_error: Failure) -> None:
        """An unknown customer is Autumn's 404."""
        assert refused(call, api_error, "customers.delete", customer_id="nobody") == (
            404,
            "customer_not_found",
        )


@pytest.fixture
def seats(fake: AutumnFake) -> AutumnFake:
    """Seats s1 and s2 of c1 (s2 a minute later, with 4 messages of its own), s3 of c2."""
    ledger = fake.ledger
    ledger.create_feature("seats", consumable=False)
    ledger.create_entity("c1", "s1", feature_id="seats", name="First")
    fake.advance(minutes=1)
    ledger.create("c1", "messages", entity_id="s2", included=4)
    ledger.create_customer("c2")
    ledger.create_entity("c2", "s3", feature_id="seats")
    return fake


class TestEntities:
    """`entities.list` and `entities.delete`."""

    def test_list(self, seats: AutumnFake, call: Call) -> None:
        """All entities newest first, or one customer's; an unknown customer lists nothing."""
        assert {e.id for e in call("entities.list").list} == {"s1", "s2", "s3"}
        res = call("entities.list", customer_id="c1")
        assert [e.id for e in res.list] == ["s2", "s1"]
        assert res.list[0].balances["messages"].remaining == 4
        assert call("entities.list", customer_id="nobody").list == []
        assert [e.id for e in call("entities.list", search="firs").list] == ["s1"]

    def test_delete(self, seats: AutumnFake, call: Call, api_error: Failure) -> None:
        """An entity is deleted with or without its customer's id; then it is unknown."""
        assert call("entities.delete", customer_id="c1", entity_id="s2").success is True
        assert call("entities.delete", entity_id="s3").success is True
        assert [e.id for e in call("entities.list").list] == ["s1"]
        assert refused(call, api_error, "entities.delete", customer_id="c1", entity_id="s2") == (
            404,
            "entity_not_found",
        )
        assert refused(call, api_error, "entities.delete", customer_id="c9", entity_id="s1") == (
            404,
            "customer_not_found",
        )


class TestFeatures:
    """`features.update` and `features.delete`."""

    def test_update_name_and_event_names(self, fake: AutumnFake, call: Call) -> None:
        """A new name and event names are kept; a track by the new name reaches the feature."""
        fake.ledger.create("c1", "messages", included=10)
        res = call("features.update", feature_id="messages", name="Msgs", event_names=["sent"])
        assert (res.name, res.event_names) == ("Msgs", ["sent"])
        assert call("track", customer_id="c1", event_name="sent", value=3).value == 3
        assert fake.ledger.balance("c1", "messages").remaining == 7  # type: ignore[union-attr]

    def test_update_credit_schema(self, fake: AutumnFake, call: Call) -> None:
        """A credit system's schema is replaced."""
        res = call(
            "features.update",
            feature_id="credits",
            credit_schema=[{"metered_feature_id": "messages", "credit_cost": 5}],
        )
        assert [(c.metered_feature_id, c.credit_cost) for c in res.credit_schema] == [
            ("messages", 5)
        ]

    def test_update_refusals(self, fake: AutumnFake, call: Call, api_error: Failure) -> None:
        """Autumn's refusals: unknown, rename onto an existing id, rename or type change of a
        feature in use, credit system to metered."""
        fake.ledger.create("c1", "messages", included=1)
        for kwargs, expected in (
            ({"feature_id": "nope", "name": "x"}, (404, "feature_not_found")),
            ({"feature_id": "pro", "new_feature_id": "messages"}, (409, "duplicate_feature_id")),
            ({"feature_id": "messages", "new_feature_id": "msgs"}, (400, "invalid_feature")),
            ({"feature_id": "credits", "type_": "boolean"}, (400, "invalid_request")),
            ({"feature_id": "messages", "type_": "boolean"}, (400, "invalid_feature")),
            (
                {
                    "feature_id": "credits",
                    "credit_schema": [{"metered_feature_id": "pro", "credit_cost": 1}],
                },
                (400, "invalid_feature"),
            ),
        ):
            assert refused(call, api_error, "features.update", **kwargs) == expected
        assert fake.ledger.get_feature("messages").name == "Messages"

    def test_delete(self, fake: AutumnFake, call: Call, api_error: Failure) -> None:
        """A feature in use is a 409; an unused one is deleted and then unknown."""
        assert refused(call, api_error, "features.delete", feature_id="messages") == (
            409,
            "invalid_request",
        )  # the credit system lists it
        fake.ledger.create("c1", "pro")
        assert refused(call, api_error, "features.delete", feature_id="pro") == (
            409,
            "invalid_request",
        )
        assert call("features.delete", feature_id="credits").success is True
        assert refused(call, api_error, "features.get", feature_id="credits") == (
            404,
            "feature_not_found",
        )


class TestTestClock:
    """`customers.advance_test_clock` moves the ledger's ManualClock forward."""

    def test_a_monthly_reset_comes(self, fake: AutumnFake, call: Call) -> None:
        """Used up in January; moved to February by the SDK, the monthly grant is back."""
        call(
            "balances.create",
            customer_id="c1",
            feature_id="messages",
            included_grant=3,
            reset={"interval": "month"},
        )
        call("track", customer_id="c1", feature_id="messages", value=3)
        assert call("check", customer_id="c1", feature_id="messages").allowed is False
        res = call("customers.advance_test_clock", customer_id="c1", frozen_time=FEB_1 + 999)
        assert (res.customer_id, res.frozen_time, res.status) == ("c1", FEB_1, "ready")
        assert fake.clock() == FEB_1
        check = call("check", customer_id="c1", feature_id="messages")
        assert (check.allowed, check.balance.remaining) == (True, 3)

    def test_refusals(self, fake: AutumnFake, call: Call, api_error: Failure) -> None:
        """Not later than now (after flooring) is a 400; an unknown customer a 404."""
        for frozen in (JAN_1, JAN_1 + 999, JAN_1 - 1000):
            assert refused(
                call,
                api_error,
                "customers.advance_test_clock",
                customer_id="c1",
                frozen_time=frozen,
            ) == (400, "invalid_request")
        assert refused(
            call, api_error, "customers.advance_test_clock", customer_id="c9", frozen_time=FEB_1
        ) == (404, "customer_not_found")
        assert fake.clock() == JAN_1

    def test_another_clock_is_refused(self) -> None:
        """A ledger on the system clock has no test clock to move: 400 invalid_request."""
        ledger = Ledger()
        ledger.create_customer("c1")
        body = encode({"customer_id": "c1", "frozen_time": 4_000_000_000_000})
        status, payload = AutumnTransport(ledger).answer(
            "POST", "/v1/customers.advance_test_clock", body, {}
        )
        assert (status, payload["code"]) == (400, "invalid_request")
        assert "ManualClock" in json.dumps(payload)


class TestPlanListings:
    """`subscriptions.list` and `purchases.list`: empty, after Autumn's checks."""

    @pytest.mark.parametrize(
        "operation", ["customers.list_subscriptions", "customers.list_purchases"]
    )
    def test_empty(self, seats: AutumnFake, call: Call, api_error: Failure, operation: str) -> None:
        """Empty lists for a known subject; 404s and 400s as Autumn answers them."""
        res = call(operation, customer_id="c1", entity_id="s1")
        assert (res.list, res.has_more, res.next_cursor) == ([], False, None)
        assert call(operation).list == []
        assert refused(call, api_error, operation, customer_id="c9") == (404, "customer_not_found")
        assert refused(call, api_error, operation, customer_id="c1", entity_id="s9") == (
            404,
            "entity_not_found",
        )
        assert refused(call, api_error, operation, entity_id="s1") == (400, "invalid_inputs")
        assert refused(call, api_error, operation, limit=201) == (400, "invalid_inputs")
