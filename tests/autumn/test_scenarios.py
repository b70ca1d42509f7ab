"""The native numeric scenarios, replayed through the real autumn-sdk client.

Grants are made with `balances.create`, usage with `track` / `check`, and the results are read
back from the SDK's own models, so every number crosses the wire twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from autumn_sdk import errors

from meterlib import CustomerNotFound
from meterlib.autumn.sdk import AutumnFake

FEB_1 = 1_738_368_000_000
MAR_1 = 1_740_787_200_000
APR_1 = 1_743_465_600_000


def remaining(fake: AutumnFake, feature_id: str = "messages", **kwargs: Any) -> float:
    """The remaining balance the SDK reads for a feature."""
    res = fake.autumn.check(customer_id="c1", feature_id=feature_id, **kwargs)
    return res.balance.remaining  # type: ignore[no-any-return]


def rows(balance: Any) -> dict[str, tuple[float, float, float]]:
    """Each breakdown item as (included_grant, remaining, usage), by id."""
    return {b.id: (b.included_grant, b.remaining, b.usage) for b in balance.breakdown}


class TestStackedBreakdowns:
    """Grants stack as breakdown rows and drain in Autumn's order."""

    def test_monthly_before_lifetime(self, fake: AutumnFake) -> None:
        """500 monthly + 200 lifetime: track 400 takes monthly; track 200 takes 100 + 100."""
        a = fake.autumn
        a.balances.create(
            customer_id="c1", feature_id="messages", included_grant=200, balance_id="lifetime"
        )
        a.balances.create(
            customer_id="c1",
            feature_id="messages",
            included_grant=500,
            reset={"interval": "month"},
            balance_id="monthly",
        )
        first = a.track(customer_id="c1", feature_id="messages", value=400)
        assert [b.id for b in first.balance.breakdown] == ["monthly", "lifetime"]
        assert rows(first.balance) == {"monthly": (500, 100, 400), "lifetime": (200, 200, 0)}
        second = a.track(customer_id="c1", feature_id="messages", value=200)
        assert rows(second.balance) == {"monthly": (500, 0, 500), "lifetime": (200, 100, 100)}
        totals = second.balance
        assert (totals.granted, totals.remaining, totals.usage) == (700, 100, 600)
        assert sorted(d.value for d in second.deductions) == [100, 100]

    def test_shorter_interval_first(self, fake: AutumnFake) -> None:
        """A daily grant drains before a monthly one, whatever the creation order."""
        for interval in ("month", "day"):
            fake.autumn.balances.create(
                customer_id="c1",
                feature_id="messages",
                included_grant=10,
                reset={"interval": interval},
                balance_id=interval,
            )
        res = fake.autumn.track(customer_id="c1", feature_id="messages", value=15)
        assert rows(res.balance) == {"day": (10, 0, 10), "month": (10, 5, 5)}

    def test_exact_decimals(self, fake: AutumnFake) -> None:
        """Ten tracks of 0.1 make usage exactly 1 on the wire."""
        fake.autumn.balances.create(customer_id="c1", feature_id="messages", included_grant=2)
        for _ in range(10):
            res = fake.autumn.track(customer_id="c1", feature_id="messages", value=0.1)
        assert (res.balance.usage, res.balance.remaining) == (1, 1)


class TestCreditSystems:
    """A member feature drains its own rows, then the credit pool at its credit cost."""

    def test_credits_pay_for_members(self, fake: AutumnFake) -> None:
        """10 messages at 2 credits each take 20 credits; the reported balance is the pool."""
        fake.autumn.balances.create(customer_id="c1", feature_id="credits", included_grant=100)
        res = fake.autumn.track(customer_id="c1", feature_id="messages", value=10)
        assert res.balance.feature_id == "credits"
        assert (res.balance.granted, res.balance.remaining, res.balance.usage) == (100, 80, 20)
        assert [(d.feature_id, d.value) for d in res.deductions] == [("credits", 20)]
        assert res.balances["messages"] is None

    def test_own_rows_first(self, fake: AutumnFake) -> None:
        """Own 5 + credits 100, track 10: 5 own messages, then 5 × 2 = 10 credits."""
        a = fake.autumn
        a.balances.create(customer_id="c1", feature_id="messages", included_grant=5)
        a.balances.create(customer_id="c1", feature_id="credits", included_grant=100)
        a.track(customer_id="c1", feature_id="messages", value=10)
        balances = a.customers.get(customer_id="c1").balances
        assert (balances["messages"].remaining, balances["credits"].remaining) == (0, 90)

    def test_check_judges_the_credit_pool(self, fake: AutumnFake) -> None:
        """With only credits, a check on the member is answered from the pool in credits."""
        fake.autumn.balances.create(customer_id="c1", feature_id="credits", included_grant=7)
        allowed = fake.autumn.check(customer_id="c1", feature_id="messages", required_balance=3)
        assert (allowed.allowed, allowed.balance.feature_id, allowed.required_balance) == (
            True,
            "credits",
            6,
        )
        denied = fake.autumn.check(customer_id="c1", feature_id="messages", required_balance=4)
        assert denied.allowed is False

    def test_credit_system_made_over_the_wire(self, fake: AutumnFake) -> None:
        """A credit system created with features.create prices its members at 0.5."""
        a = fake.autumn
        a.features.create(feature_id="images", name="Images", type_="metered", consumable=True)
        a.features.create(
            feature_id="tokens",
            name="Tokens",
            type_="credit_system",
            credit_schema=[{"metered_feature_id": "images", "credit_cost": 0.5}],
        )
        a.balances.create(customer_id="c1", feature_id="tokens", included_grant=10)
        res = a.track(customer_id="c1", feature_id="images", value=3)
        assert (res.balance.feature_id, res.balance.remaining, res.balance.usage) == (
            "tokens",
            8.5,
            1.5,
        )


class TestResetsAndRollovers:
    """Advancing the fake's clock resets balances and rolls unused amounts over."""

    def test_monthly_reset(self, fake: AutumnFake) -> None:
        """After a month the usage is gone and the next boundary is a month later."""
        fake.autumn.balances.create(
            customer_id="c1", feature_id="messages", included_grant=100, reset={"interval": "month"}
        )
        fake.autumn.track(customer_id="c1", feature_id="messages", value=30)
        fake.advance(months=1)
        balance = fake.autumn.customers.get(customer_id="c1").balances["messages"]
        assert (balance.remaining, balance.usage, balance.next_reset_at) == (100, 0, MAR_1)

    def test_reset_at_exactly_the_boundary(self, fake: AutumnFake) -> None:
        """One millisecond before the boundary the usage stands; at the boundary it is gone."""
        fake.autumn.balances.create(
            customer_id="c1", feature_id="messages", included_grant=10, reset={"interval": "month"}
        )
        fake.autumn.track(customer_id="c1", feature_id="messages", value=4)
        fake.clock.set(FEB_1 - 1)
        assert remaining(fake) == 6
        fake.clock.set(FEB_1)
        assert remaining(fake) == 10

    def test_forever_rollover_drains_first(self, fake: AutumnFake) -> None:
        """70 rolled over at the boundary is used before the refilled 100."""
        fake.autumn.balances.create(
            customer_id="c1",
            feature_id="messages",
            included_grant=100,
            reset={"interval": "month"},
            rollover={"max": None, "length": 1, "duration": "forever"},
        )
        fake.autumn.track(customer_id="c1", feature_id="messages", value=30)
        fake.advance(months=1)
        balance = fake.autumn.check(customer_id="c1", feature_id="messages").balance
        assert (balance.granted, balance.remaining, balance.usage) == (170, 170, 0)
        assert [(r.granted, r.balance, r.expires_at) for r in balance.rollovers] == [(70, 70, 0)]
        after = fake.autumn.track(customer_id="c1", feature_id="messages", value=50).balance
        assert (after.remaining, after.usage) == (120, 50)
        assert [(r.granted, r.balance) for r in after.rollovers] == [(70, 20)]
        assert (after.breakdown[0].remaining, after.breakdown[0].usage) == (100, 0)

    def test_capped_rollover_expires(self, fake: AutumnFake) -> None:
        """max 50, length 1: 70 unused rolls over as 50 until the next boundary, then a new 50."""
        fake.autumn.balances.create(
            customer_id="c1",
            feature_id="messages",
            included_grant=100,
            reset={"interval": "month"},
            rollover={"max": 50, "length": 1},
        )
        fake.autumn.track(customer_id="c1", feature_id="messages", value=30)
        fake.advance(months=1)
        feb = fake.autumn.check(customer_id="c1", feature_id="messages").balance
        assert [(r.granted, r.balance, r.expires_at) for r in feb.rollovers] == [(50, 50, MAR_1)]
        fake.advance(months=1)
        mar = fake.autumn.check(customer_id="c1", feature_id="messages").balance
        assert [(r.balance, r.expires_at) for r in mar.rollovers] == [(50, APR_1)]
        (row,) = fake.autumn.balances.list(customer_id="c1").list
        assert [(r.balance, r.expires_at) for r in row.rollovers] == [(50, APR_1)]


class TestLocks:
    """The worked lock outcomes of autumn-check-track §7.3: 15 = 5 hourly + 10 monthly."""

    @pytest.fixture
    def fifteen(self, fake: AutumnFake) -> AutumnFake:
        """c1 holds 5 hourly + 10 monthly messages."""
        for interval, amount in (("hour", 5), ("month", 10)):
            fake.autumn.balances.create(
                customer_id="c1",
                feature_id="messages",
                included_grant=amount,
                reset={"interval": interval},
            )
        return fake

    @pytest.mark.parametrize(
        ("action", "override", "left", "event"),
        [
            ("release", None, 15, -8),
            ("confirm", 5, 10, -3),
            ("confirm", 11, 4, 3),
            ("confirm", None, 7, None),
            ("confirm", 8, 7, None),
        ],
    )
    def test_outcome(
        self, fifteen: AutumnFake, action: str, override: float | None, left: float, event: Any
    ) -> None:
        """Lock 8, then finalize: what remains and the finalize event's value (V − L)."""
        a = fifteen.autumn
        held = a.check(
            customer_id="c1",
            feature_id="messages",
            required_balance=8,
            lock={"lock_id": "L1", "enabled": True},
        )
        assert (held.allowed, held.balance.remaining) == (True, 7)
        kwargs = {} if override is None else {"override_value": override}
        a.balances.finalize(lock_id="L1", action=action, **kwargs)
        assert remaining(fifteen) == left
        values = [e.value for e in a.events.list(customer_id="c1").list]
        assert values == ([8] if event is None else [event, 8])

    def test_expiry_releases(self, fifteen: AutumnFake, api_error: Any) -> None:
        """A lock with expires_at gives its amount back at that instant; finalize is then 400."""
        a = fifteen.autumn
        a.check(
            customer_id="c1",
            feature_id="messages",
            required_balance=8,
            lock={"lock_id": "L1", "enabled": True, "expires_at": fifteen.clock() + 600_000},
        )
        fifteen.advance(minutes=9)
        assert remaining(fifteen) == 7
        fifteen.advance(minutes=1)
        assert remaining(fifteen) == 15
        with pytest.raises(errors.AutumnDefaultError) as info:
            a.balances.finalize(lock_id="L1", action="confirm")
        assert api_error(info)[0] == 400

    def test_denied_lock_holds_nothing(self, fifteen: AutumnFake) -> None:
        """A lock larger than the balance is allowed=False and deducts nothing."""
        res = fifteen.autumn.check(
            customer_id="c1",
            feature_id="messages",
            required_balance=16,
            lock={"lock_id": "L1", "enabled": True},
        )
        assert (res.allowed, remaining(fifteen)) == (False, 15)

    def test_async_lock_and_finalize(self, fifteen: AutumnFake) -> None:
        """The async client locks and finalizes through the same ledger."""
        a = fifteen.autumn

        async def run() -> None:
            await a.check_async(
                customer_id="c1",
                feature_id="messages",
                required_balance=8,
                lock={"lock_id": "L2", "enabled": True},
            )
            await a.balances.finalize_async(lock_id="L2", action="confirm", override_value=2)

        asyncio.run(run())
        assert remaining(fifteen) == 13


class TestFaithfulToAutumn:
    """Where the native API is friendlier, the bridge answers as Autumn does."""

    @pytest.mark.parametrize(
        ("operation", "kwargs"),
        [
            ("check", {"feature_id": "messages"}),
            ("track", {"feature_id": "messages"}),
            ("balances.create", {"feature_id": "messages", "included_grant": 5}),
            ("customers.get", {}),
            ("balances.list", {}),
        ],
    )
    def test_unknown_customer_is_404(
        self, fake: AutumnFake, api_error: Any, operation: str, kwargs: dict[str, Any]
    ) -> None:
        """An unknown customer is 404 customer_not_found, and nothing is created."""
        target: Any = fake.autumn
        *path, name = operation.split(".")
        for part in path:
            target = getattr(target, part)
        with pytest.raises(errors.AutumnDefaultError) as info:
            getattr(target, name)(customer_id="c9", **kwargs)
        status, body = api_error(info)
        assert (status, body["code"], body["message"]) == (
            404,
            "customer_not_found",
            "Customer c9 not found",
        )
        with pytest.raises(CustomerNotFound):
            fake.ledger.get_customer("c9")

    def test_create_does_not_invent_features(self, fake: AutumnFake, api_error: Any) -> None:
        """balances.create for an unknown feature is 404 feature_not_found."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.balances.create(customer_id="c1", feature_id="nope", included_grant=1)
        assert api_error(info)[1]["code"] == "feature_not_found"
        assert [f.id for f in fake.ledger.list_features()] == ["messages", "pro", "credits"]

    def test_create_does_not_invent_entities(self, fake: AutumnFake, api_error: Any) -> None:
        """balances.create for an unknown entity is 404 entity_not_found."""
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.balances.create(
                customer_id="c1", feature_id="messages", entity_id="e9", included_grant=1
            )
        assert api_error(info)[:1] == (404,)
        assert api_error(info)[1]["code"] == "entity_not_found"

    def test_track_idempotency_409(self, fake: AutumnFake, api_error: Any) -> None:
        """A repeated Idempotency-Key on track is 409 and deducts once."""
        fake.autumn.balances.create(customer_id="c1", feature_id="messages", included_grant=10)
        headers = {"Idempotency-Key": "order-1"}
        fake.autumn.track(customer_id="c1", feature_id="messages", value=3, http_headers=headers)
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.track(
                customer_id="c1", feature_id="messages", value=3, http_headers=headers
            )
        assert api_error(info)[:1] == (409,)
        assert remaining(fake) == 7
        assert len(fake.autumn.events.list(customer_id="c1").list) == 1

    def test_entity_rows_first(self, fake: AutumnFake) -> None:
        """Entity 10 + customer 100, track 15 for the entity: entity 0, customer 95."""
        fake.ledger.create_entity("c1", "seat1")
        a = fake.autumn
        a.balances.create(
            customer_id="c1", feature_id="messages", entity_id="seat1", included_grant=10
        )
        a.balances.create(customer_id="c1", feature_id="messages", included_grant=100)
        a.track(customer_id="c1", feature_id="messages", entity_id="seat1", value=15)
        listed = {r.entity_id: r.remaining for r in a.balances.list(customer_id="c1").list}
        assert listed == {"seat1": 0, None: 95}

    def test_overage_row_shows_its_price(self, fake: AutumnFake) -> None:
        """A pay-per-use grant (made natively) goes into overage and shows a usage-based price."""
        fake.ledger.create("c1", "messages", included=10, overage_allowed=True, max_purchase=5)
        res = fake.autumn.track(customer_id="c1", feature_id="messages", value=20)
        assert (res.balance.usage, res.balance.remaining, res.balance.max_purchase) == (15, 0, 5)
        price = res.balance.breakdown[0].price
        assert (price.billing_method, price.max_purchase) == ("usage_based", 5)
