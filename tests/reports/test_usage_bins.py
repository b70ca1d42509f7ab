"""`Ledger.usage`: the bins and what falls in them, with worked numbers, on every store.

The clock stands at 2026-12-01 00:00 UTC; events are tracked with past timestamps, which
count in the bin of their own time. Day, week and month bins start at the zone's midnights.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterlib import Ledger, ManualClock
from meterlib.usage_results import UsageReport

D = Decimal
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def led(ledger: Ledger, clock: ManualClock) -> Ledger:
    """Customer c1 with 10 000 messages; the clock at NOW."""
    clock.set(NOW)
    ledger.create("c1", "messages", included=10_000)
    return ledger


def track(ledger: Ledger, when: datetime, value: object = 1, **kw: object) -> None:
    ledger.track("c1", kw.pop("feature", "messages"), value=value, timestamp=when, **kw)  # type: ignore[arg-type]


def spans(report: UsageReport) -> list[tuple[datetime, float]]:
    """(start, length in hours) of each bin."""
    return [(p.start, (p.end - p.start) / timedelta(hours=1)) for p in report.periods]


def values(report: UsageReport, feature: str = "messages") -> list[Decimal]:
    return [p.values[feature] for p in report.periods]


class TestDaylightSaving:
    def test_new_york_spring_forward_day_has_23_hours(self, led: Ledger) -> None:
        """2026-03-08 in New York runs from 05:00Z to 04:00Z next day; its last millisecond
        and the next day's first fall either side of that edge."""
        track(led, utc(2026, 3, 9, 4) - MS, 2)  # 2026-03-08 23:59:59.999 EDT
        track(led, utc(2026, 3, 9, 4), 3)  # 2026-03-09 00:00 EDT: the next bin
        report = led.usage(
            "messages",
            customer_id="c1",
            start=datetime(2026, 3, 7, tzinfo=NEW_YORK),
            end=datetime(2026, 3, 10, tzinfo=NEW_YORK),
            timezone="America/New_York",
        )
        assert spans(report) == [
            (utc(2026, 3, 7, 5), 24.0),
            (utc(2026, 3, 8, 5), 23.0),
            (utc(2026, 3, 9, 4), 24.0),
        ]
        assert values(report) == [0, 2, 3]

    def test_new_york_fall_back_day_has_25_hours(self, led: Ledger) -> None:
        """2026-11-01 in New York is 25 hours: 04:00Z to 05:00Z next day."""
        track(led, utc(2026, 11, 2, 4, 30), 7)  # 2026-11-01 23:30 EST
        report = led.usage(
            "messages",
            customer_id="c1",
            start=datetime(2026, 11, 1, tzinfo=NEW_YORK),
            end=datetime(2026, 11, 3, tzinfo=NEW_YORK),
            timezone="America/New_York",
        )
        assert spans(report) == [(utc(2026, 11, 1, 4), 25.0), (utc(2026, 11, 2, 5), 24.0)]
        assert values(report) == [7, 0]

    def test_berlin_both_changes(self, led: Ledger) -> None:
        """Berlin: 2026-03-29 is 23 hours (22:00Z to 22:00Z), 2026-10-25 is 25 hours."""
        track(led, utc(2026, 3, 28, 23), 1)  # 2026-03-29 00:00 CET
        track(led, utc(2026, 3, 29, 22) - MS, 2)  # 2026-03-29 23:59:59.999 CEST
        track(led, utc(2026, 10, 25, 23) - MS, 5)  # 2026-10-25 23:59:59.999 CET
        spring = led.usage(
            "messages",
            customer_id="c1",
            start=utc(2026, 3, 28, 23),
            end=utc(2026, 3, 29, 22),
            timezone="Europe/Berlin",
        )
        assert spans(spring) == [(utc(2026, 3, 28, 23), 23.0)]
        assert values(spring) == [3]
        autumn = led.usage(
            "messages",
            customer_id="c1",
            start=datetime(2026, 10, 25, tzinfo=BERLIN),
            end=datetime(2026, 10, 26, tzinfo=BERLIN),
            timezone="Europe/Berlin",
        )
        assert spans(autumn) == [(utc(2026, 10, 24, 22), 25.0)]
        assert values(autumn) == [5]

    def test_hour_bins_are_utc_hours(self, led: Ledger) -> None:
        """Hour bins are whole UTC hours whatever the zone (as Autumn's)."""
        track(led, utc(2026, 3, 8, 6, 59), 1)
        track(led, utc(2026, 3, 8, 7), 2)
        report = led.usage(
            "messages",
            customer_id="c1",
            start=utc(2026, 3, 8, 6, 30),
            end=utc(2026, 3, 8, 8),
            bin_size="hour",
            timezone="America/New_York",
        )
        assert spans(report) == [(utc(2026, 3, 8, 6), 1.0), (utc(2026, 3, 8, 7), 1.0)]
        assert values(report) == [1, 2]


class TestCalendarBins:
    def test_week_bins_start_on_monday(self, led: Ledger) -> None:
        """Week bins start on the Monday at or before start (2026-03-02 is a Monday)."""
        track(led, utc(2026, 3, 8, 23, 59), 1)  # Sunday: week of 03-02
        track(led, utc(2026, 3, 9), 4)  # Monday: the next week
        report = led.usage(
            "messages",
            customer_id="c1",
            start=utc(2026, 3, 4),
            end=utc(2026, 3, 16),
            bin_size="week",
        )
        assert [p.start for p in report.periods] == [utc(2026, 3, 2), utc(2026, 3, 9)]
        assert [p.end for p in report.periods] == [utc(2026, 3, 9), utc(2026, 3, 16)]
        assert values(report) == [1, 4]

    def test_month_bins_of_28_to_31_days(self, led: Ledger) -> None:
        """January 31, February 28, March 31, April 30 days; events on the edges go later."""
        track(led, utc(2026, 2, 1), 1)
        track(led, utc(2026, 3, 1) - MS, 2)
        track(led, utc(2026, 3, 1), 4)
        report = led.usage(
            "messages",
            customer_id="c1",
            start=utc(2026, 1, 1),
            end=utc(2026, 5, 1),
            bin_size="month",
        )
        assert [(p.end - p.start).days for p in report.periods] == [31, 28, 31, 30]
        assert values(report) == [0, 3, 4, 0]

    def test_month_bins_in_a_zone(self, led: Ledger) -> None:
        """A Berlin month starts at its local midnight: 2026-03-01 00:00 CET is 02-28 23:00Z."""
        track(led, utc(2026, 2, 28, 23), 6)
        report = led.usage(
            "messages",
            customer_id="c1",
            start=utc(2026, 2, 15),
            end=utc(2026, 3, 15),
            bin_size="month",
            timezone="Europe/Berlin",
        )
        assert [p.start for p in report.periods] == [utc(2026, 1, 31, 23), utc(2026, 2, 28, 23)]
        assert values(report) == [0, 6]


class TestWindow:
    def test_every_bin_present_and_events_in_the_window_only(self, led: Ledger) -> None:
        """Bins hold [start, end) of their edges; events before start or at end are out."""
        track(led, utc(2026, 5, 1, 11, 59), 100)
        track(led, utc(2026, 5, 1, 12), 1)
        track(led, utc(2026, 5, 3, 11, 59), 2)
        track(led, utc(2026, 5, 3, 12), 100)
        report = led.usage(
            "messages", customer_id="c1", start=utc(2026, 5, 1, 12), end=utc(2026, 5, 3, 12)
        )
        assert [p.start for p in report.periods] == [utc(2026, 5, d) for d in (1, 2, 3)]
        assert values(report) == [1, 0, 2]
        assert report.total["messages"].count == 2
        assert report.total["messages"].sum == 3

    def test_default_is_the_last_30_days_and_no_future_bins(
        self, led: Ledger, clock: ManualClock
    ) -> None:
        """No start or end: the 30 days up to now, 31 day bins (the first one partial)."""
        track(led, NOW - timedelta(days=30), 100)  # before the window (now is NOW + 1 h)
        track(led, NOW - timedelta(days=30) + timedelta(hours=1), 1)  # its first instant
        clock.set(NOW + timedelta(hours=1))
        track(led, NOW + timedelta(minutes=5), 2)
        report = led.usage("messages", customer_id="c1", end=utc(2026, 12, 5))
        assert report.periods[-1].start == NOW  # bins that start after now are left out
        assert sum(values(report)) == 2
        default = led.usage("messages", customer_id="c1")
        assert default.periods[0].start == utc(2026, 11, 1)
        assert len(default.periods) == 31
        assert default.total["messages"].sum == 3

    def test_ten_tenths_make_exactly_one(self, led: Ledger) -> None:
        """Ten events of 0.1 sum to exactly 1, in the bin and the total."""
        for i in range(10):
            track(led, utc(2026, 6, 1, i), "0.1")
        report = led.usage("messages", customer_id="c1", start=utc(2026, 6, 1), end=utc(2026, 6, 2))
        assert values(report) == [D(1)]
        assert report.total["messages"].sum == D(1)
        assert report.to_dict()["total"] == {"messages": {"count": 10, "sum": 1}}

    def test_count_and_sum(self, led: Ledger) -> None:
        """measure="count" counts events (a refund of -2 too); total is the same either way."""
        track(led, utc(2026, 6, 1, 1), 5)
        track(led, utc(2026, 6, 1, 2), -2)
        track(led, utc(2026, 6, 1, 3), "0.5")
        window = {"start": utc(2026, 6, 1), "end": utc(2026, 6, 2)}
        summed = led.usage("messages", customer_id="c1", **window)  # type: ignore[arg-type]
        counted = led.usage("messages", customer_id="c1", measure="count", **window)  # type: ignore[arg-type]
        assert values(summed) == [D("3.5")]
        assert values(counted) == [3]
        assert summed.total == counted.total
        assert counted.total["messages"].count == 3
