"""Properties of the pure usage report (`rules.bins`, `operations.usage`), on plain rows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from meterlib.operations.usage import Grouping, report, tally
from meterlib.quantity import exact_arithmetic
from meterlib.rules.bins import BIN_SIZES, bin_start, grid
from meterlib.usage_rows import UsageRow

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe"]
FIRST = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
SPAN = 400 * 86_400_000  # a little over a year: every DST change of every zone above

instants = st.integers(FIRST, FIRST + SPAN)
DAY = 86_400_000
rows = st.lists(
    st.builds(
        lambda at, name, cents, group: UsageRow(
            at, "c1", None, name, Decimal(cents) / 100, {} if group is None else {"g": group}
        ),
        st.integers(FIRST + 60 * DAY, FIRST + 120 * DAY),  # spans the March DST changes
        st.sampled_from(["a", "b", "x"]),
        st.integers(-500, 5000),
        st.none() | st.sampled_from(["p", "q", "r", "s"]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ZONES), st.sampled_from(BIN_SIZES), instants, st.integers(1, 40 * DAY))
def test_bins_tile_the_window_at_local_midnights(
    zone_name: str, bin_size: str, start: int, length: int
) -> None:
    """Bins are contiguous, cover [start, end), each starts where `bin_start` says, and a
    day bin is one local calendar day (22.5 to 25 hours: Lord Howe moves by 30 minutes)."""
    zone = ZoneInfo(zone_name)
    edges = grid(start, start + length, bin_size, zone, most=10_000)
    assert edges is not None
    assert edges[0] <= start < edges[1] and edges[-2] < start + length <= edges[-1]
    for first, after in itertools.pairwise(edges):
        assert bin_start(first, bin_size, zone) == first
        assert bin_start(after - 1, bin_size, zone) == first
        if bin_size == "day":
            assert (
                timedelta(hours=22.5)
                <= timedelta(milliseconds=after - first)
                <= timedelta(hours=25)
            )
            local = datetime.fromtimestamp(first / 1000, zone)
            assert local.time().minute in (0, 30) and local.hour in (0, 1)


@settings(max_examples=50, deadline=None)
@given(rows, st.sampled_from(ZONES), st.sampled_from(BIN_SIZES), st.integers(1, 3))
def test_totals_bins_and_groups_agree(
    events: list[UsageRow], zone_name: str, bin_size: str, most: int
) -> None:
    """Exact sums: the bins add up to the total of the rows inside them; grouped, every bin's
    groups (the kept ones and Other) add up to what its grouped rows carried; at most `most`
    named groups are non-zero in a bin."""
    counted = {"A": ("a",), "B": ("b", "a")}  # "a" reaches both features; "x" neither
    edges = grid(FIRST + 70 * DAY, FIRST + 110 * DAY, bin_size, ZoneInfo(zone_name), most=10_000)
    assert edges is not None
    inside = [r for r in events if edges[0] <= r.timestamp < edges[-1]]
    with exact_arithmetic():
        plain = report(
            tally(events, counted=counted, edges=edges), edges, now=FIRST + SPAN, grouping=None
        )
        grouping = Grouping("properties.g", most, "Other")
        grouped = report(
            tally(events, counted=counted, edges=edges, grouping=grouping),
            edges,
            now=FIRST + SPAN,
            grouping=grouping,
        )
        for feature, names in counted.items():
            mine = [r for r in events if r.name in names]
            assert plain.total[feature].count == len(mine)
            assert plain.total[feature].sum == sum((r.value for r in mine), Decimal(0))
            in_bins = sum((p.values[feature] for p in plain.periods), Decimal(0))
            assert in_bins == sum((r.value for r in inside if r.name in names), Decimal(0))
            with_group = [r for r in inside if r.name in names and r.properties]
            assert sum((p.values[feature] for p in grouped.periods), Decimal(0)) == sum(
                (r.value for r in with_group), Decimal(0)
            )
            for period in grouped.periods:
                cells = (period.grouped or {})[feature]
                assert sum(cells.values(), Decimal(0)) == period.values[feature]
                named = [g for g, v in cells.items() if g != "Other" and v != 0]
                assert len(named) <= most
