"""`resets_lots.new_lots`: its direct walk of the newest day's sub-day lots (the fast path every
long-idle minute or hour grant takes) against the general lazy walk down the trimming order."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from meterlib import intervals
from meterlib.models import Grant, RolloverLot, RolloverRule
from meterlib.rules import resets
from meterlib.rules import rollovers as resets_lots
from tests.rules.test_resets import D, anchors, make, ms, scenarios

INFINITE = Decimal("Infinity")


def general_walk(
    grant: Grant, *, lo: int, hi: int, first: int, now: int, cap: Decimal, persist: bool
) -> tuple[RolloverLot, ...]:
    """What `new_lots` must return, from the lazy top-down walk alone (no fast path)."""
    assert grant.anchor is not None and grant.rollover is not None
    left = cap
    kept: list[tuple[int, RolloverLot]] = []
    for expires_at, k, b in resets_lots._new_lots_top_down(
        grant, grant.anchor, grant.rollover, lo, hi, now=now
    ):
        if left <= 0:
            break
        size = resets_lots.balance_after(grant, k - first, persist_overage=persist)
        lot = RolloverLot(id=f"{grant.id}/{b}", balance=min(size, left), expires_at=expires_at)
        kept.append((k, lot))
        left -= size
    return tuple(lot for _, lot in sorted(kept, key=lambda pair: pair[0]))


def both_walks(
    grant: Grant, now: int, persist: bool
) -> tuple[tuple[RolloverLot, ...], tuple[RolloverLot, ...]] | None:
    """`new_lots` and the general walk over the resets `advance` would run, as it calls them."""
    rule, anchor = grant.rollover, grant.anchor
    assert anchor is not None
    last = intervals.periods_through(anchor, grant.interval, grant.interval_count, now)
    first = grant.period
    made = resets._positive_run(grant, last - first + 1, persist_overage=persist)
    if rule is None or last < first or made is None:
        return None
    lo, hi = first + made[0], first + made[1]
    cap = resets.effective_cap(grant)
    limit = INFINITE if cap is None else cap
    fast = resets_lots.new_lots(
        grant, anchor, rule, lo, hi, first=first, now=now, cap=limit, persist_overage=persist
    )
    general = general_walk(grant, lo=lo, hi=hi, first=first, now=now, cap=limit, persist=persist)
    return fast, general


@settings(max_examples=150, deadline=None)
@given(
    interval=st.sampled_from(["minute", "hour"]),
    count=st.integers(1, 3),
    anchor=anchors(),
    period=st.integers(0, 3),
    gap=st.one_of(st.integers(0, 200), st.integers(0, 100_000)),
    offset=st.integers(0, 3_599_999),
    included=st.sampled_from(["10", "7.5", "1", "0", "250"]),
    balance=st.sampled_from(["6", "0", "-3", "-250.5", "12.25", "10"]),
    cap=st.one_of(st.none(), st.sampled_from(["25", "10", "0.5", "1000", "33.3"])),
    length=st.integers(0, 3),
    persist=st.booleans(),
)
def test_new_lots_matches_the_general_walk(
    *,
    interval: str,
    count: int,
    anchor: int,
    period: int,
    gap: int,
    offset: int,
    included: str,
    balance: str,
    cap: str | None,
    length: int,
    persist: bool,
) -> None:
    """Minute and hour grants idle a few periods to two years: the same lots either way."""
    rule = RolloverRule(max=None if cap is None else D(cap), length=length)
    grant = make(
        interval=interval,
        count=count,
        anchor=anchor,
        period=period,
        included=included,
        balance=balance,
        rollover=rule,
    )
    now = intervals.boundary(anchor, interval, count, period + gap) + offset % (
        intervals.add(0, interval, count)
    )
    walks = both_walks(grant, now, persist)
    if walks is not None:
        fast, general = walks
        assert fast == general
        # equal amounts are not enough: the same Decimal, exponent and all
        assert [str(lot.balance) for lot in fast] == [str(lot.balance) for lot in general]


@settings(max_examples=60, deadline=None)
@given(scenarios(max_gap=300, sub_day=True))
def test_new_lots_matches_the_general_walk_at_month_ends(
    scenario: tuple[Grant, int, bool],
) -> None:
    """Lots made on a long month's last days, several source days per expiry day."""
    grant, now, persist = scenario
    walks = both_walks(grant, now, persist)
    if walks is not None:
        fast, general = walks
        assert fast == general


def test_the_benchmark_grant() -> None:
    """A minute grant with max 25 of 10 a minute, idle a year: the three newest lots, 5 10 10."""
    anchor = ms(2025, 3, 10, 12)
    grant = make(
        interval="minute",
        anchor=anchor,
        included=10,
        balance=6,
        rollover=RolloverRule(max=D(25), length=1),
    )
    now = ms(2026, 3, 10, 12, 0, 30)
    walks = both_walks(grant, now, False)
    assert walks is not None
    fast, general = walks
    assert fast == general
    assert [lot.balance for lot in fast] == [5, 10, 10]
    assert resets.advance(grant, now).rollovers == fast
