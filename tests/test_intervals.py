"""Anchored reset boundaries: every interval, month ends, leap years, locating `now`."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, datetime

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from meterlib import intervals
from meterlib.instants import to_datetime, to_ms
from meterlib.models import INTERVALS


def utc(*args: int) -> datetime:
    """A UTC wall-clock time."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def ms(*args: int) -> int:
    """Epoch ms of a UTC wall-clock time."""
    return to_ms(utc(*args), field="t")


def dt(t: int) -> datetime:
    """The UTC datetime of epoch ms."""
    return to_datetime(t)


ANCHOR = ms(2025, 1, 15, 10, 30)
DAY_MS = 86_400_000

FIXED = [
    ("minute", utc(2025, 1, 15, 10, 31), utc(2025, 1, 15, 10, 32)),
    ("hour", utc(2025, 1, 15, 11, 30), utc(2025, 1, 15, 12, 30)),
    ("day", utc(2025, 1, 16, 10, 30), utc(2025, 1, 17, 10, 30)),
    ("week", utc(2025, 1, 22, 10, 30), utc(2025, 1, 29, 10, 30)),
    ("month", utc(2025, 2, 15, 10, 30), utc(2025, 3, 15, 10, 30)),
    ("quarter", utc(2025, 4, 15, 10, 30), utc(2025, 7, 15, 10, 30)),
    ("semi_annual", utc(2025, 7, 15, 10, 30), utc(2026, 1, 15, 10, 30)),
    ("year", utc(2026, 1, 15, 10, 30), utc(2027, 1, 15, 10, 30)),
]


class TestEachInterval:
    """One and two steps of every interval kind."""

    @pytest.mark.parametrize(("interval", "one", "two"), FIXED)
    def test_count_one(self, interval: str, one: datetime, two: datetime) -> None:
        """With interval_count 1, boundary k is k intervals after the anchor."""
        assert dt(intervals.boundary(ANCHOR, interval, 1, 0)) == dt(ANCHOR)
        assert dt(intervals.boundary(ANCHOR, interval, 1, 1)) == one
        assert dt(intervals.boundary(ANCHOR, interval, 1, 2)) == two

    @pytest.mark.parametrize(("interval", "one", "two"), FIXED)
    def test_count_two(self, interval: str, one: datetime, two: datetime) -> None:
        """With interval_count 2, boundary 1 is two intervals after the anchor."""
        assert dt(intervals.boundary(ANCHOR, interval, 2, 1)) == two

    @pytest.mark.parametrize(("interval", "one", "two"), FIXED)
    def test_periods_through(self, interval: str, one: datetime, two: datetime) -> None:
        """periods_through counts the boundaries at or before now, boundaries included."""
        one_ms, two_ms = to_ms(one, field="t"), to_ms(two, field="t")
        assert intervals.periods_through(ANCHOR, interval, 1, ANCHOR - 1) == -1
        assert intervals.periods_through(ANCHOR, interval, 1, ANCHOR) == 0
        assert intervals.periods_through(ANCHOR, interval, 1, one_ms - 1) == 0
        assert intervals.periods_through(ANCHOR, interval, 1, one_ms) == 1
        assert intervals.periods_through(ANCHOR, interval, 1, two_ms) == 2
        assert intervals.periods_through(ANCHOR, interval, 2, two_ms - 1) == 0
        assert intervals.periods_through(ANCHOR, interval, 2, two_ms) == 1

    def test_unknown_interval(self) -> None:
        """An unknown interval name is a KeyError, not a silent one-off."""
        with pytest.raises(KeyError):
            intervals.add(ANCHOR, "fortnight", 1)


class TestMonthEnds:
    """Anchored month arithmetic clamps to the month's last day and never drifts."""

    def test_jan_31_monthly(self) -> None:
        """Anchored on Jan 31 a monthly grant resets on Feb 28, Mar 31, Apr 30, May 31."""
        anchor = ms(2025, 1, 31, 12)
        got = [dt(intervals.boundary(anchor, "month", 1, k)).date() for k in range(1, 5)]
        assert [(d.month, d.day) for d in got] == [(2, 28), (3, 31), (4, 30), (5, 31)]

    def test_jan_31_monthly_leap_year(self) -> None:
        """In a leap year the Jan 31 anchor resets on Feb 29."""
        anchor = ms(2024, 1, 31)
        assert dt(intervals.boundary(anchor, "month", 1, 1)) == datetime(2024, 2, 29, tzinfo=UTC)
        assert dt(intervals.boundary(anchor, "month", 1, 2)) == datetime(2024, 3, 31, tzinfo=UTC)

    def test_feb_29_yearly(self) -> None:
        """A Feb 29 anchor resets yearly on Feb 28 and again on Feb 29 in the next leap year."""
        anchor = ms(2024, 2, 29, 8)
        got = [dt(intervals.boundary(anchor, "year", 1, k)).date() for k in range(1, 5)]
        assert [(d.year, d.month, d.day) for d in got] == [
            (2025, 2, 28),
            (2026, 2, 28),
            (2027, 2, 28),
            (2028, 2, 29),
        ]

    def test_aug_31_quarterly(self) -> None:
        """Aug 31 plus a quarter is Nov 30, and plus two quarters is Feb 28."""
        anchor = ms(2025, 8, 31)
        assert dt(intervals.boundary(anchor, "quarter", 1, 1)).day == 30
        assert dt(intervals.boundary(anchor, "quarter", 1, 2)) == datetime(2026, 2, 28, tzinfo=UTC)
        assert dt(intervals.boundary(anchor, "quarter", 1, 3)) == datetime(2026, 5, 31, tzinfo=UTC)

    def test_periods_through_clamped_boundary(self) -> None:
        """Just before the clamped Feb 28 boundary only boundary 0 has passed."""
        anchor = ms(2025, 1, 31, 12)
        assert intervals.periods_through(anchor, "month", 1, ms(2025, 2, 28, 11, 59)) == 0
        assert intervals.periods_through(anchor, "month", 1, ms(2025, 2, 28, 12)) == 1
        assert intervals.periods_through(anchor, "month", 1, ms(2025, 3, 31, 11)) == 1

    def test_add_months_backwards(self) -> None:
        """add_months also goes back, clamped the same way."""
        assert dt(intervals.add_months(ms(2025, 3, 31), -1)) == datetime(2025, 2, 28, tzinfo=UTC)


class TestOrder:
    """Autumn's deduction order compares interval lengths."""

    def test_order_minutes(self) -> None:
        """Interval minutes times count; one-off sorts after everything."""
        assert intervals.order_minutes("hour", 2) == 120
        assert intervals.order_minutes("month", 1) < intervals.order_minutes("one_off", 1)


instants = st.integers(min_value=ms(1990, 1, 1), max_value=ms(2060, 1, 1))
month_end_anchors = st.builds(
    lambda y, m, d, h, mi: ms(y, m, min(d, monthrange(y, m)[1]), h, mi),
    st.integers(2000, 2040),
    st.integers(1, 12),
    st.integers(27, 31),
    st.integers(0, 23),
    st.integers(0, 59),
)


@settings(max_examples=300, deadline=None)
@given(
    anchor=st.one_of(instants, month_end_anchors),
    interval=st.sampled_from(INTERVALS),
    count=st.integers(1, 3),
    now=instants,
)
def test_periods_through_brackets_now(anchor: int, interval: str, count: int, now: int) -> None:
    """periods_through(now) = k exactly when boundary k <= now < boundary k + 1."""
    k = intervals.periods_through(anchor, interval, count, now)
    assert intervals.boundary(anchor, interval, count, k) <= now
    assert intervals.boundary(anchor, interval, count, k + 1) > now


@settings(max_examples=200, deadline=None)
@given(
    anchor=st.one_of(instants, month_end_anchors),
    interval=st.sampled_from(INTERVALS),
    count=st.integers(1, 3),
    k=st.integers(-50, 300),
)
def test_boundaries_increase(anchor: int, interval: str, count: int, k: int) -> None:
    """Boundaries strictly increase and each is count × k intervals from the anchor."""
    here = intervals.boundary(anchor, interval, count, k)
    assert intervals.boundary(anchor, interval, count, k + 1) > here
    assert intervals.periods_through(anchor, interval, count, here) == k
    assert here == intervals.add(anchor, interval, count * k)


class TestAddMonthsAgreesWithDateutil:
    """The hand-written month arithmetic is dateutil's relativedelta, only faster."""

    @given(
        t=st.integers(min_value=-2_000_000_000_000, max_value=8_000_000_000_000),
        months=st.integers(min_value=-40, max_value=400),
    )
    @settings(max_examples=300, deadline=None)
    def test_same_instant(self, t: int, months: int) -> None:
        """add_months(t, n) equals t + relativedelta(months=n), clamping included."""
        expected = to_ms(to_datetime(t) + relativedelta(months=months), field="t")
        assert intervals.add_months(t, months) == expected


class TestMonthStepOfDay:
    """month_step_of_day: where a day lands after whole months, and which days land with it."""

    def test_clamped_month_end(self) -> None:
        """Jan 28 to 31 all land on Feb 28; Jan 27 alone on Feb 27."""
        day = ms(2025, 1, 30) // DAY_MS
        assert intervals.month_step_of_day(day, 1) == (ms(2025, 2, 28) // DAY_MS, day - 2)
        assert intervals.month_step_of_day(day - 3, 1) == (ms(2025, 2, 27) // DAY_MS, day - 3)

    def test_unclamped_month_end(self) -> None:
        """Mar 30 lands on Apr 30, a month end, but no earlier March day lands there."""
        day = ms(2025, 3, 30) // DAY_MS
        assert intervals.month_step_of_day(day, 1) == (ms(2025, 4, 30) // DAY_MS, day)

    @given(
        day=st.integers(min_value=ms(1990, 1, 1) // DAY_MS, max_value=ms(2060, 1, 1) // DAY_MS),
        months=st.integers(min_value=0, max_value=40),
    )
    @settings(max_examples=300, deadline=None)
    def test_agrees_with_add_months(self, day: int, months: int) -> None:
        """The target is add_months of the day; the days first..day and no earlier land on it."""
        target, first = intervals.month_step_of_day(day, months)

        def lands(d: int) -> int:
            return intervals.add_months(d * DAY_MS, months) // DAY_MS

        assert first <= day
        assert all(lands(d) == target for d in range(first, day + 1))
        assert lands(first - 1) < target

    def test_step_ms(self) -> None:
        """Fixed intervals have a fixed step; calendar ones none."""
        assert intervals.step_ms("minute", 3) == 180_000
        assert intervals.step_ms("week", 1) == 7 * DAY_MS
        assert intervals.step_ms("month", 1) is None
