"""Resets computed from timestamps: anchored boundaries, refills, catch-up (spec decision 1).

Every test runs over every store on a ManualClock (starting 2025-01-31 12:00 UTC); nothing
sleeps and nothing reads the wall clock. Expected boundaries come from `after`, an oracle
written here with relativedelta: boundary k = anchor + k × interval, months clamped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta

from meterlib import Ledger, LockNotFound, ManualClock
from meterlib.instants import to_ms
from meterlib.results import Balance, Reset
from meterlib.stores import Store

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)
MS = timedelta(milliseconds=1)
INTERVALS = ["minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year"]
_FIXED = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
_MONTHS = {"month": 1, "quarter": 3, "semi_annual": 6, "year": 12}


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def after(anchor: datetime, interval: str, n: int) -> datetime:
    """`anchor` plus n intervals (the oracle): months clamped to the month's last day."""
    if interval in _FIXED:
        return anchor + n * _FIXED[interval]
    return anchor + relativedelta(months=_MONTHS[interval] * n)


def bal(ledger: Ledger, feature_id: str = "messages", customer_id: str = "c1") -> Balance:
    """The balance, which must exist."""
    b = ledger.balance(customer_id, feature_id)
    assert b is not None
    return b


def totals(b: Balance | None) -> tuple[Decimal, Decimal, Decimal]:
    """(granted, remaining, usage)."""
    assert b is not None
    return (b.granted, b.remaining, b.usage)


def lots(b: Balance) -> list[tuple[Decimal, Decimal, datetime | None]]:
    """The rollovers as (granted, balance, expires_at)."""
    return [(r.granted, r.balance, r.expires_at) for r in b.rollovers]


class TestEveryInterval:
    """Each interval, with interval_count 1 and 2, refills exactly at its boundary (half-open)."""

    @pytest.mark.parametrize("count", [1, 2])
    @pytest.mark.parametrize("interval", INTERVALS)
    def test_refills_at_the_boundary(
        self, ledger: Ledger, clock: ManualClock, interval: str, count: int
    ) -> None:
        """1 ms before the boundary the old period holds; at it the row is full and moves on."""
        created = ledger.create(
            "c1", "messages", included=100, reset={"interval": interval, "interval_count": count}
        )
        assert created is not None
        boundaries = [after(START, interval, count * k) for k in range(1, 4)]
        assert created.next_reset_at == boundaries[0]
        assert created.breakdown[0].reset == Reset(
            interval=interval, interval_count=count, resets_at=boundaries[0]
        )
        ledger.track("c1", "messages", value=30)
        for k, boundary in enumerate(boundaries[:2]):
            clock.set(boundary - MS)
            ledger.track("c1", "messages", value=10)  # a write just before: still this period
            before = bal(ledger)
            assert totals(before) == (100, 60 if k == 0 else 90, 40 if k == 0 else 10)
            assert before.next_reset_at == boundary
            clock.set(boundary)
            now = bal(ledger)
            assert totals(now) == (100, 100, 0)
            assert now.next_reset_at == boundaries[k + 1]
            reset = now.breakdown[0].reset
            assert reset is not None
            assert reset.resets_at == boundaries[k + 1]
            assert (reset.interval, reset.interval_count) == (interval, count)

    @pytest.mark.parametrize("count", [1, 2])
    @pytest.mark.parametrize("interval", INTERVALS)
    def test_wire_reset_object(
        self, ledger: Ledger, clock: ManualClock, interval: str, count: int
    ) -> None:
        """to_dict shows the reset in epoch ms, interval_count only when it is not 1."""
        ledger.create(
            "c1", "messages", included=5, reset={"interval": interval, "interval_count": count}
        )
        clock.set(after(START, interval, count))
        wire = bal(ledger).to_dict()
        second = to_ms(after(START, interval, 2 * count), field="t")
        expected: dict[str, object] = {"interval": interval, "resets_at": second}
        if count != 1:
            expected["interval_count"] = count
        assert wire["breakdown"][0]["reset"] == expected
        assert wire["next_reset_at"] == second

    @pytest.mark.parametrize("interval", INTERVALS)
    def test_far_jump_lands_on_the_anchored_boundary(
        self, ledger: Ledger, clock: ManualClock, interval: str
    ) -> None:
        """Skipping 37 boundaries at once gives the boundary anchor + 38 intervals."""
        ledger.create("c1", "messages", included=100, reset=interval)
        ledger.track("c1", "messages", value=70)
        clock.set(after(START, interval, 37) + MS)
        b = bal(ledger)
        assert totals(b) == (100, 100, 0)
        assert b.next_reset_at == after(START, interval, 38)


class TestMonthEnds:
    """Boundaries are anchored, clamped to each month's last day, and never drift."""

    @pytest.mark.parametrize(
        ("start", "reset", "expected"),
        [
            (
                utc(2025, 1, 31, 12),
                "month",
                [
                    utc(2025, m, d, 12)
                    for m, d in [(2, 28), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31)]
                ],
            ),
            (
                utc(2024, 1, 31, 12),
                "month",
                [utc(2024, 2, 29, 12), utc(2024, 3, 31, 12), utc(2024, 4, 30, 12)],
            ),
            (
                utc(2024, 2, 29, 6),
                "year",
                [utc(y, 2, 29 if y == 2028 else 28, 6) for y in range(2025, 2030)],
            ),
            (
                utc(2025, 8, 31),
                "quarter",
                [utc(2025, 11, 30), utc(2026, 2, 28), utc(2026, 5, 31), utc(2026, 8, 31)],
            ),
            (
                utc(2025, 8, 31),
                "semi_annual",
                [utc(2026, 2, 28), utc(2026, 8, 31), utc(2027, 2, 28)],
            ),
            (
                utc(2023, 12, 31, 23, 59),
                {"interval": "month", "interval_count": 2},
                [utc(2024, m, d, 23, 59) for m, d in [(2, 29), (4, 30), (6, 30), (8, 31)]],
            ),
        ],
        ids=["jan31-monthly", "jan31-leap", "feb29-yearly", "aug31-quarter", "aug31-semi", "2mo"],
    )
    def test_each_boundary(
        self,
        ledger: Ledger,
        clock: ManualClock,
        start: datetime,
        reset: object,
        expected: list[datetime],
    ) -> None:
        """Walking boundary by boundary: each refills exactly there and names the next one."""
        clock.set(start)
        ledger.create("c1", "messages", included=100, reset=reset)
        for k, boundary in enumerate(expected):
            assert bal(ledger).next_reset_at == boundary
            ledger.track("c1", "messages", value=10)
            clock.set(boundary - MS)
            assert bal(ledger).remaining == 90
            clock.set(boundary)
            assert bal(ledger).remaining == 100, f"boundary {k}: {boundary}"

    def test_no_drift_after_a_jump(self, ledger: Ledger, clock: ManualClock) -> None:
        """Anchored Jan 31 and next seen on Jun 1: the next boundary is Jun 30, not the 28th."""
        ledger.create("c1", "messages", included=100, reset="month")
        clock.set(utc(2025, 6, 1))
        assert bal(ledger).next_reset_at == utc(2025, 6, 30, 12)
        clock.set(utc(2025, 7, 1))
        assert bal(ledger).next_reset_at == utc(2025, 7, 31, 12)


class TestCustomFirstBoundary:
    """create(next_reset_at=...) is the anchor: later boundaries keep its phase."""

    def test_first_boundary_sets_the_phase(self, ledger: Ledger, clock: ManualClock) -> None:
        """First boundary Feb 5 (not Feb 28): then Mar 5, Apr 5."""
        first = START + timedelta(days=5)
        created = ledger.create("c1", "messages", included=100, reset="month", next_reset_at=first)
        assert created is not None and created.next_reset_at == first
        ledger.track("c1", "messages", value=40)
        clock.set(first - MS)
        assert totals(bal(ledger)) == (100, 60, 40)
        clock.set(first)
        assert totals(bal(ledger)) == (100, 100, 0)
        assert bal(ledger).next_reset_at == utc(2025, 3, 5, 12)
        clock.set(utc(2025, 3, 5, 12))
        assert bal(ledger).next_reset_at == utc(2025, 4, 5, 12)

    def test_month_end_custom_boundary(self, ledger: Ledger, clock: ManualClock) -> None:
        """A custom first boundary on Mar 31 clamps to Apr 30 and returns to May 31."""
        ledger.create("c1", "messages", included=100, reset="month", next_reset_at=utc(2025, 3, 31))
        for boundary, following in [
            (utc(2025, 3, 31), utc(2025, 4, 30)),
            (utc(2025, 4, 30), utc(2025, 5, 31)),
            (utc(2025, 5, 31), utc(2025, 6, 30)),
        ]:
            clock.set(boundary)
            assert bal(ledger).next_reset_at == following

    def test_epoch_ms_and_sub_day_phase(self, ledger: Ledger, clock: ManualClock) -> None:
        """A weekly grant first resetting 2 days 3 hours from now (epoch ms) keeps that phase."""
        first = START + timedelta(days=2, hours=3)
        ledger.create(
            "c1",
            "messages",
            included=10,
            reset="week",
            next_reset_at=to_ms(first, field="t"),
        )
        ledger.track("c1", "messages", value=10)
        clock.set(first + timedelta(weeks=5) - MS)
        b = bal(ledger)
        assert b.remaining == 10
        assert b.next_reset_at == first + timedelta(weeks=5)


class TestReanchor:
    """update(next_reset_at=...) sets a new anchor for the grant with the earliest boundary."""

    def test_update_moves_the_phase(self, ledger: Ledger, clock: ManualClock) -> None:
        """Re-anchored to Feb 10 the grant resets Feb 10, Mar 10, Apr 10; usage is kept."""
        ledger.create("c1", "messages", included=100, reset="month")
        ledger.track("c1", "messages", value=25)
        updated = ledger.update("c1", "messages", next_reset_at=utc(2025, 2, 10, 12))
        assert updated is not None
        assert updated.next_reset_at == utc(2025, 2, 10, 12)
        assert totals(updated) == (100, 75, 25)
        clock.set(utc(2025, 2, 28, 12))  # the old boundary is gone
        assert bal(ledger).next_reset_at == utc(2025, 3, 10, 12)
        ledger.track("c1", "messages", value=5)
        clock.set(utc(2025, 3, 10, 12) - MS)
        assert bal(ledger).remaining == 95
        clock.set(utc(2025, 3, 10, 12))
        assert bal(ledger).remaining == 100
        assert bal(ledger).next_reset_at == utc(2025, 4, 10, 12)

    def test_reanchor_to_a_month_end(self, ledger: Ledger, clock: ManualClock) -> None:
        """Re-anchored on Mar 31 23:00 after a few periods: Apr 30, May 31 at 23:00."""
        ledger.create("c1", "messages", included=100, reset="month")
        clock.set(utc(2025, 3, 5))
        ledger.update("c1", "messages", next_reset_at=utc(2025, 3, 31, 23))
        clock.set(utc(2025, 4, 1))
        assert bal(ledger).next_reset_at == utc(2025, 4, 30, 23)
        clock.set(utc(2025, 5, 1))
        assert bal(ledger).next_reset_at == utc(2025, 5, 31, 23)

    def test_targets_the_earliest_boundary(self, ledger: Ledger, clock: ManualClock) -> None:
        """With a daily and a monthly grant, the daily one (earliest boundary) is re-anchored."""
        ledger.create("c1", "messages", included=10, reset="day", balance_id="daily")
        ledger.create("c1", "messages", included=100, reset="month", balance_id="monthly")
        new = START + timedelta(hours=30)
        b = ledger.update("c1", "messages", next_reset_at=new)
        assert b is not None
        resets = {i.id: i.reset.resets_at for i in b.breakdown if i.reset is not None}
        assert resets == {"daily": new, "monthly": utc(2025, 2, 28, 12)}
        assert b.next_reset_at == new
        clock.set(new + timedelta(days=3))
        assert bal(ledger).next_reset_at == new + timedelta(days=4)


class TestMissedBoundary:
    """Every read and write sees the resets that are due, with no background job."""

    def test_track_after_a_missed_boundary(self, ledger: Ledger, clock: ManualClock) -> None:
        """50 used, the boundary passes unseen, track 20: remaining 80, usage 20."""
        ledger.create("c1", "messages", included=100, reset="month")
        ledger.track("c1", "messages", value=50)
        clock.set(utc(2025, 3, 2))
        result = ledger.track("c1", "messages", value=20)
        assert totals(result.balance) == (100, 80, 20)
        assert totals(bal(ledger)) == (100, 80, 20)
        (deduction,) = result.deductions
        assert deduction.value == 20
        assert deduction.reset is not None
        assert deduction.reset.resets_at == utc(2025, 3, 31, 12)

    def test_track_after_a_year_of_missed_boundaries(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        """A daily grant untouched for a year: one refill, then the track."""
        ledger.create("c1", "messages", included=100, reset="day")
        ledger.track("c1", "messages", value=100)
        clock.set(START + timedelta(days=365, hours=5))
        result = ledger.track("c1", "messages", value=20)
        assert totals(result.balance) == (100, 80, 20)
        assert bal(ledger).next_reset_at == START + timedelta(days=366)

    def test_check_sees_the_refill(self, ledger: Ledger, clock: ManualClock) -> None:
        """A drained grant is allowed again once its boundary passed, with no write between."""
        ledger.create("c1", "messages", included=10, reset="hour")
        ledger.track("c1", "messages", value=10)
        assert not ledger.check("c1", "messages").allowed
        clock.set(START + timedelta(hours=1))
        result = ledger.check("c1", "messages", required_balance=10)
        assert result.allowed
        assert totals(result.balance) == (10, 10, 0)
        assert ledger.balances("c1")["messages"].remaining == 10

    def test_looked_at_or_not(self, ledger: Ledger, clock: ManualClock) -> None:
        """A customer written to every day and one left alone agree after 90 days."""
        for customer in ("watched", "idle"):
            ledger.create(
                customer,
                "messages",
                included=100,
                reset="week",
                rollover={"max": 150, "length": 1},
                balance_id="b",
            )
            ledger.track(customer, "messages", value=35)
        for _ in range(90):
            clock.advance(days=1)
            ledger.track("watched", "messages", value=0)  # persists the caught-up state
        watched, idle = bal(ledger, customer_id="watched"), bal(ledger, customer_id="idle")
        assert watched == idle
        assert watched.to_dict() == idle.to_dict()


class TestResetEffects:
    """A reset refills to the grant, clears included adjustments and forgives overage."""

    def test_included_adjustment_lasts_until_the_reset(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        """update(included=150) shows granted 150 until the boundary, then 100 again."""
        ledger.create("c1", "messages", included=100, reset="month")
        b = ledger.update("c1", "messages", included=150)
        assert totals(b) == (150, 100, 50)
        clock.set(utc(2025, 2, 28, 12) - MS)
        assert totals(bal(ledger)) == (150, 100, 50)
        clock.set(utc(2025, 2, 28, 12))
        b = bal(ledger)
        assert totals(b) == (100, 100, 0)
        assert b.breakdown[0].included_grant == 100

    def test_credit_above_the_grant_is_lost(self, ledger: Ledger, clock: ManualClock) -> None:
        """add_to_balance lifts remaining above the grant only until the reset."""
        ledger.create("c1", "messages", included=100, reset="month")
        assert totals(ledger.update("c1", "messages", add_to_balance=40)) == (100, 140, -40)
        clock.set(utc(2025, 2, 28, 12))
        assert totals(bal(ledger)) == (100, 100, 0)

    def test_overage_forgiven(self, ledger: Ledger, clock: ManualClock) -> None:
        """Overage (usage above the grant) does not survive the reset by default."""
        ledger.create("c1", "messages", included=100, reset="month", overage_allowed=True)
        ledger.track("c1", "messages", value=130)
        assert totals(bal(ledger)) == (100, 0, 130)
        clock.set(utc(2025, 2, 28, 12))
        assert totals(bal(ledger)) == (100, 100, 0)

    def test_overage_persists_when_asked(self, store: Store, clock: ManualClock) -> None:
        """With persist_overage_on_reset the refill pays the overage back first."""
        ledger = Ledger(store, clock=clock, persist_overage_on_reset=True)
        ledger.create("c1", "messages", included=100, reset="month", overage_allowed=True)
        ledger.track("c1", "messages", value=130)
        clock.set(utc(2025, 2, 28, 12))
        assert totals(bal(ledger)) == (100, 70, 30)

    def test_persisting_overage_over_skipped_periods(
        self, store: Store, clock: ManualClock
    ) -> None:
        """Overage of 250 on a 100 grant: -150, -50, then 50 left, then full (skipped or not)."""
        ledger = Ledger(store, clock=clock, persist_overage_on_reset=True)
        ledger.create("c1", "messages", included=100, reset="month", overage_allowed=True)
        ledger.track("c1", "messages", value=350)
        clock.set(utc(2025, 2, 28, 12))
        assert totals(bal(ledger)) == (100, 0, 250)  # balance -150
        clock.set(utc(2025, 4, 30, 12))  # two more boundaries nobody saw
        assert totals(bal(ledger)) == (100, 50, 50)
        clock.set(utc(2025, 5, 31, 12))
        assert totals(bal(ledger)) == (100, 100, 0)

    def test_persisting_overage_makes_no_rollover(self, store: Store, clock: ManualClock) -> None:
        """A negative balance rolls nothing over; the positive one after it does."""
        ledger = Ledger(store, clock=clock, persist_overage_on_reset=True)
        clock.set(utc(2025, 3, 10))
        ledger.create(
            "c1",
            "messages",
            included=100,
            reset="month",
            overage_allowed=True,
            rollover={"length": 1},
        )
        ledger.track("c1", "messages", value=130)
        clock.set(utc(2025, 4, 10))
        b = bal(ledger)
        assert totals(b) == (100, 70, 30)
        assert b.rollovers == ()
        clock.set(utc(2025, 5, 10))
        b = bal(ledger)
        assert lots(b) == [(70, 70, utc(2025, 6, 10))]
        assert totals(b) == (170, 170, 0)


class TestLockExpiryInTime:
    """A lock with expires_at releases itself at that instant, whenever somebody next looks."""

    @pytest.fixture
    def locked(self, ledger: Ledger, clock: ManualClock) -> Ledger:
        """Monthly 100 with rollovers from Mar 10; 50 used; 30 locked 1 h before Apr 10 12:00."""
        clock.set(utc(2025, 3, 10, 12))
        ledger.create("c1", "messages", included=100, reset="month", rollover={"length": 1})
        ledger.track("c1", "messages", value=50)
        clock.set(utc(2025, 4, 10, 11))
        return ledger

    def test_released_at_its_instant(self, locked: Ledger, clock: ManualClock) -> None:
        """1 ms before expires_at the amount is held; at expires_at it is back."""
        ledger = locked
        ledger.check(
            "c1",
            "messages",
            required_balance=30,
            lock={"lock_id": "L", "expires_at": utc(2025, 4, 10, 11, 30)},
        )
        clock.set(utc(2025, 4, 10, 11, 30) - MS)
        assert bal(ledger).remaining == 20
        clock.set(utc(2025, 4, 10, 11, 30))
        assert bal(ledger).remaining == 50
        with pytest.raises(LockNotFound):
            ledger.finalize("L", action="release")

    def test_release_before_a_reset_nobody_saw(self, locked: Ledger, clock: ManualClock) -> None:
        """Released at 11:30, reset at 12:00: the rollover holds 50, not the 20 left when locked."""
        ledger = locked
        ledger.check(
            "c1",
            "messages",
            required_balance=30,
            lock={"lock_id": "L", "expires_at": utc(2025, 4, 10, 11, 30)},
        )
        clock.set(utc(2025, 4, 20))
        b = bal(ledger)
        assert lots(b) == [(50, 50, utc(2025, 5, 10, 12))]
        assert totals(b) == (150, 150, 0)
        ledger.track("c1", "messages", value=0)  # a write persists the same state
        assert bal(ledger) == b

    def test_release_after_a_reset_nobody_saw(self, locked: Ledger, clock: ManualClock) -> None:
        """Reset at 12:00 while 30 is held (rollover 20), released at 13:00 onto the new period."""
        ledger = locked
        ledger.check(
            "c1",
            "messages",
            required_balance=30,
            lock={"lock_id": "L", "expires_at": utc(2025, 4, 10, 13)},
        )
        clock.set(utc(2025, 4, 20))
        b = bal(ledger)
        assert lots(b) == [(20, 20, utc(2025, 5, 10, 12))]
        # the unwind restores exactly what the lock took, with no ceiling (autumn-check-track §7.2)
        assert b.breakdown[0].remaining == 130
        assert totals(b) == (120, 150, -30)

    def test_lock_id_free_after_expiry(self, locked: Ledger, clock: ManualClock) -> None:
        """An expired lock's id can be used again though nobody looked since it expired."""
        ledger = locked
        lock = {"lock_id": "L", "expires_at": utc(2025, 4, 10, 11, 30)}
        assert ledger.check("c1", "messages", required_balance=30, lock=lock).allowed
        clock.set(utc(2025, 4, 10, 11, 30))
        lock = {"lock_id": "L", "expires_at": utc(2025, 4, 10, 12, 30)}
        assert ledger.check("c1", "messages", required_balance=40, lock=lock).allowed
        assert bal(ledger).remaining == 10

    @pytest.mark.parametrize(
        "touched",
        [
            pytest.param(False, id="untouched"),
            pytest.param(True, id="touched-between"),
        ],
    )
    def test_release_onto_a_grant_that_expired_later(
        self, ledger: Ledger, clock: ManualClock, touched: bool
    ) -> None:
        """Locked from a promo ending 13:00, released 12:30: the 30 goes back to the promo."""
        ledger.create("c1", "messages", included=100, reset="month", balance_id="monthly")
        promo_end = START + timedelta(hours=1)
        ledger.create("c1", "messages", included=100, expires_at=promo_end, balance_id="promo")
        ledger.track("c1", "messages", value=100)  # the monthly row (first in order) is drained
        ledger.check(
            "c1",
            "messages",
            required_balance=30,
            lock={"lock_id": "L", "expires_at": START + timedelta(minutes=30)},
        )
        if touched:
            clock.set(START + timedelta(minutes=45))
            ledger.track("c1", "messages", value=0)
        clock.set(START + timedelta(hours=3))
        b = bal(ledger)
        # released at 12:30 onto the promo (still live), which then expired at 13:00
        assert [(i.id, i.remaining) for i in b.breakdown] == [("monthly", 0)]

    def test_looked_at_in_between(self, ledger: Ledger, clock: ManualClock) -> None:
        """Reading at every minute around the reset and the lock expiry changes nothing."""
        results = []
        for customer in ("watched", "idle"):
            clock.set(utc(2025, 3, 10, 12))
            ledger.create(customer, "messages", included=100, reset="month", rollover={"length": 1})
            ledger.track(customer, "messages", value=50)
            clock.set(utc(2025, 4, 10, 11))
            ledger.check(
                customer,
                "messages",
                required_balance=30,
                lock={"lock_id": f"L-{customer}", "expires_at": utc(2025, 4, 10, 11, 30)},
            )
            if customer == "watched":
                for _ in range(120):
                    clock.advance(minutes=1)
                    ledger.track(customer, "messages", value=0)
            clock.set(utc(2025, 4, 20))
            results.append(bal(ledger, customer_id=customer).to_dict())
        watched, idle = results
        for b in (watched, idle):
            del b["breakdown"][0]["id"]  # grant ids differ between the two customers
        assert watched == idle
