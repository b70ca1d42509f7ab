"""Billing controls through the real SDK: customers.update / get_or_create / get, entities.*.

The fake's clock starts on Wednesday 2025-01-01 00:00 UTC. `fake` has features messages
(metered), pro (boolean), credits (2 per message) and customer c1 (see conftest).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from autumn_sdk import errors, models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlib.autumn.sdk import AutumnFake
from meterlib.autumn.wire import encode

Call = Callable[..., Any]
ApiError = Callable[[pytest.ExceptionInfo[errors.AutumnDefaultError]], tuple[int, Any]]

DAILY_5 = {"feature_id": "messages", "limit": 5, "interval": "day"}
GPT = {"properties": {"model": "gpt"}}
SPEND_3 = {"feature_id": "messages", "enabled": True, "overage_limit": 3}
ALERT_80 = {
    "feature_id": "messages",
    "threshold": 80,
    "threshold_type": "usage_percentage",
    "name": "80 percent",
}
ALLOCATION = {"feature_id": "messages", "interval": "month", "allocations": []}
EVERY_KIND = {
    "spend_limits": [SPEND_3],
    "usage_limits": [DAILY_5, {**DAILY_5, "limit": 2, "filter": GPT, "anchor": "utc"}],
    "usage_alerts": [ALERT_80],
    "overage_allowed": [{"feature_id": "messages", "enabled": True}],
    "auto_topups": [
        {
            "feature_id": "messages",
            "threshold": 1,
            "quantity": 10,
            "purchase_limit": {"interval": "month", "limit": 5},
        }
    ],
}


def controls_json(result: Any) -> dict[str, Any]:
    """The billing_controls of an SDK response as the JSON the fake sent."""
    dumped: dict[str, Any] = result.billing_controls.model_dump(by_alias=True, exclude_none=True)
    return dumped


def stored(fake: AutumnFake, customer_id: str = "c1") -> dict[str, Any]:
    """The customer's billing controls as the ledger keeps them."""
    return fake.ledger.get_customer(customer_id).billing_controls


def remaining(fake: AutumnFake, entity_id: str | None = None) -> Decimal:
    """c1's remaining messages, read natively."""
    balance = fake.ledger.balance("c1", "messages", entity_id=entity_id)
    assert balance is not None
    return balance.remaining


@pytest.fixture
def seats(fake: AutumnFake) -> AutumnFake:
    """`fake` plus a non-consumable seats feature, 100 monthly messages and seat e1 of c1."""
    fake.ledger.create_feature("seats", consumable=False)
    fake.ledger.create("c1", "messages", included=100, reset="month")
    fake.ledger.create_entity("c1", "e1", feature_id="seats")
    return fake


class TestCustomersUpdate:
    """`customers.update`: billing controls patched per key, read back in Autumn's shape."""

    def test_every_kind_reads_back(self, fake: AutumnFake, call: Call) -> None:
        """All five kinds come back with defaults written out, usage and source."""
        res = call("customers.update", customer_id="c1", billing_controls=EVERY_KIND)
        assert isinstance(res, models.UpdateCustomerResponse)
        got = controls_json(res)
        assert got["spend_limits"] == [{**SPEND_3, "overage_limit": 3.0, "source": "customer"}]
        assert got["usage_limits"] == [
            {**DAILY_5, "limit": 5.0, "enabled": True, "usage": 0.0, "source": "customer"},
            {
                **DAILY_5,
                "limit": 2.0,
                "enabled": True,
                "anchor": "utc",
                "filter": GPT,
                "usage": 0.0,
                "source": "customer",
            },
        ]
        assert got["usage_alerts"] == [
            {
                **ALERT_80,
                "threshold": 80.0,
                "enabled": True,
                "basis": "balance",  # the SDK model's default; the fake does not send it
                "source": "customer",
            }
        ]
        assert got["overage_allowed"] == [
            {"feature_id": "messages", "enabled": True, "source": "customer"}
        ]
        assert got["auto_topups"] == [
            {
                "feature_id": "messages",
                "enabled": False,
                "threshold": 1.0,
                "quantity": 10.0,
                "purchase_limit": {"interval": "month", "interval_count": 1.0, "limit": 5.0},
                "source": "customer",
            }
        ]
        assert controls_json(call("customers.get", customer_id="c1")) == got

    def test_stored_as_autumn_validates(self, fake: AutumnFake, call: Call) -> None:
        """The ledger keeps the validated entries: defaults in, no basis or source."""
        call("customers.update", customer_id="c1", billing_controls={"usage_alerts": [ALERT_80]})
        assert stored(fake) == {"usage_alerts": [{**ALERT_80, "enabled": True}]}

    def test_patch_per_key_and_clear(self, fake: AutumnFake, call: Call) -> None:
        """A key sent replaces its list, others are kept, and [] clears a key to []."""
        call("customers.update", customer_id="c1", billing_controls={"spend_limits": [SPEND_3]})
        call("customers.update", customer_id="c1", billing_controls={"usage_limits": [DAILY_5]})
        got = controls_json(call("customers.get", customer_id="c1"))
        assert set(got) == {"spend_limits", "usage_limits"}
        res = call("customers.update", customer_id="c1", billing_controls={"spend_limits": []})
        assert controls_json(res)["spend_limits"] == []
        assert len(controls_json(res)["usage_limits"]) == 1

    def test_details_and_metadata_merge(self, fake: AutumnFake, call: Call) -> None:
        """name and email change; metadata merges, a key sent as null is removed."""
        fake.ledger.update_customer("c1", metadata={"tier": "gold", "region": "eu"})
        res = call(
            "customers.update",
            customer_id="c1",
            name="Ann B",
            email="ann@example.com",
            metadata={"region": None, "seats": 3},
        )
        assert (res.name, res.email, res.metadata) == (
            "Ann B",
            "ann@example.com",
            {"tier": "gold", "seats": 3},
        )
        assert res.billing_controls.model_dump(exclude_none=True) == {}

    def test_unknown_customer(self, fake: AutumnFake, call: Call, api_error: ApiError) -> None:
        """An unknown customer is a 404 customer_not_found, and is not created."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            call("customers.update", customer_id="nobody", billing_controls={"spend_limits": []})
        assert api_error(info)[0] == 404
        assert api_error(info)[1]["code"] == "customer_not_found"
        assert [c.id for c in fake.ledger.list_customers().customers] == ["c1"]

    def test_bad_entry_changes_nothing(
        self, fake: AutumnFake, call: Call, api_error: ApiError
    ) -> None:
        """A negative limit is a 400 invalid_inputs naming the entry; nothing is written."""
        call("customers.update", customer_id="c1", billing_controls={"spend_limits": [SPEND_3]})
        bad = {"spend_limits": [], "usage_limits": [{**DAILY_5, "limit": -1}]}
        with pytest.raises(errors.AutumnDefaultError) as info:
            call("customers.update", customer_id="c1", name="Changed", billing_controls=bad)
        status, body = api_error(info)
        assert (status, body["code"]) == (400, "invalid_inputs")
        assert body["message"].startswith("billing_controls.usage_limits[0].limit:")
        customer = fake.ledger.get_customer("c1")
        assert (customer.name, customer.billing_controls["spend_limits"]) == (
            "Ann",
            [{**SPEND_3, "overage_limit": Decimal(3)}],
        )

    def test_duplicate_feature_is_refused(self, fake: AutumnFake, api_error: ApiError) -> None:
        """Two spend limits on one feature are a 400 with Autumn's message."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.customers.update(
                customer_id="c1", billing_controls={"spend_limits": [SPEND_3, SPEND_3]}
            )
        assert (
            "Only one spend limit entry is allowed per feature_id" in api_error(info)[1]["message"]
        )

    @pytest.mark.parametrize(
        ("controls", "field"),
        [
            ({"balance_allocations": [ALLOCATION]}, "billing_controls.balance_allocations"),
            (
                {"usage_limits": [{"feature_id": "messages", "usage": 3}]},
                "billing_controls.usage_limits[0].usage",
            ),
            (
                {"usage_alerts": [{**ALERT_80, "basis": "usage_limit"}]},
                "billing_controls.usage_alerts[0].basis",
            ),
        ],
    )  # fmt: skip
    def test_unmodelled_fields_are_refused(
        self, fake: AutumnFake, api_error: ApiError, controls: dict[str, Any], field: str
    ) -> None:
        """What the SDK can send but meterlib does not model is a 400 invalid_request."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.customers.update(customer_id="c1", billing_controls=controls)
        status, body = api_error(info)
        assert (status, body["code"]) == (400, "invalid_request")
        assert body["message"].startswith(f"{field}: ")
        assert stored(fake) == {}

    def test_renaming_is_refused(self, fake: AutumnFake, api_error: ApiError) -> None:
        """new_customer_id is a 400 invalid_request unless it is the same id."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.customers.update(customer_id="c1", new_customer_id="c2")
        assert api_error(info)[1]["code"] == "invalid_request"
        assert fake.autumn.customers.update(customer_id="c1", new_customer_id="c1").id == "c1"

    def test_enabling_a_topup_runs_it(self, fake: AutumnFake) -> None:
        """Enabling an auto top-up at its threshold grants its quantity at once."""
        fake.ledger.create("c1", "messages", included=1)
        topup = {**EVERY_KIND["auto_topups"][0], "enabled": True}
        res = fake.autumn.customers.update(
            customer_id="c1", billing_controls={"auto_topups": [topup]}
        )
        assert res.balances["messages"].remaining == 11

    def test_api_before_2_3_has_no_source(self, fake: AutumnFake) -> None:
        """With x-api-version 2.2.0 the entries carry no `source`, as in Autumn."""
        fake.ledger.update_customer("c1", billing_controls={"spend_limits": [SPEND_3]})
        body = encode({"customer_id": "c1"})
        old = fake.transport.answer("POST", "/v1/customers.get", body, {"x-api-version": "2.2.0"})
        new = fake.transport.answer("POST", "/v1/customers.get", body, {"x-api-version": "2.3.0"})
        assert old[1]["billing_controls"] == {"spend_limits": [{**SPEND_3}]}
        assert new[1]["billing_controls"]["spend_limits"][0]["source"] == "customer"


class TestGetOrCreate:
    """`customers.get_or_create` with billing_controls: checked first, applied when it creates."""

    def test_new_customer_gets_its_controls(self, fake: AutumnFake, call: Call) -> None:
        """A new customer is created with its controls and answers them."""
        res = call(
            "customers.get_or_create",
            customer_id="c2",
            billing_controls={"usage_limits": [DAILY_5], "spend_limits": [SPEND_3]},
        )
        assert isinstance(res, models.Customer)
        assert controls_json(res)["usage_limits"][0]["usage"] == 0
        assert set(stored(fake, "c2")) == {"usage_limits", "spend_limits"}

    def test_bad_controls_create_nothing(
        self, fake: AutumnFake, call: Call, api_error: ApiError
    ) -> None:
        """A bad billing_controls body is a 400 invalid_inputs and leaves no customer behind."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            call(
                "customers.get_or_create",
                customer_id="c2",
                name="Bo",
                billing_controls={"usage_limits": [{**DAILY_5, "limit": -1}]},
            )
        status, body = api_error(info)
        assert (status, body["code"]) == (400, "invalid_inputs")
        assert body["message"].startswith("billing_controls.usage_limits[0].limit:")
        assert [c.id for c in fake.ledger.list_customers().customers] == ["c1"]

    def test_unknown_key_creates_nothing(self, fake: AutumnFake, api_error: ApiError) -> None:
        """An unmodelled key is refused before the customer is created, too."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.customers.get_or_create(
                customer_id="c2",
                billing_controls={"usage_alerts": [{**ALERT_80, "basis": "included"}]},
            )
        assert api_error(info)[:1] == (400,)
        assert [c.id for c in fake.ledger.list_customers().customers] == ["c1"]

    def test_existing_customer_keeps_its_controls(self, fake: AutumnFake, call: Call) -> None:
        """For an existing customer the controls sent are checked but not applied."""
        fake.ledger.update_customer("c1", billing_controls={"spend_limits": [SPEND_3]})
        res = call(
            "customers.get_or_create", customer_id="c1", billing_controls={"spend_limits": []}
        )
        assert len(controls_json(res)["spend_limits"]) == 1

    def test_existing_customer_bad_controls(self, fake: AutumnFake, api_error: ApiError) -> None:
        """A malformed body is a 400 even when the customer exists."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.customers.get_or_create(
                customer_id="c1", billing_controls={"usage_limits": [{**DAILY_5, "limit": -1}]}
            )
        assert api_error(info)[0] == 400


class TestTakingEffect:
    """Controls set through the SDK govern check and track through the SDK."""

    def test_spend_limit_caps_overage(self, fake: AutumnFake, call: Call) -> None:
        """10 included with overage, spend limit 3: 13 allowed, 14 not; a track of 20 takes 13."""
        fake.ledger.create("c1", "messages", included=10, overage_allowed=True)
        call("customers.update", customer_id="c1", billing_controls={"spend_limits": [SPEND_3]})
        assert call("check", customer_id="c1", feature_id="messages", required_balance=13).allowed
        assert not call(
            "check", customer_id="c1", feature_id="messages", required_balance=14
        ).allowed
        res = call("track", customer_id="c1", feature_id="messages", value=20)
        assert (res.balance.usage, res.balance.remaining) == (13, 0)
        assert not call("check", customer_id="c1", feature_id="messages").allowed

    def test_usage_window(self, fake: AutumnFake, call: Call) -> None:
        """A daily limit of 5: track 3 reads usage 3, check 3 is refused, track 4 takes 2;
        the next day the window is empty again."""
        fake.ledger.create("c1", "messages", included=100, reset="month")
        call("customers.update", customer_id="c1", billing_controls={"usage_limits": [DAILY_5]})
        call("track", customer_id="c1", feature_id="messages", value=3)
        usage = call("customers.get", customer_id="c1").billing_controls.usage_limits[0].usage
        assert usage == 3
        assert not call(
            "check", customer_id="c1", feature_id="messages", required_balance=3
        ).allowed
        res = call("track", customer_id="c1", feature_id="messages", value=4)
        assert res.balance.remaining == 95
        assert call("customers.get", customer_id="c1").billing_controls.usage_limits[0].usage == 5
        fake.advance(days=1)
        assert call("customers.get", customer_id="c1").billing_controls.usage_limits[0].usage == 0
        assert call("check", customer_id="c1", feature_id="messages", required_balance=5).allowed

    def test_filtered_window(self, fake: AutumnFake) -> None:
        """A limit filtered on model=gpt counts and caps only gpt events."""
        fake.ledger.create("c1", "messages", included=100)
        limit = {**DAILY_5, "limit": 2, "filter": GPT}
        fake.autumn.customers.update(customer_id="c1", billing_controls={"usage_limits": [limit]})
        fake.autumn.track(
            customer_id="c1", feature_id="messages", value=5, properties={"model": "gpt"}
        )
        fake.autumn.track(
            customer_id="c1", feature_id="messages", value=5, properties={"model": "o1"}
        )
        assert remaining(fake) == 93
        got = fake.autumn.customers.get(customer_id="c1").billing_controls.usage_limits
        assert [(u.filter_.properties, u.usage) for u in got] == [({"model": "gpt"}, 2)]

    def test_overage_allowed_off(self, fake: AutumnFake) -> None:
        """overage_allowed disabled forbids a pay-per-use grant's overage."""
        fake.ledger.create("c1", "messages", included=2, overage_allowed=True)
        fake.autumn.customers.update(
            customer_id="c1",
            billing_controls={"overage_allowed": [{"feature_id": "messages", "enabled": False}]},
        )
        check = fake.autumn.check(customer_id="c1", feature_id="messages", required_balance=3)
        assert not check.allowed

    def test_async_client(self, fake: AutumnFake) -> None:
        """The async client sets, enforces and reads a usage window like the sync one."""
        fake.ledger.create("c1", "messages", included=100)
        autumn = fake.autumn

        async def run() -> tuple[bool, float | None]:
            await autumn.customers.update_async(
                customer_id="c1", billing_controls={"usage_limits": [DAILY_5]}
            )
            await autumn.track_async(customer_id="c1", feature_id="messages", value=9)
            check = await autumn.check_async(customer_id="c1", feature_id="messages")
            got = await autumn.customers.get_async(customer_id="c1")
            return check.allowed, got.billing_controls.usage_limits[0].usage

        assert asyncio.run(run()) == (False, 5)
        assert remaining(fake) == 95


class TestEntities:
    """`entities.create` / `get` / `update` with the entity's own billing controls."""

    def test_create_with_controls(self, seats: AutumnFake, call: Call) -> None:
        """A new entity answers its balances and its own controls, usage included."""
        res = call(
            "entities.create",
            customer_id="c1",
            entity_id="e2",
            feature_id="seats",
            name="Seat 2",
            billing_controls={"usage_limits": [{**DAILY_5, "limit": 3}]},
        )
        assert isinstance(res, models.CreateEntityResponse)
        assert (res.id, res.name, res.customer_id, res.feature_id) == (
            "e2",
            "Seat 2",
            "c1",
            "seats",
        )
        assert res.balances["messages"].remaining == 100
        assert (res.subscriptions, res.purchases, res.flags) == ([], [], {})
        assert controls_json(res) == {
            "usage_limits": [{**DAILY_5, "limit": 3.0, "enabled": True, "usage": 0.0}]
        }
        assert seats.ledger.get_entity("c1", "e2").billing_controls["usage_limits"][0]["limit"] == 3

    def test_entity_window_is_its_own(self, seats: AutumnFake, call: Call) -> None:
        """e1's own limit of 3 caps e1's tracks and shows in entities.get, not the customer's."""
        call("customers.update", customer_id="c1", billing_controls={"usage_limits": [DAILY_5]})
        own = {"usage_limits": [{**DAILY_5, "limit": 3}]}
        call("entities.update", customer_id="c1", entity_id="e1", billing_controls=own)
        res = call("track", customer_id="c1", feature_id="messages", entity_id="e1", value=4)
        assert res.balance.remaining == 97
        entity = call("entities.get", customer_id="c1", entity_id="e1")
        assert isinstance(entity, models.GetEntityResponse)
        assert controls_json(entity)["usage_limits"][0]["usage"] == 3
        customer = call("customers.get", customer_id="c1")
        assert customer.billing_controls.usage_limits[0].usage == 0

    def test_inherited_controls_are_not_shown(self, seats: AutumnFake) -> None:
        """An entity without its own controls shows none, though the customer's apply to it."""
        seats.autumn.customers.update(
            customer_id="c1", billing_controls={"usage_limits": [DAILY_5]}
        )
        seats.autumn.track(customer_id="c1", feature_id="messages", entity_id="e1", value=9)
        assert remaining(seats) == 95
        entity = seats.autumn.entities.get(customer_id="c1", entity_id="e1")
        assert controls_json(entity) == {}

    def test_entity_spend_limit(self, seats: AutumnFake) -> None:
        """An entity's spend limit caps the overage its checks may take."""
        seats.ledger.create("c1", "messages", included=1, entity_id="e1", overage_allowed=True)
        seats.autumn.entities.update(
            customer_id="c1", entity_id="e1", billing_controls={"spend_limits": [SPEND_3]}
        )
        ask = {"customer_id": "c1", "feature_id": "messages", "entity_id": "e1"}
        assert seats.autumn.check(**ask, required_balance=104).allowed
        assert not seats.autumn.check(**ask, required_balance=105).allowed

    def test_update_patches_per_key(self, seats: AutumnFake, call: Call) -> None:
        """entities.update replaces the keys it sends and keeps the others."""
        seats.ledger.update_entity("c1", "e1", billing_controls={"usage_limits": [DAILY_5]})
        res = call(
            "entities.update",
            customer_id="c1",
            entity_id="e1",
            billing_controls={"spend_limits": [SPEND_3], "usage_alerts": [ALERT_80]},
        )
        assert isinstance(res, models.UpdateEntityResponse)
        assert set(controls_json(res)) == {"spend_limits", "usage_limits", "usage_alerts"}
        assert "source" not in controls_json(res)["spend_limits"][0]

    def test_without_customer_id(self, seats: AutumnFake, call: Call) -> None:
        """Without customer_id the entity is found in whichever customer has it."""
        res = call("entities.get", entity_id="e1")
        assert res.customer_id == "c1"
        res = call("entities.update", entity_id="e1", billing_controls={"spend_limits": [SPEND_3]})
        assert res.billing_controls.spend_limits[0].overage_limit == 3

    def test_ambiguous_entity_id(self, seats: AutumnFake, api_error: ApiError) -> None:
        """Two customers with an e1: entities.get without customer_id is a 400."""
        seats.ledger.create_customer("c2")
        seats.ledger.create_entity("c2", "e1")
        with pytest.raises(errors.AutumnDefaultError) as info:
            seats.autumn.entities.get(entity_id="e1")
        assert api_error(info)[:1] == (400,)
        assert api_error(info)[1]["code"] == "entity_id_required"

    @pytest.mark.parametrize(
        "case",
        [
            ("entities.get", {"entity_id": "e9"}, "entity_not_found"),
            ("entities.get", {"entity_id": "e9", "customer_id": "c1"}, "entity_not_found"),
            ("entities.get", {"entity_id": "e1", "customer_id": "c9"}, "customer_not_found"),
            ("entities.update", {"entity_id": "e9"}, "customer_not_found"),
            ("entities.update", {"entity_id": "e9", "customer_id": "c1"}, "entity_not_found"),
        ],
    )
    def test_unknown(
        self, seats: AutumnFake, call: Call, api_error: ApiError, case: tuple[str, Any, str]
    ) -> None:
        """Unknown entities and customers are Autumn's 404s."""
        operation, kwargs, code = case
        with pytest.raises(errors.AutumnDefaultError) as info:
            call(operation, **kwargs)
        status, body = api_error(info)
        assert (status, body["code"]) == (404, code)

    def test_update_refuses_auto_topups(self, seats: AutumnFake) -> None:
        """Entities have no auto top-ups: a body with them is a 400 invalid_inputs."""
        topups = {"auto_topups": [{"feature_id": "messages", "threshold": 1, "quantity": 5}]}
        body = {"customer_id": "c1", "entity_id": "e1", "billing_controls": topups}
        status, payload = seats.transport.answer("POST", "/v1/entities.update", encode(body), {})
        assert (status, payload["code"]) == (400, "invalid_inputs")
        assert "auto_topups" in payload["message"]
        assert seats.ledger.get_entity("c1", "e1").billing_controls == {}

    def test_create_makes_the_customer(self, seats: AutumnFake) -> None:
        """A missing customer is created from customer_data, its controls included."""
        res = seats.autumn.entities.create(
            customer_id="c2",
            entity_id="e1",
            feature_id="seats",
            customer_data={"name": "Bo", "billing_controls": {"spend_limits": [SPEND_3]}},
        )
        assert res.customer_id == "c2"
        customer = seats.ledger.get_customer("c2")
        assert (customer.name, list(customer.billing_controls)) == ("Bo", ["spend_limits"])

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            ({"feature_id": "messages"}, (400, "invalid_request")),
            ({"feature_id": "ghost"}, (404, "feature_not_found")),
            (
                {"billing_controls": {"usage_limits": [{**DAILY_5, "limit": -1}]}},
                (400, "invalid_inputs"),
            ),
            (
                {"customer_data": {"billing_controls": {"spend_limits": [{"overage_limit": 1}]}}},
                (400, "invalid_inputs"),
            ),
        ],
    )
    def test_create_refusals_create_nothing(
        self,
        seats: AutumnFake,
        call: Call,
        api_error: ApiError,
        kwargs: dict[str, Any],
        expected: tuple[int, str],
    ) -> None:
        """A consumable or unknown feature, or bad controls, leave no customer or entity."""
        args = {"customer_id": "c2", "entity_id": "e2", "feature_id": "seats", **kwargs}
        with pytest.raises(errors.AutumnDefaultError) as info:
            call("entities.create", **args)
        status, body = api_error(info)
        assert (status, body["code"]) == expected
        assert [c.id for c in seats.ledger.list_customers().customers] == ["c1"]

    def test_create_existing(self, seats: AutumnFake, api_error: ApiError) -> None:
        """An entity id already used by the customer is a 409 entity_already_exists."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            seats.autumn.entities.create(customer_id="c1", entity_id="e1", feature_id="seats")
        assert api_error(info)[0] == 409
        assert api_error(info)[1]["code"] == "entity_already_exists"


class TestGuide:
    """The billing-controls example of docs/autumn.md runs as printed."""

    def test_example_passes(self, autumn_fake: AutumnFake) -> None:
        """The example's test function passes against a fresh fake."""
        text = (Path(__file__).resolve().parents[2] / "docs" / "autumn.md").read_text()
        found = re.search(r"<!-- billing-controls example -->\n```python\n(.*?)```", text, re.S)
        assert found is not None
        namespace: dict[str, Any] = {}
        exec(compile(found.group(1), "docs/autumn.md", "exec"), namespace)
        namespace["test_daily_cap"](autumn_fake)


class TestNoServerErrors:
    """Whatever billing_controls arrive, the answer is a 200 or a 4xx, and a 4xx writes nothing."""

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-5, 5)
        | st.floats(-1e3, 1e3)
        | st.sampled_from(["messages", "day", "utc", "usage", "balance", "", "x"])
    )
    nested = st.dictionaries(
        st.sampled_from(["properties", "interval", "limit"]),
        scalars | st.dictionaries(st.text(max_size=3), scalars, max_size=2),
        max_size=2,
    )
    entry = st.dictionaries(
        st.sampled_from(
            ["feature_id", "enabled", "limit", "interval", "anchor", "filter", "threshold",
             "threshold_type", "overage_limit", "limit_type", "quantity", "purchase_limit",
             "basis", "name", "source", "usage"]
        ),
        scalars | nested,
        max_size=6,
    )  # fmt: skip
    body = st.dictionaries(
        st.sampled_from(
            ["spend_limits", "usage_limits", "usage_alerts", "overage_allowed", "auto_topups",
             "balance_allocations", "other"]
        ),
        st.lists(entry, max_size=3) | scalars,
        max_size=3,
    )  # fmt: skip

    @settings(
        max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        operation=st.sampled_from(
            ["customers.update", "customers.get_or_create", "entities.create", "entities.update"]
        ),
        controls=body,
    )
    def test_any_controls(self, seats: AutumnFake, operation: str, controls: Any) -> None:
        """A 4xx leaves customers, entities and controls exactly as they were."""
        before = [
            (c, seats.ledger.get_entity("c1", "e1"))
            for c in seats.ledger.list_customers().customers
        ]
        request = {
            "customer_id": "c2" if operation == "entities.create" else "c1",
            "entity_id": "e1",
            "feature_id": "seats",
            "billing_controls": controls,
        }
        status, payload = seats.transport.answer("POST", f"/v1/{operation}", encode(request), {})
        assert status == 200 or (400 <= status < 500 and set(payload) == {"message", "code", "env"})
        json.dumps(payload)
        if status != 200:
            after = [
                (c, seats.ledger.get_entity("c1", "e1"))
                for c in seats.ledger.list_customers().customers
            ]
            assert after == before
