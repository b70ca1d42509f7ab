"""track() and batch_track(): the deduction algorithm of autumn-check-track §3 and §6."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import (
    CustomerNotFound,
    DuplicateIdempotencyKey,
    EntityNotFound,
    FeatureNotFound,
    InvalidRequest,
    Ledger,
    ManualClock,
)
from meterlib.results import Balance, TrackResult
from meterlib.stores import Store

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)
FEB_28 = datetime(2025, 2, 28, 12, tzinfo=UTC)


def bal(ledger: Ledger, feature_id: str = "messages", customer_id: str = "c1") -> Balance:
    b = ledger.balance(customer_id, feature_id)
    assert b is not None
    return b


def totals(b: Balance) -> tuple[Decimal, Decimal, Decimal]:
    return (b.granted, b.remaining, b.usage)


def rows(b: Balance) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Each breakdown item as (included_grant, remaining, usage), by id."""
    return {i.id: (i.included_grant, i.remaining, i.usage) for i in b.breakdown}


def taken(result: TrackResult) -> dict[str, Decimal]:
    """What the track took, summed per feature."""
    out: dict[str, Decimal] = {}
    for d in result.deductions:
        out[d.feature_id] = out.get(d.feature_id, D(0)) + d.value
    return out


def events(ledger: Ledger, customer_id: str = "c1") -> list[object]:
    return list(ledger.events(customer_id).events)


@pytest.fixture
def credits(ledger: Ledger) -> Ledger:
    """requests (metered) and credits (credit system, 2 credits per request)."""
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create_customer("c1")
    return ledger


class TestDeductionOrder:
    """Rows drain in §3 order: resetting before lifetime, shorter first, expiring first, oldest."""

    def test_worked_example_500_monthly_200_lifetime(self, ledger: Ledger) -> None:
        """500 monthly + 200 lifetime: track 400 takes monthly; track 200 takes 100 + 100."""
        ledger.create("c1", "messages", included=200, balance_id="lifetime")
        ledger.create("c1", "messages", included=500, reset="month", balance_id="monthly")
        ledger.track("c1", "messages", value=400)
        b = bal(ledger)
        assert [i.id for i in b.breakdown] == ["monthly", "lifetime"]
        assert rows(b) == {
            "monthly": (D(500), D(100), D(400)),
            "lifetime": (D(200), D(200), D(0)),
        }
        assert totals(b) == (D(700), D(300), D(400))
        result = ledger.track("c1", "messages", value=200)
        b = bal(ledger)
        assert rows(b) == {
            "monthly": (D(500), D(0), D(500)),
            "lifetime": (D(200), D(100), D(100)),
        }
        assert totals(b) == (D(700), D(100), D(600))
        assert sorted(d.value for d in result.deductions) == [D(100), D(100)]

    def test_shorter_interval_first(self, ledger: Ledger) -> None:
        """A daily grant drains before a monthly one, whatever the creation order."""
        ledger.create("c1", "messages", included=10, reset="month", balance_id="M")
        ledger.create("c1", "messages", included=10, reset="day", balance_id="D")
        ledger.track("c1", "messages", value=15)
        b = bal(ledger)
        assert [i.id for i in b.breakdown] == ["D", "M"]
        assert rows(b) == {"D": (D(10), D(0), D(10)), "M": (D(10), D(5), D(5))}

    def test_interval_count_counts(self, ledger: Ledger) -> None:
        """Length is interval × count: a month (43200 min) drains before 5 weeks (50400 min)."""
        ledger.create(
            "c1",
            "messages",
            included=10,
            reset={"interval": "week", "interval_count": 5},
            balance_id="W5",
        )
        ledger.create("c1", "messages", included=10, reset="month", balance_id="M")
        ledger.track("c1", "messages", value=4)
        assert rows(bal(ledger)) == {"M": (D(10), D(6), D(4)), "W5": (D(10), D(10), D(0))}

    def test_sooner_expiry_first(self, ledger: Ledger) -> None:
        """Among one-off grants, the one expiring soonest drains first; none-expiring last."""
        ledger.create("c1", "messages", included=10, balance_id="never")
        ledger.create(
            "c1", "messages", included=10, expires_at=START + timedelta(days=9), balance_id="late"
        )
        ledger.create(
            "c1", "messages", included=10, expires_at=START + timedelta(days=2), balance_id="soon"
        )
        ledger.track("c1", "messages", value=15)
        b = bal(ledger)
        assert [i.id for i in b.breakdown] == ["soon", "late", "never"]
        assert rows(b) == {
            "soon": (D(10), D(0), D(10)),
            "late": (D(10), D(5), D(5)),
            "never": (D(10), D(10), D(0)),
        }

    def test_ties_go_by_creation_order(self, ledger: Ledger) -> None:
        """Grants equal on every rule drain oldest first."""
        ledger.create("c1", "messages", included=10, balance_id="first")
        ledger.create("c1", "messages", included=10, balance_id="second")
        ledger.track("c1", "messages", value=12)
        b = bal(ledger)
        assert [i.id for i in b.breakdown] == ["first", "second"]
        assert rows(b) == {"first": (D(10), D(0), D(10)), "second": (D(10), D(8), D(2))}

    def test_plain_before_overage_rows(self, ledger: Ledger) -> None:
        """Between otherwise equal grants, one without overage drains before an overage one."""
        ledger.create("c1", "messages", included=10, overage_allowed=True, balance_id="payg")
        ledger.create("c1", "messages", included=10, balance_id="plain")
        ledger.track("c1", "messages", value=4)
        b = bal(ledger)
        assert [i.id for i in b.breakdown] == ["plain", "payg"]
        assert rows(b) == {"plain": (D(10), D(6), D(4)), "payg": (D(10), D(10), D(0))}

    def test_drained_grant_stays_visible(self, ledger: Ledger) -> None:
        """A grant drained to exactly 0 is still shown (meterlib decision 3, unlike Autumn)."""
        ledger.create("c1", "messages", included=10, balance_id="g")
        ledger.track("c1", "messages", value=10)
        assert rows(bal(ledger)) == {"g": (D(10), D(0), D(10))}
        assert ledger.check("c1", "messages", required_balance=0).allowed is True

    def test_expired_grant_is_skipped(self, ledger: Ledger, clock: ManualClock) -> None:
        """A track never deducts from an expired grant."""
        ledger.create("c1", "messages", included=10, expires_at=START + timedelta(days=1))
        ledger.create("c1", "messages", included=10, balance_id="live")
        clock.advance(days=1)
        ledger.track("c1", "messages", value=3)
        assert rows(bal(ledger)) == {"live": (D(10), D(7), D(3))}

    def test_unlimited_absorbs_everything(self, ledger: Ledger) -> None:
        """An unlimited grant is a sink: a limited grant beside it is never touched."""
        ledger.create("c1", "messages", included=10, reset="day")
        ledger.create("c1", "messages", unlimited=True, balance_id="sink")
        ledger.track("c1", "messages", value=1000)
        b = bal(ledger)
        assert b.unlimited is True
        assert (b.granted, b.remaining, b.usage) == (D(0), D(0), D(1000))
        assert len(b.breakdown) == 1
        ledger.delete("c1", feature_id="messages", balance_id="sink")
        assert totals(bal(ledger)) == (D(10), D(10), D(0))

    def test_unlimited_refund(self, ledger: Ledger) -> None:
        """A refund on an unlimited grant lowers its usage counter."""
        ledger.create("c1", "messages", unlimited=True)
        ledger.track("c1", "messages", value=1000)
        ledger.track("c1", "messages", value=-300)
        assert bal(ledger).usage == D(700)


class TestTwoPasses:
    """Pass 1 takes positive balances from every row; only then pass 2 goes into overage."""

    def test_overage_only_after_all_positive_balances(self, ledger: Ledger) -> None:
        """A monthly overage row 10 + one-off 10, track 25: both drained, then A to −5."""
        ledger.create(
            "c1", "messages", included=10, reset="month", overage_allowed=True, balance_id="A"
        )
        ledger.create("c1", "messages", included=10, balance_id="B")
        ledger.track("c1", "messages", value=25)
        b = bal(ledger)
        assert rows(b) == {"A": (D(10), D(0), D(15)), "B": (D(10), D(0), D(10))}
        assert totals(b) == (D(20), D(0), D(25))

    def test_capped_overage_rows_fill_in_order(self, ledger: Ledger) -> None:
        """Pass 2 takes each overage row down to its floor in order: −5 on A, then −3 on B."""
        ledger.create(
            "c1",
            "messages",
            included=10,
            reset="month",
            overage_allowed=True,
            max_purchase=5,
            balance_id="A",
        )
        ledger.create(
            "c1", "messages", included=10, overage_allowed=True, max_purchase=3, balance_id="B"
        )
        result = ledger.track("c1", "messages", value=30)
        assert taken(result) == {"messages": D(28)}
        assert rows(bal(ledger)) == {"A": (D(10), D(0), D(15)), "B": (D(10), D(0), D(13))}

    def test_overage_goes_to_the_overage_row(self, ledger: Ledger) -> None:
        """Pass 2 skips rows without overage: a later overage row takes the excess."""
        ledger.create("c1", "messages", included=10, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=10, overage_allowed=True, balance_id="B")
        ledger.track("c1", "messages", value=25)
        assert rows(bal(ledger)) == {"A": (D(10), D(0), D(10)), "B": (D(10), D(0), D(15))}


class TestCapAndOverflow:
    """cap drops what does not fit; overflow drives the first row negative (§6.4, §6.5)."""

    def test_cap_at_the_limit(self, ledger: Ledger) -> None:
        """At the limit, a capped track changes nothing; an overflow track goes negative."""
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value=10)
        capped = ledger.track("c1", "messages", value=5)
        assert capped.deductions == ()
        assert capped.value == D(5)
        assert totals(bal(ledger)) == (D(10), D(0), D(10))
        over = ledger.track("c1", "messages", value=5, overage_behavior="overflow")
        assert taken(over) == {"messages": D(5)}
        assert totals(bal(ledger)) == (D(10), D(0), D(15))

    def test_cap_takes_what_is_there(self, ledger: Ledger) -> None:
        """Tracking 15 against 10 takes 10; the result still reports value 15."""
        ledger.create("c1", "messages", included=10)
        result = ledger.track("c1", "messages", value=15)
        assert result.value == D(15)
        assert taken(result) == {"messages": D(10)}
        assert totals(bal(ledger)) == (D(10), D(0), D(10))

    def test_cap_is_the_default(self, ledger: Ledger) -> None:
        """overage_behavior='cap' is what track does by default."""
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value=15, overage_behavior="cap")
        assert bal(ledger).usage == D(10)

    def test_overflow_pushes_the_first_row(self, ledger: Ledger) -> None:
        """Overflow drains every positive balance, then the first row takes the rest."""
        ledger.create("c1", "messages", included=10, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=10, balance_id="B")
        ledger.track("c1", "messages", value=25, overage_behavior="overflow")
        assert rows(bal(ledger)) == {"A": (D(10), D(0), D(15)), "B": (D(10), D(0), D(10))}

    def test_max_purchase_floor(self, ledger: Ledger) -> None:
        """included 10, max_purchase 5: track 20 stops at −5 (usage 15); further tracks take 0."""
        ledger.create("c1", "messages", included=10, overage_allowed=True, max_purchase=5)
        result = ledger.track("c1", "messages", value=20)
        assert taken(result) == {"messages": D(15)}
        assert totals(bal(ledger)) == (D(10), D(0), D(15))
        assert ledger.track("c1", "messages", value=1).deductions == ()
        assert bal(ledger).usage == D(15)

    def test_overflow_ignores_the_floor(self, ledger: Ledger) -> None:
        """overflow goes past max_purchase: included 10, max 5, track 20 → usage 20."""
        ledger.create("c1", "messages", included=10, overage_allowed=True, max_purchase=5)
        ledger.track("c1", "messages", value=20, overage_behavior="overflow")
        assert totals(bal(ledger)) == (D(10), D(0), D(20))

    def test_uncapped_overage(self, ledger: Ledger) -> None:
        """Overage without max_purchase has no floor under cap."""
        ledger.create("c1", "messages", included=10, overage_allowed=True)
        ledger.track("c1", "messages", value=1000)
        assert totals(bal(ledger)) == (D(10), D(0), D(1000))


class TestRefunds:
    """A negative value heals negative rows first, then refills rows in order up to their grant."""

    @pytest.mark.parametrize(("overage_allowed", "behavior"), [(True, "cap"), (False, "overflow")])
    def test_grant_5_track_8_refund_20(
        self, ledger: Ledger, overage_allowed: bool, behavior: str
    ) -> None:
        """Grant 5, track 8 → remaining 0 usage 8; track −20 → remaining 5 usage 0."""
        ledger.create("c1", "messages", included=5, overage_allowed=overage_allowed)
        ledger.track("c1", "messages", value=8, overage_behavior=behavior)
        assert totals(bal(ledger)) == (D(5), D(0), D(8))
        result = ledger.track("c1", "messages", value=-20)
        assert totals(bal(ledger)) == (D(5), D(5), D(0))
        assert taken(result) == {"messages": D(-8)}

    def test_negative_rows_heal_first(self, ledger: Ledger) -> None:
        """A 0 and B −5: a refund of 8 lifts B to 0 first, then A gets 3."""
        ledger.create("c1", "messages", included=10, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=10, overage_allowed=True, balance_id="B")
        ledger.track("c1", "messages", value=25)
        assert rows(bal(ledger)) == {"A": (D(10), D(0), D(10)), "B": (D(10), D(0), D(15))}
        ledger.track("c1", "messages", value=-8)
        b = bal(ledger)
        assert rows(b) == {"A": (D(10), D(3), D(7)), "B": (D(10), D(0), D(10))}
        assert totals(b) == (D(20), D(3), D(17))

    def test_refill_in_row_order(self, ledger: Ledger) -> None:
        """Refunds refill rows in deduction order, each up to its grant."""
        ledger.create("c1", "messages", included=10, reset="month", balance_id="A")
        ledger.create("c1", "messages", included=10, balance_id="B")
        ledger.track("c1", "messages", value=20)
        ledger.track("c1", "messages", value=-15)
        assert rows(bal(ledger)) == {"A": (D(10), D(10), D(0)), "B": (D(10), D(5), D(5))}

    def test_refund_capped_at_the_grant(self, ledger: Ledger) -> None:
        """Grant 10, 4 used: a refund of 10 stops at 10 remaining; the rest is dropped."""
        ledger.create("c1", "messages", included=10)
        ledger.track("c1", "messages", value=4)
        ledger.track("c1", "messages", value=-10)
        assert totals(bal(ledger)) == (D(10), D(10), D(0))

    def test_ceiling_includes_adjustments(self, ledger: Ledger) -> None:
        """After included raised 100 → 150, a refund may refill up to 150."""
        ledger.create("c1", "messages", included=100)
        ledger.update("c1", "messages", included=150)
        ledger.track("c1", "messages", value=-80)
        assert totals(bal(ledger)) == (D(150), D(150), D(0))

    def test_overflow_refund_has_no_ceiling(self, ledger: Ledger) -> None:
        """Under overflow a refund is not capped: grant 5, track −3 → remaining 8, usage −3."""
        ledger.create("c1", "messages", included=5)
        ledger.track("c1", "messages", value=-3, overage_behavior="overflow")
        assert totals(bal(ledger)) == (D(5), D(8), D(-3))


class TestCreditSystems:
    """A member feature drains its own rows, then credit pools at their credit cost (§1.1, §6.4)."""

    def test_two_credits_times_ten_requests(self, credits: Ledger) -> None:
        """10 requests at 2 credits each take 20 credits."""
        credits.create("c1", "credits", included=100)
        result = credits.track("c1", "requests", value=10)
        assert totals(bal(credits, "credits")) == (D(100), D(80), D(20))
        assert taken(result) == {"credits": D(20)}
        assert result.balance is not None
        assert result.balance.feature_id == "credits"
        assert set(result.balances) == {"requests", "credits"}
        assert result.balances["requests"] is None

    def test_own_rows_first(self, credits: Ledger) -> None:
        """Own 5 + credits 100, track 10: 5 own requests, then 5 × 2 = 10 credits."""
        credits.create("c1", "requests", included=5)
        credits.create("c1", "credits", included=100)
        result = credits.track("c1", "requests", value=10)
        assert bal(credits, "requests").remaining == D(0)
        assert bal(credits, "credits").remaining == D(90)
        assert taken(result) == {"requests": D(5), "credits": D(10)}

    def test_credits_drain_before_member_overage(self, credits: Ledger) -> None:
        """Own 5 with overage + credits 100: track 10 uses credits, not overage."""
        credits.create("c1", "requests", included=5, overage_allowed=True)
        credits.create("c1", "credits", included=100)
        credits.track("c1", "requests", value=10)
        assert totals(bal(credits, "requests")) == (D(5), D(0), D(5))
        assert bal(credits, "credits").remaining == D(90)

    def test_member_overage_after_credits(self, credits: Ledger) -> None:
        """Own 5 with overage + credits 10: track 20 → 5 own, 5 via credits, 10 overage own."""
        credits.create("c1", "requests", included=5, overage_allowed=True)
        credits.create("c1", "credits", included=10)
        credits.track("c1", "requests", value=20)
        assert totals(bal(credits, "requests")) == (D(5), D(0), D(15))
        assert totals(bal(credits, "credits")) == (D(10), D(0), D(10))

    def test_cap_in_credits(self, credits: Ledger) -> None:
        """Credits 10 cover 5 requests: track 7 takes all 10 credits and drops the rest."""
        credits.create("c1", "credits", included=10)
        result = credits.track("c1", "requests", value=7)
        assert taken(result) == {"credits": D(10)}
        assert bal(credits, "credits").remaining == D(0)

    def test_refund_goes_back_in_credits(self, credits: Ledger) -> None:
        """Refunding 5 requests gives 10 credits back, up to the credit grant."""
        credits.create("c1", "credits", included=100)
        credits.track("c1", "requests", value=10)
        credits.track("c1", "requests", value=-5)
        assert totals(bal(credits, "credits")) == (D(100), D(90), D(10))
        credits.track("c1", "requests", value=-50)
        assert totals(bal(credits, "credits")) == (D(100), D(100), D(0))

    def test_fractional_cost(self, ledger: Ledger) -> None:
        """At 0.5 credits per unit, 3 units take 1.5 credits."""
        ledger.create_feature("images")
        ledger.create_feature("credits", type="credit_system", credit_schema={"images": "0.5"})
        ledger.create("c1", "credits", included=10)
        ledger.track("c1", "images", value=3)
        assert totals(bal(ledger, "credits")) == (D(10), D("8.5"), D("1.5"))

    def test_tracking_the_credit_system_directly(self, credits: Ledger) -> None:
        """Tracking the credit system itself takes credits one for one."""
        credits.create("c1", "credits", included=10)
        credits.track("c1", "credits", value=3)
        assert bal(credits, "credits").remaining == D(7)


class TestEntities:
    """With entity_id the entity's rows drain before the customer's shared rows (§6.7)."""

    def test_entity_rows_first(self, ledger: Ledger) -> None:
        """Entity 10 + customer 100, track 15 for the entity: entity 0, customer 95."""
        ledger.create("c1", "messages", included=100, balance_id="shared")
        ledger.create("c1", "messages", included=10, entity_id="e1", balance_id="own")
        result = ledger.track("c1", "messages", entity_id="e1", value=15)
        assert result.entity_id == "e1"
        b = ledger.balance("c1", "messages", entity_id="e1")
        assert b is not None
        assert rows(b) == {"own": (D(10), D(0), D(10)), "shared": (D(100), D(95), D(5))}

    def test_customer_track_leaves_entity_rows(self, ledger: Ledger) -> None:
        """A customer-level track never touches entity-owned rows."""
        ledger.create("c1", "messages", included=100, balance_id="shared")
        ledger.create("c1", "messages", included=10, entity_id="e1", balance_id="own")
        ledger.track("c1", "messages", value=105)
        b = bal(ledger)
        assert rows(b) == {"shared": (D(100), D(0), D(100))}
        assert (b.granted, b.remaining, b.usage) == (D(110), D(10), D(100))
        e = ledger.balance("c1", "messages", entity_id="e1")
        assert e is not None
        assert rows(e)["own"] == (D(10), D(10), D(0))

    def test_unknown_entity(self, ledger: Ledger) -> None:
        """Tracking for an unknown entity raises EntityNotFound and records nothing."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(EntityNotFound):
            ledger.track("c1", "messages", entity_id="ghost")
        assert bal(ledger).usage == D(0)
        assert events(ledger) == []


class TestEventName:
    """event_name fans out to every listening feature and records one event (§6.3)."""

    def test_fan_out(self, ledger: Ledger) -> None:
        """Both listeners are deducted the full value; one event spans both."""
        ledger.create_feature("messages", event_names=("chat",))
        ledger.create_feature("tokens", event_names=("chat", "other"))
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "tokens", included=100)
        result = ledger.track("c1", event_name="chat", value=3)
        assert result.event_name == "chat"
        assert bal(ledger, "messages").usage == D(3)
        assert bal(ledger, "tokens").usage == D(3)
        assert taken(result) == {"messages": D(3), "tokens": D(3)}
        assert result.balance is None  # two distinct balances
        assert {"messages", "tokens"} <= set(result.balances)
        recorded = ledger.events("c1").events
        assert len(recorded) == 1
        event = recorded[0]
        assert (event.event_name, event.feature_id, event.value) == ("chat", None, D(3))
        assert {d.feature_id for d in event.deductions} == {"messages", "tokens"}

    def test_single_listener_reports_its_balance(self, ledger: Ledger) -> None:
        """With one listener the result's balance is that feature's."""
        ledger.create_feature("messages", event_names=("chat",))
        ledger.create("c1", "messages", included=100)
        result = ledger.track("c1", event_name="chat")
        assert result.balance is not None
        assert (result.balance.feature_id, result.balance.remaining) == ("messages", D(99))

    def test_listener_without_grant(self, ledger: Ledger) -> None:
        """A listening feature the customer has no grant of is skipped."""
        ledger.create_feature("messages", event_names=("chat",))
        ledger.create_feature("tokens", event_names=("chat",))
        ledger.create("c1", "messages", included=100)
        result = ledger.track("c1", event_name="chat", value=2)
        assert taken(result) == {"messages": D(2)}
        assert ledger.balance("c1", "tokens") is None

    def test_unknown_event_name(self, ledger: Ledger) -> None:
        """An event name no feature listens to raises FeatureNotFound and records nothing."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(FeatureNotFound):
            ledger.track("c1", event_name="nobody-listens")
        assert events(ledger) == []


class TestIdempotency:
    """A repeated idempotency_key within 24 h of clock time counts nothing (§6.10)."""

    def test_repeat_within_24h(self, ledger: Ledger, clock: ManualClock) -> None:
        """The repeat raises DuplicateIdempotencyKey and changes nothing."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", idempotency_key="k1")
        clock.advance(hours=23, minutes=59, seconds=59)
        with pytest.raises(DuplicateIdempotencyKey) as info:
            ledger.track("c1", "messages", value=5, idempotency_key="k1")
        assert info.value.code == "duplicate_idempotency_key"
        assert info.value.idempotency_key == "k1"
        assert bal(ledger).usage == D(1)
        assert len(events(ledger)) == 1

    def test_accepted_after_24h(self, ledger: Ledger, clock: ManualClock) -> None:
        """After 24 hours the same key is accepted again."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", idempotency_key="k1")
        clock.advance(hours=24, seconds=1)
        ledger.track("c1", "messages", idempotency_key="k1")
        assert bal(ledger).usage == D(2)

    def test_scope_is_the_whole_ledger(self, ledger: Ledger) -> None:
        """Keys are not per customer or feature: another customer repeating it is a duplicate."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c2", "tokens", included=100)
        ledger.track("c1", "messages", idempotency_key="k1")
        with pytest.raises(DuplicateIdempotencyKey):
            ledger.track("c2", "tokens", idempotency_key="k1")
        assert bal(ledger, "tokens", "c2").usage == D(0)

    def test_failed_call_does_not_keep_its_key(self, ledger: Ledger) -> None:
        """A call that raises releases its key: a retry gets the same error, then may succeed."""
        ledger.create("c1", "messages", included=100)
        for _ in range(2):
            with pytest.raises(EntityNotFound):
                ledger.track("c1", "messages", entity_id="ghost", idempotency_key="k1")
        with pytest.raises(InvalidRequest):
            ledger.track("c1", "messages", value="abc", idempotency_key="k1")
        ledger.track("c1", "messages", idempotency_key="k1")
        assert bal(ledger).usage == D(1)

    def test_event_name_claims_once(self, ledger: Ledger) -> None:
        """An event_name fan-out claims its key once for the whole request."""
        ledger.create_feature("messages", event_names=("chat",))
        ledger.create_feature("tokens", event_names=("chat",))
        ledger.create("c1", "messages", included=100)
        ledger.create("c1", "tokens", included=100)
        ledger.track("c1", event_name="chat", idempotency_key="k")
        with pytest.raises(DuplicateIdempotencyKey):
            ledger.track("c1", event_name="chat", idempotency_key="k")
        assert bal(ledger, "messages").usage == D(1)
        assert bal(ledger, "tokens").usage == D(1)

    def test_capped_track_keeps_its_key(self, ledger: Ledger) -> None:
        """A successful track that applied nothing still claims its key."""
        ledger.create("c1", "messages", included=1)
        ledger.track("c1", "messages", value=1)
        ledger.track("c1", "messages", value=5, idempotency_key="k2")
        with pytest.raises(DuplicateIdempotencyKey):
            ledger.track("c1", "messages", value=5, idempotency_key="k2")

    def test_key_recorded_on_the_event(self, ledger: Ledger) -> None:
        """The event carries the idempotency key."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", idempotency_key="k1")
        assert ledger.events("c1").events[0].idempotency_key == "k1"


class TestTimestampAndProperties:
    """timestamp sets the event time only; properties are stored on the event (§6.2)."""

    def test_default_timestamp_is_now(self, ledger: Ledger, clock: ManualClock) -> None:
        """Without timestamp the event is stamped with the clock's time."""
        ledger.create("c1", "messages", included=100)
        clock.advance(minutes=5)
        ledger.track("c1", "messages")
        assert ledger.events("c1").events[0].timestamp == clock.now()

    @pytest.mark.parametrize("as_ms", [False, True])
    def test_past_timestamp_is_recorded(self, ledger: Ledger, as_ms: bool) -> None:
        """A past timestamp is recorded on the event and deducts from today's balance."""
        ledger.create("c1", "messages", included=100)
        past = START - timedelta(days=3)
        ts: object = int(past.timestamp() * 1000) if as_ms else past
        ledger.track("c1", "messages", value=4, timestamp=ts)
        event = ledger.events("c1").events[0]
        assert event.timestamp == past
        assert event.timestamp.tzinfo is not None
        assert bal(ledger).usage == D(4)

    def test_past_timestamp_deducts_from_today(self, ledger: Ledger, clock: ManualClock) -> None:
        """A back-dated track hits the grants live now, not those live at its timestamp."""
        ledger.create("c1", "messages", included=10, expires_at=START + timedelta(days=1))
        ledger.create(
            "c1", "messages", included=10, expires_at=START + timedelta(days=30), balance_id="B"
        )
        clock.advance(days=2)
        ledger.track("c1", "messages", value=4, timestamp=START)
        assert rows(bal(ledger)) == {"B": (D(10), D(6), D(4))}
        assert ledger.events("c1").events[0].timestamp == START

    def test_timestamp_now_is_fine(self, ledger: Ledger, clock: ManualClock) -> None:
        """A timestamp equal to now is accepted."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", timestamp=clock.now())
        assert bal(ledger).usage == D(1)

    def test_future_timestamp_is_refused(self, ledger: Ledger, clock: ManualClock) -> None:
        """A timestamp after now is InvalidRequest (invalid_inputs) and changes nothing."""
        ledger.create("c1", "messages", included=100)
        with pytest.raises(InvalidRequest) as info:
            ledger.track("c1", "messages", timestamp=clock.now() + timedelta(milliseconds=1))
        assert info.value.code == "invalid_inputs"
        assert bal(ledger).usage == D(0)
        assert events(ledger) == []

    def test_properties(self, ledger: Ledger) -> None:
        """properties are stored on the event; without them the event has {}."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", properties={"model": "gpt", "n": 2})
        ledger.track("c1", "messages")
        newest, oldest = ledger.events("c1").events
        assert dict(oldest.properties) == {"model": "gpt", "n": 2}
        assert dict(newest.properties) == {}


class TestResult:
    """TrackResult reports the request, the balance after it and every deduction (§6.8)."""

    def test_fields(self, ledger: Ledger) -> None:
        """A simple track reports customer, value, balance after, and one deduction."""
        ledger.create("c1", "messages", included=10)
        result = ledger.track("c1", "messages", value=3)
        assert (result.customer_id, result.entity_id, result.event_name) == ("c1", None, None)
        assert result.value == D(3)
        assert result.balance is not None
        assert (result.balance.feature_id, result.balance.remaining) == ("messages", D(7))
        assert len(result.deductions) == 1
        d = result.deductions[0]
        assert (d.feature_id, d.value) == ("messages", D(3))
        assert d.balance_id == bal(ledger).breakdown[0].id

    def test_deductions_per_row(self, ledger: Ledger) -> None:
        """A track over two rows reports one deduction per row, in the row's units."""
        ledger.create("c1", "messages", included=10, reset="month")
        ledger.create("c1", "messages", included=10)
        result = ledger.track("c1", "messages", value=15)
        first, second = (i.id for i in bal(ledger).breakdown)
        assert {d.balance_id: d.value for d in result.deductions} == {first: D(10), second: D(5)}

    def test_default_value_is_one(self, ledger: Ledger) -> None:
        """track without value consumes 1."""
        ledger.create("c1", "messages", included=10)
        assert ledger.track("c1", "messages").value == D(1)
        assert bal(ledger).usage == D(1)

    def test_zero_value(self, ledger: Ledger) -> None:
        """value 0 deducts nothing but still records an event."""
        ledger.create("c1", "messages", included=10)
        result = ledger.track("c1", "messages", value=0)
        assert result.deductions == ()
        assert bal(ledger).usage == D(0)
        assert len(events(ledger)) == 1

    def test_no_grant_is_a_no_op(self, ledger: Ledger) -> None:
        """Tracking a feature the customer has no grant of succeeds, deducts nothing, records."""
        ledger.create_customer("c1")
        ledger.create_feature("messages")
        result = ledger.track("c1", "messages", value=2)
        assert (result.balance, result.deductions) == (None, ())
        assert len(events(ledger)) == 1

    def test_boolean_is_a_no_op(self, ledger: Ledger) -> None:
        """Tracking a boolean feature is a harmless no-op."""
        ledger.create_feature("sso", type="boolean")
        ledger.create("c1", "sso")
        result = ledger.track("c1", "sso")
        assert (result.balance, result.deductions) == (None, ())
        assert set(ledger.flags("c1")) == {"sso"}

    def test_unknown_customer(self, ledger: Ledger) -> None:
        """track never creates a customer: CustomerNotFound."""
        ledger.create_feature("messages")
        with pytest.raises(CustomerNotFound):
            ledger.track("ghost", "messages")

    def test_unknown_feature(self, ledger: Ledger) -> None:
        """track of an unknown feature raises FeatureNotFound."""
        ledger.create_customer("c1")
        with pytest.raises(FeatureNotFound):
            ledger.track("c1", "nope")


class TestExactDecimals:
    """Amounts are exact Decimals end to end (meterlib decision 4)."""

    def test_ten_tenths_make_one(self, ledger: Ledger) -> None:
        """10 × track(value=0.1) leaves usage exactly Decimal('1')."""
        ledger.create("c1", "messages", included=10)
        for _ in range(10):
            ledger.track("c1", "messages", value=0.1)
        b = bal(ledger)
        assert isinstance(b.usage, Decimal)
        assert b.usage == D("1")
        assert b.remaining == D("9")
        assert str(b.usage.normalize()) == "1"

    def test_tiny_amounts_survive(self, ledger: Ledger) -> None:
        """A fraction below 10 dp is kept natively (only the wire rounds)."""
        ledger.create("c1", "messages", included=1)
        ledger.track("c1", "messages", value="0.00000000001")
        assert bal(ledger).remaining == D("0.99999999999")


class TestRollovers:
    """Rollovers are consumed before any main balance (lifecycle §7.5)."""

    def test_rollover_drains_first(self, ledger: Ledger, clock: ManualClock) -> None:
        """70 rolled over at the boundary is used before the refilled 100."""
        ledger.create(
            "c1",
            "messages",
            included=100,
            reset="month",
            rollover={"max": None, "length": 1, "duration": "forever"},
        )
        ledger.track("c1", "messages", value=30)
        clock.set(FEB_28)
        b = bal(ledger)
        assert totals(b) == (D(170), D(170), D(0))
        assert [(r.granted, r.balance, r.expires_at) for r in b.rollovers] == [(D(70), D(70), None)]
        ledger.track("c1", "messages", value=50)
        b = bal(ledger)
        assert totals(b) == (D(170), D(120), D(50))
        assert [(r.granted, r.balance) for r in b.rollovers] == [(D(70), D(20))]
        assert (b.breakdown[0].remaining, b.breakdown[0].usage) == (D(100), D(0))


class TestReverseDeductionOrder:
    """reverse_deduction_order drains non-resetting and longer grants first (README decision 6)."""

    def test_lifetime_first(self, store: Store, clock: ManualClock) -> None:
        """500 monthly + 200 lifetime, reversed: track 300 takes the lifetime 200 first."""
        with Ledger(store, clock=clock, reverse_deduction_order=True) as ledger:
            ledger.create("c1", "messages", included=500, reset="month", balance_id="monthly")
            ledger.create("c1", "messages", included=200, balance_id="lifetime")
            ledger.track("c1", "messages", value=300)
            b = bal(ledger)
            assert [i.id for i in b.breakdown] == ["lifetime", "monthly"]
            assert rows(b) == {
                "lifetime": (D(200), D(0), D(200)),
                "monthly": (D(500), D(400), D(100)),
            }

    def test_longer_interval_first(self, store: Store, clock: ManualClock) -> None:
        """Reversed, a monthly grant drains before a daily one."""
        with Ledger(store, clock=clock, reverse_deduction_order=True) as ledger:
            ledger.create("c1", "messages", included=10, reset="day", balance_id="D")
            ledger.create("c1", "messages", included=10, reset="month", balance_id="M")
            ledger.track("c1", "messages", value=15)
            assert rows(bal(ledger)) == {"M": (D(10), D(0), D(10)), "D": (D(10), D(5), D(5))}

    def test_other_rules_unchanged(self, store: Store, clock: ManualClock) -> None:
        """Reversal leaves the expiry rule alone: the sooner-expiring one-off still goes first."""
        with Ledger(store, clock=clock, reverse_deduction_order=True) as ledger:
            ledger.create("c1", "messages", included=10, balance_id="never")
            ledger.create(
                "c1",
                "messages",
                included=10,
                expires_at=START + timedelta(days=2),
                balance_id="soon",
            )
            ledger.track("c1", "messages", value=4)
            assert rows(bal(ledger)) == {
                "soon": (D(10), D(6), D(4)),
                "never": (D(10), D(10), D(0)),
            }


class TestBatchTrack:
    """batch_track applies items in order, all or nothing (API.md)."""

    def test_results_show_the_state_after_each_item(self, ledger: Ledger) -> None:
        """Result i is the state right after item i."""
        ledger.create("c1", "messages", included=100)
        ledger.create("c2", "messages", included=10)
        results = ledger.batch_track(
            [
                {"customer_id": "c1", "feature_id": "messages", "value": 3},
                {"customer_id": "c1", "feature_id": "messages", "value": 5},
                {"customer_id": "c2", "feature_id": "messages"},
            ]
        )
        assert len(results) == 3
        remaining = [r.balance.remaining if r.balance else None for r in results]
        assert remaining == [D(97), D(92), D(9)]
        assert [r.customer_id for r in results] == ["c1", "c1", "c2"]
        assert bal(ledger).usage == D(8)
        assert len(events(ledger)) == 2

    def test_empty_batch(self, ledger: Ledger) -> None:
        """An empty batch returns an empty list."""
        assert ledger.batch_track([]) == []

    def test_event_name_items(self, ledger: Ledger) -> None:
        """Items may use event_name."""
        ledger.create_feature("messages", event_names=("chat",))
        ledger.create("c1", "messages", included=100)
        results = ledger.batch_track([{"customer_id": "c1", "event_name": "chat", "value": 2}])
        assert results[0].event_name == "chat"
        assert bal(ledger).usage == D(2)

    @pytest.mark.parametrize(
        "bad_item",
        [
            {"customer_id": "ghost", "feature_id": "messages"},
            {"customer_id": "c1", "feature_id": "nope"},
            {"customer_id": "c1", "feature_id": "messages", "value": "abc"},
            {"customer_id": "c1", "feature_id": "messages", "value": float("nan")},
            {"customer_id": "c1"},
        ],
        ids=["unknown-customer", "unknown-feature", "bad-value", "nan", "no-feature"],
    )
    def test_one_bad_item_applies_nothing(
        self, ledger: Ledger, bad_item: dict[str, object]
    ) -> None:
        """A bad item anywhere raises and no item of the batch is applied."""
        ledger.create("c1", "messages", included=100)
        good = {"customer_id": "c1", "feature_id": "messages", "value": 7}
        with pytest.raises((CustomerNotFound, FeatureNotFound, InvalidRequest)):
            ledger.batch_track([good, bad_item, good])
        assert bal(ledger).usage == D(0)
        assert events(ledger) == []

    def test_repeated_key_in_the_batch(self, ledger: Ledger) -> None:
        """A key repeated inside the batch raises DuplicateIdempotencyKey; nothing applies."""
        ledger.create("c1", "messages", included=100)
        item = {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "k"}
        with pytest.raises(DuplicateIdempotencyKey):
            ledger.batch_track([item, item])
        assert bal(ledger).usage == D(0)
        # the failed batch kept no key
        ledger.track("c1", "messages", idempotency_key="k")
        assert bal(ledger).usage == D(1)

    def test_key_already_claimed(self, ledger: Ledger) -> None:
        """An item repeating an earlier track's key fails the whole batch."""
        ledger.create("c1", "messages", included=100)
        ledger.track("c1", "messages", idempotency_key="k")
        with pytest.raises(DuplicateIdempotencyKey):
            ledger.batch_track(
                [
                    {"customer_id": "c1", "feature_id": "messages", "value": 5},
                    {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "k"},
                ]
            )
        assert bal(ledger).usage == D(1)


class TestTrackToDict:
    """TrackResult.to_dict is Autumn's track response (§6.8)."""

    def test_plain_track(self, ledger: Ledger) -> None:
        """A feature track has customer_id, value, balance and deductions only."""
        ledger.create("c1", "messages", included=10, reset="month", plan_id="pro")
        result = ledger.track("c1", "messages", value=3)
        d = result.to_dict()
        assert set(d) == {"customer_id", "value", "balance", "deductions"}
        assert d["value"] == 3
        assert d["balance"]["remaining"] == 7
        item_id = bal(ledger).breakdown[0].id
        assert d["deductions"] == [
            {
                "balance_id": item_id,
                "feature_id": "messages",
                "plan_id": "pro",
                "reset": {"interval": "month", "resets_at": int(FEB_28.timestamp() * 1000)},
                "value": 3,
            }
        ]

    def test_entity_and_event_name_keys(self, ledger: Ledger) -> None:
        """entity_id and event_name appear when given; balances when two or more features."""
        ledger.create_feature("messages", event_names=("chat",))
        ledger.create_feature("tokens", event_names=("chat",))
        ledger.create("c1", "messages", included=10, entity_id="e1")
        ledger.create("c1", "tokens", included=10, entity_id="e1")
        d = ledger.track("c1", event_name="chat", entity_id="e1").to_dict()
        assert (d["entity_id"], d["event_name"]) == ("e1", "chat")
        assert set(d["balances"]) >= {"messages", "tokens"}
        assert d["balance"] is None


class TestResultsAreSnapshots:
    """Results build their Balances when first read: what they show must still be the moment
    the call returned, however much happened in between (other calls, time, a reset)."""

    def test_track_result_read_late_shows_its_own_moment(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        ledger.create("c1", "messages", included=10, reset="month")
        first = ledger.track("c1", "messages", value=3)
        second = ledger.track("c1", "messages", value=2)
        clock.advance(months=2)  # a reset happens before anything is read
        ledger.track("c1", "messages", value=1)
        assert second.balance is not None and second.balance.remaining == 5
        assert first.balance is not None and first.balance.remaining == 7
        assert [d.value for d in first.deductions] == [Decimal(3)]
        assert first.balances["messages"] == first.balance

    def test_check_result_read_late_shows_its_own_moment(self, ledger: Ledger) -> None:
        ledger.create("c1", "messages", included=10, reset="month")
        plain = ledger.check("c1", "messages", required_balance=4)
        sent = ledger.check("c1", "messages", required_balance=4, send_event=True)
        denied = ledger.check("c1", "messages", required_balance=7, with_preview=True)
        ledger.track("c1", "messages", value=6)
        assert plain.allowed and plain.balance is not None and plain.balance.remaining == 10
        assert sent.allowed and sent.balance is not None and sent.balance.remaining == 6
        assert not denied.allowed and denied.balance is not None
        assert denied.balance.remaining == 6
        assert denied.preview is not None and denied.preview.scenario == "usage_limit"

    def test_results_compare_and_print_by_their_fields(self, ledger: Ledger) -> None:
        ledger.create("c1", "messages", included=10, reset="month")
        one, two = ledger.check("c1", "messages"), ledger.check("c1", "messages")
        assert one == two and "remaining=Decimal('10')" in repr(one)
        ledger.track("c1", "messages")
        assert ledger.check("c1", "messages") != one
        with pytest.raises(AttributeError, match="no attribute 'remaining'"):
            one.remaining  # type: ignore[attr-defined]  # noqa: B018
