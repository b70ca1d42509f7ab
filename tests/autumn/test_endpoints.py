"""Every endpoint of autumn-wire §3, driven by the real autumn-sdk 1.2.0, sync and async.

Each test runs twice through the `call` fixture: once on the SDK's sync client and once on
its async client, both wired to the same in-process AutumnTransport. Every answer is parsed
by the SDK's own pydantic models; the tests assert on those models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from autumn_sdk import errors, models

from meterlib.autumn.sdk import AutumnFake

Call = Callable[..., Any]
JAN_1 = 1_735_689_600_000  # the fake's start, 2025-01-01T00:00Z
FEB_1 = 1_738_368_000_000


class TestCheck:
    """`balances.check`: metered balances, flags, send_event, locks and previews."""

    def test_metered(self, fake: AutumnFake, call: Call) -> None:
        """A metered feature answers with a Balance and a null flag."""
        fake.ledger.create("c1", "messages", included=10, reset="month")
        res = call("check", customer_id="c1", feature_id="messages", required_balance=3)
        assert isinstance(res, models.CheckResponseBody1)
        assert res.allowed is True
        assert res.customer_id == "c1"
        assert res.flag is None
        assert res.required_balance == 3
        assert (res.balance.granted, res.balance.remaining, res.balance.usage) == (10, 10, 0)
        assert res.balance.next_reset_at == FEB_1
        assert res.balance.breakdown[0].reset.interval == "month"

    def test_not_enough(self, fake: AutumnFake, call: Call) -> None:
        """Asking for more than remains is allowed=False, not an error."""
        fake.ledger.create("c1", "messages", included=2)
        res = call("check", customer_id="c1", feature_id="messages", required_balance=3)
        assert res.allowed is False
        assert res.balance.remaining == 2

    def test_boolean(self, fake: AutumnFake, call: Call) -> None:
        """A boolean feature answers with a Flag and a null balance."""
        fake.ledger.create("c1", "pro")
        res = call("check", customer_id="c1", feature_id="pro")
        assert res.allowed is True
        assert res.balance is None
        assert res.flag is not None
        assert (res.flag.feature_id, res.flag.plan_id, res.flag.expires_at) == ("pro", None, None)

    def test_boolean_missing(self, fake: AutumnFake, call: Call) -> None:
        """Without the flag both balance and flag are null and allowed is False."""
        res = call("check", customer_id="c1", feature_id="pro")
        assert (res.allowed, res.balance, res.flag) == (False, None, None)

    def test_send_event(self, fake: AutumnFake, call: Call) -> None:
        """send_event deducts required_balance in the same call and records an event."""
        fake.ledger.create("c1", "messages", included=10)
        res = call(
            "check", customer_id="c1", feature_id="messages", required_balance=4, send_event=True
        )
        assert res.allowed is True
        assert res.balance.remaining == 6
        assert fake.ledger.balance("c1", "messages").usage == 4
        assert len(fake.ledger.events("c1").events) == 1

    def test_lock(self, fake: AutumnFake, call: Call) -> None:
        """A lock holds the amount until finalized; its expires_at float is accepted."""
        fake.ledger.create("c1", "messages", included=10)
        res = call(
            "check",
            customer_id="c1",
            feature_id="messages",
            required_balance=8,
            lock={"lock_id": "L1", "enabled": True, "expires_at": JAN_1 + 3_600_000},
        )
        assert res.allowed is True
        assert res.balance.remaining == 2

    def test_with_preview(self, fake: AutumnFake, call: Call) -> None:
        """A denied check with with_preview carries Autumn's preview object."""
        fake.ledger.create("c1", "messages", included=1)
        res = call(
            "check",
            customer_id="c1",
            feature_id="messages",
            required_balance=5,
            with_preview=True,
        )
        assert res.allowed is False
        assert res.preview.scenario == "usage_limit"
        assert res.preview.feature_id == "messages"
        assert res.preview.products == []

    def test_entity(self, fake: AutumnFake, call: Call) -> None:
        """entity_id is echoed and the entity's own grant is judged."""
        fake.ledger.create_entity("c1", "seat1")
        fake.ledger.create("c1", "messages", entity_id="seat1", included=3)
        res = call("check", customer_id="c1", feature_id="messages", entity_id="seat1")
        assert (res.entity_id, res.balance.remaining) == ("seat1", 3)


class TestTrack:
    """`balances.track`: by feature or event name, with every optional field."""

    def test_feature_id(self, fake: AutumnFake, call: Call) -> None:
        """Tracking deducts and answers with the balance after it and the deductions."""
        fake.ledger.create("c1", "messages", included=10, balance_id="main")
        res = call("track", customer_id="c1", feature_id="messages", value=3)
        assert isinstance(res, models.TrackResponseBody1)
        assert (res.customer_id, res.value) == ("c1", 3)
        assert (res.balance.remaining, res.balance.usage) == (7, 3)
        assert [(d.balance_id, d.feature_id, d.value) for d in res.deductions] == [
            ("main", "messages", 3)
        ]

    def test_event_name(self, fake: AutumnFake, call: Call) -> None:
        """An event name reaches the features that listen to it."""
        fake.ledger.create("c1", "messages", included=10)
        res = call("track", customer_id="c1", event_name="chat", value=2)
        assert res.event_name == "chat"
        assert fake.ledger.balance("c1", "messages").remaining == 8

    def test_default_value_is_one(self, fake: AutumnFake, call: Call) -> None:
        """Without value, one unit is tracked."""
        fake.ledger.create("c1", "messages", included=10)
        assert call("track", customer_id="c1", feature_id="messages").balance.remaining == 9

    def test_properties_and_timestamp(self, fake: AutumnFake, call: Call) -> None:
        """properties and a past int timestamp land on the recorded event."""
        fake.advance(days=1)
        fake.ledger.create("c1", "messages", included=10)
        call(
            "track",
            customer_id="c1",
            feature_id="messages",
            properties={"model": "gpt"},
            timestamp=JAN_1 + 5,
        )
        (event,) = fake.ledger.events("c1").events
        assert event.properties == {"model": "gpt"}
        assert int(event.timestamp.timestamp() * 1000) == JAN_1 + 5

    def test_overage_behavior(self, fake: AutumnFake, call: Call) -> None:
        """cap stops at the grant; overflow records every unit as usage."""
        fake.ledger.create("c1", "messages", included=5)
        capped = call("track", customer_id="c1", feature_id="messages", value=8)
        assert capped.balance.usage == 5
        over = call(
            "track", customer_id="c1", feature_id="messages", value=3, overage_behavior="overflow"
        )
        assert (over.balance.remaining, over.balance.usage) == (0, 8)

    def test_async_flag_is_applied_before_answering(self, fake: AutumnFake, call: Call) -> None:
        """async: true is answered 200 with the balance already deducted."""
        fake.ledger.create("c1", "messages", included=10)
        res = call("track", customer_id="c1", feature_id="messages", value=4, async_=True)
        assert isinstance(res, models.TrackResponseBody1)
        assert res.balance.remaining == 6
        assert fake.ledger.balance("c1", "messages").remaining == 6

    def test_negative_value_credits_back(self, fake: AutumnFake, call: Call) -> None:
        """A negative value gives units back (the reported balance follows Autumn's pick)."""
        fake.ledger.create("c1", "messages", included=10)
        call("track", customer_id="c1", feature_id="messages", value=6)
        res = call("track", customer_id="c1", feature_id="messages", value=-2)
        assert res.value == -2
        assert fake.ledger.balance("c1", "messages").remaining == 6


class TestBatchTrack:
    """`balances.batch_track`: a bare array in, `{"success": true}` out."""

    def test_applies_every_item(self, fake: AutumnFake, call: Call) -> None:
        """Items are applied in order before the answer, by feature or event name."""
        fake.ledger.create("c1", "messages", included=10)
        res = call(
            "batch_track",
            request=[
                {"customer_id": "c1", "feature_id": "messages"},
                {"customer_id": "c1", "event_name": "chat", "value": 3, "idempotency_key": "k1"},
            ],
        )
        assert isinstance(res, models.BatchTrackResponseBody1)
        assert res.success is True
        assert fake.ledger.balance("c1", "messages").remaining == 6
        assert len(fake.ledger.events("c1").events) == 2

    def test_repeated_item_key_is_dropped(self, fake: AutumnFake, call: Call) -> None:
        """An item whose idempotency_key was used is dropped silently, as Autumn's queue does."""
        fake.ledger.create("c1", "messages", included=10)
        item = {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "k1"}
        call("batch_track", request=[item, item])
        assert call("batch_track", request=[item]).success is True
        assert fake.ledger.balance("c1", "messages").remaining == 9


class TestBalancesCreateUpdateDelete:
    """`balances.create`, `balances.update` and `balances.delete` answer `{"success": true}`."""

    def test_create(self, fake: AutumnFake, call: Call) -> None:
        """Every field of the create body reaches the grant."""
        res = call(
            "balances.create",
            customer_id="c1",
            feature_id="messages",
            included_grant=100,
            reset={"interval": "week", "interval_count": 2},
            rollover={"max": None, "length": 1},
            next_reset_at=JAN_1 + 86_400_000,
            balance_id="b1",
        )
        assert isinstance(res, models.CreateBalanceResponse)
        assert res.success is True
        (item,) = fake.ledger.balance("c1", "messages").breakdown
        assert (item.id, item.included_grant, item.reset.interval) == ("b1", 100, "week")
        assert item.reset.interval_count == 2
        assert int(item.reset.resets_at.timestamp() * 1000) == JAN_1 + 86_400_000

    def test_create_unlimited_and_expiring(self, fake: AutumnFake, call: Call) -> None:
        """unlimited and expires_at (a float of ms) are accepted."""
        call("balances.create", customer_id="c1", feature_id="messages", unlimited=True)
        call(
            "balances.create",
            customer_id="c1",
            feature_id="credits",
            included_grant=5,
            expires_at=float(FEB_1),
        )
        assert fake.ledger.balance("c1", "messages").unlimited is True
        (item,) = fake.ledger.balance("c1", "credits").breakdown
        assert int(item.expires_at.timestamp() * 1000) == FEB_1

    def test_update(self, fake: AutumnFake, call: Call) -> None:
        """remaining, then add_to_balance, then the included grant change the balance."""
        fake.ledger.create("c1", "messages", included=10)
        res = call("balances.update", customer_id="c1", feature_id="messages", remaining=4)
        assert isinstance(res, models.UpdateBalanceResponse)
        assert fake.ledger.balance("c1", "messages").remaining == 4
        call("balances.update", customer_id="c1", feature_id="messages", add_to_balance=3)
        assert fake.ledger.balance("c1", "messages").remaining == 7
        call("balances.update", customer_id="c1", feature_id="messages", included_grant=20)
        assert fake.ledger.balance("c1", "messages").granted == 20

    def test_delete(self, fake: AutumnFake, call: Call) -> None:
        """Deleting by balance_id removes that grant only."""
        fake.ledger.create("c1", "messages", included=10, balance_id="a")
        fake.ledger.create("c1", "messages", included=5, balance_id="b")
        res = call("balances.delete", customer_id="c1", feature_id="messages", balance_id="a")
        assert isinstance(res, models.DeleteBalanceResponse)
        assert [i.id for i in fake.ledger.balance("c1", "messages").breakdown] == ["b"]

    def test_update_without_grant(self, fake: AutumnFake, call: Call, api_error: Any) -> None:
        """Updating a balance that does not exist is a 404 invalid_request."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            call("balances.update", customer_id="c1", feature_id="messages", remaining=1)
        status, body = api_error(info)
        assert (status, body["code"]) == (404, "invalid_request")


class TestBalancesList:
    """`balances.list`: one row per grant, filters, statuses and a cursor."""

    def test_rows(self, fake: AutumnFake, call: Call) -> None:
        """Each grant is a row with its owner, status and creation time."""
        fake.ledger.create("c1", "messages", included=10, balance_id="a", reset="month")
        fake.ledger.create_entity("c1", "seat1")
        fake.ledger.create("c1", "messages", entity_id="seat1", included=3, balance_id="e")
        fake.ledger.track("c1", "messages", value=4)
        res = call("balances.list", customer_id="c1")
        assert isinstance(res, models.ListBalancesResponse)
        assert (res.has_more, res.next_cursor) == (False, None)
        got = {
            r.id: (r.customer_id, r.entity_id, r.included_grant, r.remaining, r.status)
            for r in res.list
        }
        assert got == {
            "a": ("c1", None, 10, 6, "active"),
            "e": ("c1", "seat1", 3, 3, "active"),
        }
        assert all(r.created_at == JAN_1 for r in res.list)
        seat = call("balances.list", customer_id="c1", entity_id="seat1")
        assert [r.id for r in seat.list] == ["e"]

    def test_filters(self, fake: AutumnFake, call: Call) -> None:
        """feature_id filters by feature, plan_id null keeps standalone rows only."""
        fake.ledger.create("c1", "messages", included=10, balance_id="a")
        fake.ledger.create("c1", "messages", included=5, balance_id="p", plan_id="pro_plan")
        fake.ledger.create("c1", "credits", included=100, balance_id="c")
        by_feature = call("balances.list", customer_id="c1", feature_id="credits")
        assert [r.id for r in by_feature.list] == ["c"]
        standalone = call("balances.list", customer_id="c1", plan_id=None)
        assert sorted(r.id for r in standalone.list) == ["a", "c"]
        planned = call("balances.list", customer_id="c1", plan_id="pro_plan")
        assert [r.plan_id for r in planned.list] == ["pro_plan"]

    def test_expired_status(self, fake: AutumnFake, call: Call) -> None:
        """An expired grant is listed only when statuses asks for expired rows."""
        fake.ledger.create("c1", "messages", included=10, balance_id="old", expires_at=FEB_1)
        fake.ledger.create("c1", "messages", included=5, balance_id="new")
        fake.advance(months=1)
        active = call("balances.list", customer_id="c1")
        assert [r.id for r in active.list] == ["new"]
        expired = call("balances.list", customer_id="c1", statuses=["expired"])
        assert [(r.id, r.status) for r in expired.list] == [("old", "expired")]

    def test_cursor(self, fake: AutumnFake, call: Call) -> None:
        """limit pages the rows; next_cursor resumes after the last one."""
        for i in range(5):
            fake.ledger.create("c1", "messages", included=i + 1, balance_id=f"g{i}")
        first = call("balances.list", customer_id="c1", limit=2)
        assert (len(first.list), first.has_more) == (2, True)
        ids = [r.id for r in first.list]
        cursor = first.next_cursor
        while cursor is not None:
            page = call("balances.list", customer_id="c1", limit=2, start_cursor=cursor)
            ids += [r.id for r in page.list]
            cursor = page.next_cursor
        assert sorted(ids) == [f"g{i}" for i in range(5)]

    def test_every_customer(self, fake: AutumnFake, call: Call) -> None:
        """Without customer_id every customer's rows are listed."""
        fake.ledger.create("c1", "messages", included=1)
        fake.ledger.create("c2", "messages", included=2)
        res = call("balances.list")
        assert sorted((r.customer_id, r.included_grant) for r in res.list) == [
            ("c1", 1),
            ("c2", 2),
        ]


class TestFinalize:
    """`balances.finalize`: confirm or release a lock."""

    def test_release(self, fake: AutumnFake, call: Call) -> None:
        """Releasing gives the held amount back."""
        fake.ledger.create("c1", "messages", included=10)
        fake.ledger.check("c1", "messages", required_balance=8, lock={"lock_id": "L1"})
        res = call("balances.finalize", lock_id="L1", action="release")
        assert isinstance(res, models.FinalizeLockResponseBody1)
        assert res.success is True
        assert fake.ledger.balance("c1", "messages").remaining == 10

    def test_confirm_with_override(self, fake: AutumnFake, call: Call) -> None:
        """Confirming with override_value keeps that much instead (float on the wire)."""
        fake.ledger.create("c1", "messages", included=10)
        fake.ledger.check("c1", "messages", required_balance=8, lock={"lock_id": "L1"})
        call(
            "balances.finalize",
            lock_id="L1",
            action="confirm",
            override_value=5,
            properties={"why": "done"},
        )
        assert fake.ledger.balance("c1", "messages").remaining == 5


class TestCustomers:
    """`customers.get_or_create` and `customers.get` with balances and flags."""

    def test_get_or_create_new(self, fake: AutumnFake, call: Call) -> None:
        """A new customer is created with its details, every required key present."""
        res = call(
            "customers.get_or_create",
            customer_id="c2",
            name="Bo",
            email="bo@example.com",
            metadata={"tier": "gold"},
        )
        assert isinstance(res, models.Customer)
        assert (res.id, res.name, res.email, res.metadata) == (
            "c2",
            "Bo",
            "bo@example.com",
            {"tier": "gold"},
        )
        assert (res.env, res.created_at, res.balances, res.flags) == ("sandbox", JAN_1, {}, {})
        assert (res.subscriptions, res.purchases, res.licenses) == ([], [], [])
        assert fake.ledger.get_customer("c2").email == "bo@example.com"

    def test_get_or_create_existing(self, fake: AutumnFake, call: Call) -> None:
        """An existing customer is returned as it is, with its balances."""
        fake.ledger.create("c1", "messages", included=10)
        res = call("customers.get_or_create", customer_id="c1", name="Other")
        assert res.name == "Ann"
        assert res.balances["messages"].remaining == 10

    def test_null_customer_id(self, fake: AutumnFake, call: Call, api_error: Any) -> None:
        """A null customer_id (allowed by Autumn) is refused with a 400 naming the field."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            call("customers.get_or_create", customer_id=None, name="Anon")
        status, body = api_error(info)
        assert (status, body["code"]) == (400, "invalid_inputs")
        assert body["message"].startswith("customer_id:")

    def test_get(self, fake: AutumnFake, call: Call) -> None:
        """customers.get shows balances and flags keyed by feature id."""
        fake.ledger.create("c1", "messages", included=10)
        fake.ledger.create("c1", "pro")
        res = call("customers.get", customer_id="c1")
        assert isinstance(res, models.GetCustomerResponse)
        assert res.balances["messages"].granted == 10
        assert res.flags["pro"].feature_id == "pro"

    def test_expand_features(self, fake: AutumnFake, call: Call) -> None:
        """expand balances.feature and flags.feature embed the feature objects."""
        fake.ledger.create("c1", "messages", included=10)
        fake.ledger.create("c1", "pro")
        res = call("customers.get", customer_id="c1", expand=["balances.feature", "flags.feature"])
        assert res.balances["messages"].feature.name == "Messages"
        assert res.flags["pro"].feature.type == "boolean"


class TestEvents:
    """`events.list`: newest first, filters, custom_range and a cursor."""

    def test_list(self, fake: AutumnFake, call: Call) -> None:
        """Events come newest first with their deductions."""
        fake.ledger.create("c1", "messages", included=10)
        fake.ledger.track("c1", "messages", value=1)
        fake.advance(minutes=1)
        fake.ledger.track("c1", "messages", value=2)
        res = call("events.list", customer_id="c1")
        assert isinstance(res, models.ListEventsResponse)
        assert [e.value for e in res.list] == [2, 1]
        assert res.list[0].deductions[0].value == 2
        assert res.next_cursor is None

    def test_custom_range(self, fake: AutumnFake, call: Call) -> None:
        """custom_range (floats of ms) keeps events from start to before end."""
        fake.ledger.create("c1", "messages", included=10)
        for _ in range(3):
            fake.ledger.track("c1", "messages")
            fake.advance(hours=1)
        res = call(
            "events.list",
            customer_id="c1",
            custom_range={"start": JAN_1 + 3_600_000, "end": JAN_1 + 7_200_000},
        )
        assert [e.timestamp for e in res.list] == [JAN_1 + 3_600_000]

    def test_cursor(self, fake: AutumnFake, call: Call) -> None:
        """Pages of `limit` events follow each other through next_cursor."""
        fake.ledger.create("c1", "messages", included=100)
        for i in range(5):
            fake.ledger.track("c1", "messages", value=i + 1)
        seen: list[float] = []
        cursor = ""
        while True:
            page = call("events.list", customer_id="c1", limit=2, start_cursor=cursor)
            seen += [e.value for e in page.list]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [5, 4, 3, 2, 1]

    def test_several_features(self, fake: AutumnFake, call: Call) -> None:
        """feature_id may be a list; the cursor still resumes exactly after the last event."""
        fake.ledger.create_feature("images")
        fake.ledger.create_feature("videos")
        fake.ledger.create("c1", "messages", included=100)
        fake.ledger.create("c1", "images", included=100)
        fake.ledger.create("c1", "videos", included=100)
        for feature in ["messages", "videos", "images", "messages", "videos", "images"]:
            fake.ledger.track("c1", feature)
            fake.advance(seconds=1)
        first = call("events.list", customer_id="c1", feature_id=["messages", "images"], limit=3)
        assert [e.feature_id for e in first.list] == ["images", "messages", "images"]
        rest = call(
            "events.list",
            customer_id="c1",
            feature_id=["messages", "images"],
            limit=3,
            start_cursor=first.next_cursor,
        )
        assert [e.feature_id for e in rest.list] == ["messages"]
        assert rest.next_cursor is None

    def test_range_and_entity(self, fake: AutumnFake, call: Call) -> None:
        """range "24h" looks back a day from the fake's now; entity_id keeps that entity's."""
        fake.ledger.create_entity("c1", "seat1")
        fake.ledger.create("c1", "messages", included=100)
        fake.ledger.track("c1", "messages", value=1)
        fake.advance(days=2)
        fake.ledger.track("c1", "messages", value=2)
        fake.ledger.track("c1", "messages", value=3, entity_id="seat1")
        recent = call("events.list", customer_id="c1", range="24h")
        assert [e.value for e in recent.list] == [3, 2]
        seat = call("events.list", customer_id="c1", entity_id="seat1")
        assert [e.value for e in seat.list] == [3]

    def test_unknown_feature_filter(self, fake: AutumnFake, call: Call, api_error: Any) -> None:
        """A feature filter naming an unknown feature is 404 feature_not_found."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            call("events.list", customer_id="c1", feature_id=["messages", "nope"])
        assert api_error(info)[1]["code"] == "feature_not_found"

    def test_foreign_cursor(self, fake: AutumnFake, call: Call, api_error: Any) -> None:
        """A start_cursor this server never returned is 400 invalid_inputs naming start_cursor."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            call("events.list", customer_id="c1", start_cursor="garbage")
        status, body = api_error(info)
        assert (status, body["code"]) == (400, "invalid_inputs")
        assert body["message"].startswith("start_cursor:")


class TestFeatures:
    """`features.create`, `features.get` and `features.list` (with the SDK workaround)."""

    def test_create(self, fake: AutumnFake, call: Call) -> None:
        """A new metered feature comes back in Autumn's Feature shape."""
        res = call(
            "features.create",
            feature_id="images",
            name="Images",
            type_="metered",
            consumable=True,
            event_names=["render"],
        )
        assert isinstance(res, models.CreateFeatureResponse)
        assert (res.id, res.name, res.type, res.consumable, res.archived) == (
            "images",
            "Images",
            "metered",
            True,
            False,
        )
        assert fake.ledger.get_feature("images").event_names == ("render",)

    def test_create_credit_system(self, fake: AutumnFake, call: Call) -> None:
        """A credit system takes its schema as metered_feature_id / credit_cost pairs."""
        res = call(
            "features.create",
            feature_id="tokens",
            name="Tokens",
            type_="credit_system",
            credit_schema=[{"metered_feature_id": "messages", "credit_cost": 0.5}],
        )
        assert res.credit_schema[0].credit_cost == 0.5
        assert fake.ledger.get_feature("tokens").credit_schema == {"messages": 0.5}

    def test_get(self, fake: AutumnFake, call: Call) -> None:
        """features.get returns the feature."""
        res = call("features.get", feature_id="pro")
        assert isinstance(res, models.GetFeatureResponse)
        assert (res.id, res.type) == ("pro", "boolean")

    def test_list(self, fake: AutumnFake, call: Call) -> None:
        """features.list returns the catalogue in creation order."""
        res = call("features.list")
        assert isinstance(res, models.ListFeaturesResponse)
        assert [f.id for f in res.list] == ["messages", "pro", "credits"]
