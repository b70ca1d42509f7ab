"""expires_at: a grant is invisible from its expiry on; reset + expiry resets until it (§8).

Every test runs over every store on a ManualClock starting 2025-01-31 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import AlreadyExists, BalanceNotFound, Ledger, ManualClock
from meterlib.instants import to_ms
from meterlib.results import Balance

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def bal(ledger: Ledger, feature_id: str = "messages", customer_id: str = "c1") -> Balance:
    """The balance, which must exist."""
    b = ledger.balance(customer_id, feature_id)
    assert b is not None
    return b


def totals(b: Balance | None) -> tuple[Decimal, Decimal, Decimal]:
    """(granted, remaining, usage)."""
    assert b is not None
    return (b.granted, b.remaining, b.usage)


def ids(b: Balance | None) -> list[str]:
    """The breakdown ids."""
    assert b is not None
    return [i.id for i in b.breakdown]


PROMO_END = START + timedelta(days=10)


@pytest.fixture
def two(ledger: Ledger) -> Ledger:
    """A one-off promo of 100 expiring in 10 days and a monthly 50; 70 used (50 + 20)."""
    ledger.create("c1", "messages", included=100, expires_at=PROMO_END, balance_id="promo")
    ledger.create("c1", "messages", included=50, reset="month", balance_id="monthly")
    ledger.track("c1", "messages", value=70)
    return ledger


class TestExpiryMidPeriod:
    """From expires_at on a grant is not counted, not deducted and not listed."""

    def test_visible_until_its_instant(self, two: Ledger, clock: ManualClock) -> None:
        """1 ms before the expiry the promo counts; at the expiry it is gone from the totals."""
        clock.set(PROMO_END - MS)
        b = bal(two)
        assert totals(b) == (150, 80, 70)
        assert ids(b) == ["monthly", "promo"]
        assert b.breakdown[1].expires_at == PROMO_END
        assert b.to_dict()["breakdown"][1]["expires_at"] == to_ms(PROMO_END, field="t")
        clock.set(PROMO_END)
        b = bal(two)
        assert totals(b) == (50, 0, 50)
        assert ids(b) == ["monthly"]
        assert list(two.balances("c1")["messages"].breakdown) == list(b.breakdown)

    def test_not_deducted(self, two: Ledger, clock: ManualClock) -> None:
        """After the expiry the promo's 80 cannot be used: check denies, track takes nothing."""
        clock.set(PROMO_END + timedelta(days=3))
        check = two.check("c1", "messages")
        assert not check.allowed
        assert check.balance is not None and ids(check.balance) == ["monthly"]
        result = two.track("c1", "messages", value=10)
        assert result.deductions == ()
        assert totals(result.balance) == (50, 0, 50)

    def test_monthly_still_resets(self, two: Ledger, clock: ManualClock) -> None:
        """The surviving monthly grant resets on Feb 28 as if nothing had expired."""
        clock.set(utc(2025, 2, 28, 12))
        b = bal(two)
        assert totals(b) == (50, 50, 0)
        assert ids(b) == ["monthly"]

    def test_only_grant(self, ledger: Ledger, clock: ManualClock) -> None:
        """When the expired grant was the only one: balance None, allowed False, not listed."""
        ledger.create("c1", "messages", included=100, expires_at=to_ms(PROMO_END, field="t"))
        clock.set(PROMO_END)
        assert ledger.balance("c1", "messages") is None
        check = ledger.check("c1", "messages")
        assert (check.allowed, check.balance) == (False, None)
        assert "messages" not in ledger.balances("c1")
        result = ledger.track("c1", "messages", value=5)
        assert (result.balance, result.deductions) == (None, ())

    def test_soonest_expiring_consumed_first(self, ledger: Ledger) -> None:
        """Among one-off grants the one that expires is consumed before the one that does not."""
        ledger.create("c1", "messages", included=100, balance_id="forever")
        ledger.create("c1", "messages", included=100, expires_at=PROMO_END, balance_id="expiring")
        b = ledger.track("c1", "messages", value=30).balance
        assert b is not None
        assert {i.id: i.remaining for i in b.breakdown} == {"expiring": 70, "forever": 100}

    def test_balance_id_stays_reserved(self, ledger: Ledger, clock: ManualClock) -> None:
        """An expired grant keeps its balance_id: creating it again is AlreadyExists."""
        ledger.create("c1", "messages", included=100, expires_at=PROMO_END, balance_id="b")
        clock.set(PROMO_END + timedelta(days=1))
        with pytest.raises(AlreadyExists):
            ledger.create("c1", "messages", included=100, balance_id="b")

    def test_not_a_target(self, ledger: Ledger, clock: ManualClock) -> None:
        """update and delete cannot reach an expired grant."""
        ledger.create("c1", "messages", included=100, expires_at=PROMO_END, balance_id="b")
        clock.set(PROMO_END)
        with pytest.raises(BalanceNotFound):
            ledger.update("c1", "messages", add_to_balance=5)
        with pytest.raises(BalanceNotFound):
            ledger.delete("c1", feature_id="messages", balance_id="b")

    def test_expiry_set_by_update(self, ledger: Ledger, clock: ManualClock) -> None:
        """update(expires_at=...) ends a grant at that instant."""
        ledger.create("c1", "messages", included=100, reset="week")
        end = START + timedelta(days=20, hours=1)
        b = ledger.update("c1", "messages", expires_at=end)
        assert b is not None and b.breakdown[0].expires_at == end
        ledger.track("c1", "messages", value=10)
        clock.set(end - MS)
        assert totals(bal(ledger)) == (100, 100, 0)  # refilled on Feb 7
        clock.set(end)
        assert ledger.balance("c1", "messages") is None


class TestResetUntilExpiry:
    """reset together with expires_at resets on each boundary until the expiry (decision 2)."""

    def test_resets_until_it_expires(self, ledger: Ledger, clock: ManualClock) -> None:
        """Monthly 100 expiring Apr 15: refills Feb 28 and Mar 31, then disappears."""
        end = utc(2025, 4, 15, 12)
        created = ledger.create("c1", "messages", included=100, reset="month", expires_at=end)
        assert created is not None
        assert created.next_reset_at == utc(2025, 2, 28, 12)
        for boundary in (utc(2025, 2, 28, 12), utc(2025, 3, 31, 12)):
            ledger.track("c1", "messages", value=40)
            clock.set(boundary - MS)
            assert totals(bal(ledger)) == (100, 60, 40)
            clock.set(boundary)
            assert totals(bal(ledger)) == (100, 100, 0)
        ledger.track("c1", "messages", value=40)
        clock.set(end - MS)
        assert totals(bal(ledger)) == (100, 60, 40)
        clock.set(end)
        assert ledger.balance("c1", "messages") is None

    def test_expiring_on_a_boundary(self, ledger: Ledger, clock: ManualClock) -> None:
        """A grant expiring exactly on its boundary is gone at that instant, not refilled."""
        end = utc(2025, 3, 31, 12)
        ledger.create("c1", "messages", included=100, reset="month", expires_at=end)
        clock.set(utc(2025, 3, 1))
        ledger.track("c1", "messages", value=40)
        clock.set(end - MS)
        assert totals(bal(ledger)) == (100, 60, 40)
        clock.set(end)
        assert ledger.balance("c1", "messages") is None
        assert not ledger.check("c1", "messages").allowed

    def test_rollovers_vanish_with_the_grant(self, ledger: Ledger, clock: ManualClock) -> None:
        """Lots that would outlive their grant disappear with it at its expiry."""
        clock.set(utc(2025, 3, 10, 12))
        end = utc(2025, 6, 20)
        ledger.create(
            "c1",
            "messages",
            included=100,
            reset="month",
            rollover={"length": 3},
            expires_at=end,
        )
        clock.set(end - MS)
        b = bal(ledger)
        assert [r.balance for r in b.rollovers] == [100, 100, 100]
        assert totals(b) == (400, 400, 0)
        clock.set(end)
        assert ledger.balance("c1", "messages") is None


class TestNextResetAt:
    """Balance.next_reset_at is the earliest boundary among the visible grants."""

    def test_earliest_among_visible(self, ledger: Ledger, clock: ManualClock) -> None:
        """A daily grant's boundary shows until it expires; then the monthly one's."""
        daily_end = START + timedelta(days=2, hours=6)
        ledger.create("c1", "messages", included=10, reset="day", expires_at=daily_end)
        ledger.create("c1", "messages", included=100, reset="month")
        ledger.create("c1", "messages", included=5)  # one-off: no boundary
        assert bal(ledger).next_reset_at == START + timedelta(days=1)
        clock.set(daily_end - MS)
        assert bal(ledger).next_reset_at == START + timedelta(days=3)
        clock.set(daily_end)
        assert bal(ledger).next_reset_at == utc(2025, 2, 28, 12)

    def test_whichever_comes_first(self, ledger: Ledger, clock: ManualClock) -> None:
        """A weekly grant created 3 days later: its boundary, then the monthly one, then its own."""
        ledger.create("c1", "messages", included=100, reset="month")
        clock.set(START + timedelta(days=3))
        ledger.create("c1", "messages", included=10, reset="week")
        assert bal(ledger).next_reset_at == utc(2025, 2, 10, 12)
        clock.set(utc(2025, 2, 25))
        assert bal(ledger).next_reset_at == utc(2025, 2, 28, 12)
        clock.set(utc(2025, 2, 28, 12))
        assert bal(ledger).next_reset_at == utc(2025, 3, 3, 12)

    def test_one_off_only(self, ledger: Ledger) -> None:
        """Without a resetting grant next_reset_at is None (epoch-ms null on the wire)."""
        ledger.create("c1", "messages", included=5)
        b = bal(ledger)
        assert b.next_reset_at is None
        assert b.to_dict()["next_reset_at"] is None
