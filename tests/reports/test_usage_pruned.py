"""`usage()` over pruned time: exact from the hourly totals for bins of an hour or longer,
and refused where totals cannot answer (group_by / filter_by, boundaries off the hour).
Every test runs over every store."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlib import InvalidRequest, Ledger, ManualClock

HOUR = 3_600_000
NOW = datetime(2026, 12, 1, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
START = NOW - timedelta(days=62)  # two months of bins, whole hours, days and months
_customers = itertools.count()


def catalogue(ledger: Ledger, customer: str) -> None:
    ledger.create_feature("api", event_names=("call",))
    ledger.create_feature("credits", type="credit_system", credit_schema={"api": 2})
    ledger.create(customer, "api", included=10**6)
    ledger.create_entity(customer, "e1")


@pytest.fixture
def led(ledger: Ledger, clock: ManualClock) -> Ledger:
    clock.set(NOW)
    catalogue(ledger, "c1")
    for hours in (1, 30, 31, 700, 1000):  # events 1 h, 30 h, ... before NOW
        ledger.track(
            "c1",
            "api",
            value=hours,
            timestamp=NOW - timedelta(hours=hours, minutes=20),
            properties={"region": "eu"},
        )
    return ledger


def report(ledger: Ledger, **kw: object) -> object:
    kw.setdefault("start", START)
    kw.setdefault("end", NOW)
    return ledger.usage("api", **kw).to_dict()  # type: ignore[arg-type]


@pytest.mark.parametrize("bin_size", ["hour", "day", "week", "month"])
def test_usage_is_unchanged_by_a_prune(led: Ledger, bin_size: str) -> None:
    before = [report(led, bin_size=bin_size, measure=m) for m in ("sum", "count")]
    assert led.prune(NOW - timedelta(hours=30)).events_removed == 4
    assert [report(led, bin_size=bin_size, measure=m) for m in ("sum", "count")] == before


def test_grouping_over_pruned_time_names_the_instant(led: Ledger) -> None:
    led.prune(NOW - timedelta(hours=30))
    for kw in ({"group_by": "properties.region"}, {"filter_by": {"region": "eu"}}):
        with pytest.raises(InvalidRequest, match="2026-11-29T18:00:00") as raised:
            report(led, **kw)
        assert raised.value.field == next(iter(kw))
    # from the pruned-through instant on, events are all there: grouping is fine again
    grouped = led.usage(
        "api", start=NOW - timedelta(hours=30), end=NOW, group_by="properties.region"
    )
    assert grouped.total["api"].sum == Decimal(1)


def test_boundaries_off_the_hour_over_pruned_time_are_refused(led: Ledger) -> None:
    led.prune(NOW - timedelta(hours=30))
    with pytest.raises(InvalidRequest, match="whole hours"):
        report(led, start=START + timedelta(minutes=30))
    with pytest.raises(InvalidRequest, match="whole hours"):
        report(led, bin_size="day", timezone="Asia/Kolkata")  # midnights at :30 past
    assert report(led, bin_size="day", timezone="Europe/Berlin")  # whole-hour offsets are fine
    assert report(led, start=NOW - timedelta(hours=29, minutes=30))  # after pruned time: fine


tracks = st.lists(
    st.tuples(
        st.integers(1, 24 * 60 - 1).map(lambda m: m * 60_000 + 1234),  # ms before NOW
        st.sampled_from([("api", None), ("api", "e1"), ("call", None)]),
        st.decimals(min_value=-20, max_value=100, places=3),
    ),
    min_size=1,
    max_size=10,
)


FAST = settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(FAST, max_examples=20)


def usage_unchanged_by_prunes(
    ledger: Ledger,
    clock: ManualClock,
    program: list[tuple[int, tuple[str, str | None], Decimal]],
    cuts: list[int],
    zone: str,
) -> None:
    """Events anywhere in the last 60 days, pruned at any instants (off the hour too): every
    hour, day and month bin, summed and counted, per customer, entity and credit system, is
    what it was."""
    customer = f"c{next(_customers)}"
    clock.set(NOW)
    if not ledger.list_features():
        catalogue(ledger, customer)
    else:
        ledger.create(customer, "api", included=10**6)
        ledger.create_entity(customer, "e1")
    for ago, (name, entity), value in program:
        at = NOW - timedelta(milliseconds=ago * 60)  # spread over 60 days
        if name == "call":
            ledger.track(customer, event_name="call", value=value, timestamp=at)
        else:
            ledger.track(customer, name, value=value, entity_id=entity, timestamp=at)
    start = datetime(2026, 10, 1, tzinfo=ZoneInfo(zone))

    def reports() -> list[object]:
        return [
            ledger.usage(
                features,
                customer_id=customer,
                entity_id=entity,
                start=start,
                end=NOW,
                bin_size=bins,
                timezone=zone,
                measure=measure,
            ).to_dict()
            for features in ("api", ["api", "credits"])
            for entity in (None, "e1")
            for bins in ("hour", "day", "month")
            for measure in ("sum", "count")
        ]

    before = reports()
    for cut in cuts:
        ledger.prune(NOW_MS - cut)
    assert reports() == before


given_programs = given(
    program=tracks,
    cuts=st.lists(st.integers(0, 60 * 24 * 60 * 60_000), min_size=1, max_size=2),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
)


@FAST
@given_programs
def test_any_prune_leaves_hour_day_and_month_usage_unchanged(
    ledger: Ledger,
    clock: ManualClock,
    program: list[tuple[int, tuple[str, str | None], Decimal]],
    cuts: list[int],
    zone: str,
) -> None:
    usage_unchanged_by_prunes(ledger, clock, program, cuts, zone)


@pytest.mark.slow
@SLOW
@given_programs
def test_many_prunes_leave_usage_unchanged(
    ledger: Ledger,
    clock: ManualClock,
    program: list[tuple[int, tuple[str, str | None], Decimal]],
    cuts: list[int],
    zone: str,
) -> None:
    usage_unchanged_by_prunes(ledger, clock, program, cuts, zone)
