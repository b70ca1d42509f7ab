"""Rollovers: made at boundaries, capped, consumed first, expiring in time (lifecycle §6-7).

Every test runs over every store on a ManualClock moved to 2025-03-10 12:00 UTC, so monthly
boundaries fall on the 10th (no month-end clamping) and a rollover of `length` 1 made at a
boundary expires exactly at the next one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import Ledger, ManualClock
from meterlib.instants import to_ms
from meterlib.results import Balance

D = Decimal
MS = timedelta(milliseconds=1)


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


T0 = utc(2025, 3, 10, 12)
APR, MAY, JUN, JUL, AUG, SEP, OCT = (utc(2025, m, 10, 12) for m in range(4, 11))


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


def rows(b: Balance) -> list[tuple[Decimal, Decimal, Decimal]]:
    """The breakdown as (included_grant, remaining, usage)."""
    return [(i.included_grant, i.remaining, i.usage) for i in b.breakdown]


@pytest.fixture
def mid(ledger: Ledger, clock: ManualClock) -> Ledger:
    """The ledger with the clock moved to 2025-03-10 12:00 UTC."""
    clock.set(T0)
    return ledger


def monthly(
    ledger: Ledger, rollover: dict[str, object], customer: str = "c1", **kw: object
) -> None:
    """A monthly grant of 100 with a rollover rule."""
    ledger.create(customer, "messages", included=100, reset="month", rollover=rollover, **kw)


class TestLotMade:
    """At a boundary the positive remaining becomes a rollover lot."""

    def test_unused_balance_rolls_over(self, mid: Ledger, clock: ManualClock) -> None:
        """70 left at the boundary: a lot of 70 expiring a month later, beside a full row."""
        monthly(mid, {"length": 1})
        mid.track("c1", "messages", value=30)
        clock.set(APR - MS)
        assert bal(mid).rollovers == ()
        clock.set(APR)
        b = bal(mid)
        assert lots(b) == [(70, 70, MAY)]
        assert totals(b) == (170, 170, 0)
        assert rows(b) == [(100, 100, 0)]  # not in the breakdown
        assert b.to_dict()["rollovers"] == [
            {"granted": 70, "balance": 70, "expires_at": to_ms(MAY, field="t")}
        ]

    def test_whole_balance_above_the_grant(self, mid: Ledger, clock: ManualClock) -> None:
        """Credit above the grant rolls over too when uncapped (the whole main balance)."""
        monthly(mid, {"length": 1})
        mid.update("c1", "messages", add_to_balance=50)
        clock.set(APR)
        assert lots(bal(mid)) == [(150, 150, MAY)]

    def test_nothing_from_a_drained_row(self, mid: Ledger, clock: ManualClock) -> None:
        """A row at 0 rolls nothing over; the wire still lists an empty `rollovers`."""
        monthly(mid, {"length": 1})
        mid.track("c1", "messages", value=100)
        clock.set(APR)
        b = bal(mid)
        assert b.rollovers == ()
        assert b.to_dict()["rollovers"] == []

    def test_no_rollovers_key_without_a_rule(self, mid: Ledger, clock: ManualClock) -> None:
        """A balance without any rollover rule omits `rollovers` on the wire."""
        mid.create("c1", "messages", included=100, reset="month")
        clock.set(APR)
        assert "rollovers" not in bal(mid).to_dict()

    def test_one_off_never_rolls(self, mid: Ledger, clock: ManualClock) -> None:
        """reset one_off with a rollover rule is accepted and never makes a lot."""
        mid.create("c1", "messages", included=100, reset="one_off", rollover={"length": 1})
        clock.set(T0 + timedelta(days=400))
        b = bal(mid)
        assert b.rollovers == ()
        assert totals(b) == (100, 100, 0)

    def test_previous_lots_are_not_rolled_again(self, mid: Ledger, clock: ManualClock) -> None:
        """Consecutive resets add one lot each (the main balance), never compounding lots."""
        monthly(mid, {"length": 3})
        mid.track("c1", "messages", value=20)
        clock.set(MAY)
        assert lots(bal(mid)) == [(80, 80, JUL), (100, 100, AUG)]


class TestConsumption:
    """Lots are consumed before any main balance, soonest-expiring first, never refilled."""

    def test_lot_before_the_main_row(self, mid: Ledger, clock: ManualClock) -> None:
        """Track 50 with a lot of 70: the lot pays, the row stays full; totals count the lot."""
        monthly(mid, {"length": 1})
        mid.track("c1", "messages", value=30)
        clock.set(APR + timedelta(days=1))
        result = mid.track("c1", "messages", value=50)
        b = result.balance
        assert b is not None
        assert lots(b) == [(70, 20, MAY)]
        assert rows(b) == [(100, 100, 0)]
        assert totals(b) == (170, 120, 50)
        assert [d.value for d in result.deductions] == [50]

    def test_lots_before_shorter_rows(self, mid: Ledger, clock: ManualClock) -> None:
        """A monthly grant's lot is drained before a daily grant's main balance."""
        mid.create("c1", "messages", included=10, reset="day", balance_id="daily")
        monthly(mid, {"length": 1}, balance_id="monthly")
        clock.set(APR + timedelta(hours=1))
        b = mid.track("c1", "messages", value=105).balance
        assert b is not None
        assert lots(b) == [(100, 0, MAY)]
        assert {i.id: i.remaining for i in b.breakdown} == {"daily": 5, "monthly": 100}

    def test_soonest_expiring_first(self, mid: Ledger, clock: ManualClock) -> None:
        """Of two lots of one grant, the one expiring first is drained first."""
        monthly(mid, {"length": 2})
        mid.track("c1", "messages", value=30)
        clock.set(MAY + timedelta(days=1))
        assert lots(bal(mid)) == [(70, 70, JUN), (100, 100, JUL)]
        b = mid.track("c1", "messages", value=120).balance
        assert b is not None
        assert lots(b) == [(70, 0, JUN), (100, 50, JUL)]
        assert totals(b) == (270, 150, 120)

    def test_soonest_expiring_first_across_grants(self, mid: Ledger, clock: ManualClock) -> None:
        """The lot expiring first is drained first even if its grant comes later in the order."""
        monthly(mid, {"length": 3}, balance_id="long")
        monthly(mid, {"length": 1}, balance_id="short")
        clock.set(APR + timedelta(days=1))
        b = mid.track("c1", "messages", value=130).balance
        assert b is not None
        assert sorted(lots(b), key=lambda lot: str(lot[2])) == [(100, 0, MAY), (100, 70, JUL)]

    def test_drained_lot_listed_until_it_expires(self, mid: Ledger, clock: ManualClock) -> None:
        """A lot at 0 stays listed (granted 100, balance 0) until its expiry, then vanishes."""
        monthly(mid, {"length": 1})
        clock.set(APR)
        mid.track("c1", "messages", value=100)
        clock.set(MAY - MS)
        assert lots(bal(mid)) == [(100, 0, MAY)]
        assert totals(bal(mid)) == (200, 100, 100)
        clock.set(MAY)
        b = bal(mid)
        assert lots(b) == [(100, 100, JUN)]
        assert totals(b) == (200, 200, 0)

    def test_refunds_never_refill_lots(self, mid: Ledger, clock: ManualClock) -> None:
        """A refund or add_to_balance goes to the main row (refund capped at the grant)."""
        monthly(mid, {"length": 1})
        mid.track("c1", "messages", value=30)
        clock.set(APR)
        mid.track("c1", "messages", value=80)  # lot 70 -> 0, row 100 -> 90
        b = mid.track("c1", "messages", value=-50).balance
        assert b is not None
        assert lots(b) == [(70, 0, MAY)]
        assert rows(b) == [(100, 100, 0)]
        b = mid.update("c1", "messages", add_to_balance=30)
        assert b is not None
        assert lots(b) == [(70, 0, MAY)]
        assert rows(b) == [(100, 130, -30)]


class TestCaps:
    """max, max_percentage (wins over max), length and duration limit what rolls over."""

    def test_max(self, mid: Ledger, clock: ManualClock) -> None:
        """max 50: a lot of 100 is trimmed to 50 (granted shrinks with it)."""
        monthly(mid, {"max": 50, "length": 1})
        clock.set(APR)
        b = bal(mid)
        assert lots(b) == [(50, 50, MAY)]
        assert totals(b) == (150, 150, 0)

    @pytest.mark.parametrize("looked", [False, True], ids=["untouched", "read-every-day"])
    def test_max_trims_soonest_expiring_first(
        self, mid: Ledger, clock: ManualClock, looked: bool
    ) -> None:
        """max 120, length 3, untouched: [100] → [20, 100] → [20, 100] of the two newest lots."""
        monthly(mid, {"max": 120, "length": 3})

        def go(target: datetime) -> None:
            while looked and clock.now() + timedelta(days=1) < target:
                clock.advance(days=1)
                mid.track("c1", "messages", value=0)  # persists the caught-up state
            clock.set(target)

        go(MAY)
        assert lots(bal(mid)) == [(20, 20, JUL), (100, 100, AUG)]
        go(JUN + timedelta(days=1))
        b = bal(mid)
        assert lots(b) == [(20, 20, AUG), (100, 100, SEP)]
        assert totals(b) == (220, 220, 0)
        go(JUL)
        assert lots(bal(mid)) == [(20, 20, SEP), (100, 100, OCT)]

    def test_trim_keeps_usage(self, mid: Ledger, clock: ManualClock) -> None:
        """A partly used lot that gets trimmed keeps its usage: granted = balance + usage."""
        monthly(mid, {"max": 120, "length": 3})
        clock.set(APR)
        mid.track("c1", "messages", value=60)  # lot [100] -> balance 40, usage 60
        clock.set(MAY)
        # 40 + 100 (new) = 140 > 120: the older lot is trimmed by 20 to 20 (usage stays 60)
        b = bal(mid)
        assert lots(b) == [(80, 20, JUL), (100, 100, AUG)]
        assert totals(b) == (280, 220, 60)

    def test_max_percentage_wins_over_max(self, mid: Ledger, clock: ManualClock) -> None:
        """max 80 with max_percentage 30 of 100: the cap is 30."""
        monthly(mid, {"max": 80, "max_percentage": 30, "length": 1})
        clock.set(APR)
        assert lots(bal(mid)) == [(30, 30, MAY)]

    def test_max_percentage_floors(self, mid: Ledger, clock: ManualClock) -> None:
        """50 % of 15 caps at 7 (floored), not 7.5."""
        mid.create(
            "c1",
            "messages",
            included=15,
            reset="month",
            rollover={"max_percentage": 50, "length": 1},
        )
        clock.set(APR)
        assert lots(bal(mid)) == [(7, 7, MAY)]

    def test_length(self, mid: Ledger, clock: ManualClock) -> None:
        """length 2: each lot lives two months and is gone at exactly its expiry."""
        monthly(mid, {"length": 2})
        clock.set(JUN - MS)
        assert lots(bal(mid)) == [(100, 100, JUN), (100, 100, JUL)]
        assert bal(mid).granted == 300
        clock.set(JUN)
        assert lots(bal(mid)) == [(100, 100, JUL), (100, 100, AUG)]
        assert bal(mid).granted == 300

    def test_forever(self, mid: Ledger, clock: ManualClock) -> None:
        """duration forever: lots never expire and report expires_at 0 on the wire."""
        monthly(mid, {"duration": "forever"})
        mid.track("c1", "messages", value=40)
        clock.set(JUN)
        b = bal(mid)
        assert lots(b) == [(60, 60, None), (100, 100, None), (100, 100, None)]
        assert totals(b) == (360, 360, 0)
        assert [r["expires_at"] for r in b.to_dict()["rollovers"]] == [0, 0, 0]

    def test_forever_capped_trims_oldest(self, mid: Ledger, clock: ManualClock) -> None:
        """Never-expiring lots tie on expiry: the cap trims the oldest first."""
        monthly(mid, {"duration": "forever", "max": 250})
        clock.set(JUN)
        assert lots(bal(mid)) == [(50, 50, None), (100, 100, None), (100, 100, None)]

    def test_minute_grant_idle_a_year(self, mid: Ledger, clock: ManualClock) -> None:
        """Minute grant of 10 with max 25, idle a year: the three newest lots 5, 10, 10 survive."""
        mid.create(
            "c1",
            "messages",
            included=10,
            reset="minute",
            rollover={"max": 25, "length": 1},
        )
        mid.track("c1", "messages", value=4)
        clock.set(utc(2026, 3, 10, 12, 0, 30))
        b = bal(mid)
        assert lots(b) == [
            (5, 5, utc(2026, 4, 10, 11, 58)),
            (10, 10, utc(2026, 4, 10, 11, 59)),
            (10, 10, utc(2026, 4, 10, 12, 0)),
        ]
        assert totals(b) == (35, 35, 0)
        assert b.next_reset_at == utc(2026, 3, 10, 12, 1)


class TestSkippedPeriods:
    """Periods nobody saw still made their lots, which expired as they would have."""

    def test_three_months_untouched(self, mid: Ledger, clock: ManualClock) -> None:
        """Monthly 100, max 50, length 1, untouched three months: one lot of 50 plus 100."""
        monthly(mid, {"max": 50, "length": 1})
        clock.set(JUN + timedelta(days=3))
        b = bal(mid)
        assert lots(b) == [(50, 50, JUL)]
        assert totals(b) == (150, 150, 0)
        assert b.to_dict()["rollovers"] == [
            {"granted": 50, "balance": 50, "expires_at": to_ms(JUL, field="t")}
        ]

    def test_three_months_untouched_from_a_month_end(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        """The same from Jan 31 (boundaries Feb 28, Mar 31, Apr 30): one lot of 50 plus 100."""
        monthly(ledger, {"max": 50, "length": 1})
        clock.set(utc(2025, 5, 15))
        b = bal(ledger)
        assert lots(b) == [(50, 50, utc(2025, 5, 31, 12))]
        assert totals(b) == (150, 150, 0)

    def test_lot_expires_mid_period(self, mid: Ledger, clock: ManualClock) -> None:
        """A quarterly grant's one-month lot expires a month into the quarter, unseen."""
        mid.create("c1", "messages", included=100, reset="quarter", rollover={"length": 1})
        mid.track("c1", "messages", value=10)
        clock.set(JUL - MS)
        assert lots(bal(mid)) == [(90, 90, JUL)]
        clock.set(JUL)
        b = bal(mid)
        assert b.rollovers == ()
        assert totals(b) == (100, 100, 0)
        assert b.next_reset_at == SEP

    def test_rollovers_in_breakdown_order(self, mid: Ledger, clock: ManualClock) -> None:
        """`rollovers` lists lots grant by grant in breakdown order, each by expiry."""
        mid.create(
            "c1",
            "messages",
            included=10,
            reset="week",
            rollover={"length": 1},
            balance_id="weekly",
        )
        monthly(mid, {"length": 2}, balance_id="monthly")
        clock.set(MAY + timedelta(hours=1))
        b = bal(mid)
        assert [i.id for i in b.breakdown] == ["weekly", "monthly"]
        weekly = [lot for lot in lots(b) if lot[0] == 10]
        assert lots(b)[: len(weekly)] == weekly
        assert lots(b)[len(weekly) :] == [(100, 100, JUN), (100, 100, JUL)]
        assert [lot[2] for lot in weekly] == sorted(lot[2] for lot in weekly if lot[2])


class TestMonthEndLots:
    """Lots of a grant anchored on a month end expire on a later anchored boundary."""

    def test_lot_lives_until_the_next_boundary(self, ledger: Ledger, clock: ManualClock) -> None:
        """Made Feb 28 (anchored Jan 31), a one-month lot lives until Mar 31, not Mar 28."""
        monthly(ledger, {"length": 1})
        ledger.track("c1", "messages", value=30)
        clock.set(utc(2025, 2, 28, 12))
        assert lots(bal(ledger)) == [(70, 70, utc(2025, 3, 31, 12))]
        clock.set(utc(2025, 3, 31, 12) - MS)
        assert lots(bal(ledger)) == [(70, 70, utc(2025, 3, 31, 12))]
        clock.set(utc(2025, 3, 31, 12))
        assert lots(bal(ledger)) == [(100, 100, utc(2025, 4, 30, 12))]

    def test_longer_lot(self, ledger: Ledger, clock: ManualClock) -> None:
        """A two-month lot made Feb 28 expires Apr 30; the one made Mar 31 expires May 31."""
        monthly(ledger, {"length": 2})
        clock.set(utc(2025, 4, 1))
        assert lots(bal(ledger)) == [
            (100, 100, utc(2025, 4, 30, 12)),
            (100, 100, utc(2025, 5, 31, 12)),
        ]
