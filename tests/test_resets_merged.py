"""`resets_lots.merged` (old lots and a catch-up's new lots trimmed together to the cap)
against a plain model: every lot listed, sorted by the trimming order, kept from the top while
the cap lasts. The model builds the new lots itself, boundary by boundary."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from meterlib import intervals
from meterlib.models import Grant, RolloverLot, RolloverRule
from meterlib.rules import rollovers as resets_lots
from tests.rules.test_resets import D, make

ANCHOR = 1_735_689_600_000  # 2025-01-01 00:00 UTC


def model(
    grant: Grant, rule: RolloverRule, lo: int, hi: int, *, now: int, cap: Decimal, persist: bool
) -> tuple[RolloverLot, ...]:
    """Old lots first (their order), then new ones by boundary, each keeping what of `cap` is
    left above it in the trimming order: latest expiry on top, never-expiring above all, ties
    newest on top; old lots rank below new ones. An old lot already at 0 stays while the
    lots above it do not exceed the cap."""
    old = grant.rollovers
    lots: list[tuple[tuple[bool, int, int], Decimal, int | None, int | None]] = []
    for i, lot in enumerate(old):
        lots.append(((lot.expires_at is None, lot.expires_at or 0, i), lot.balance, i, None))
    for k in range(lo, hi + 1):
        if rule.duration == "month":
            expires = intervals.lot_expiry(ANCHOR, grant.interval, 1, k, rule.length)
            if expires <= now:
                continue
        else:
            expires = None
        size = resets_lots.balance_after(grant, k - grant.period, persist_overage=persist)
        lots.append(((expires is None, expires or 0, len(old) + k), size, None, k))
    kept_old: dict[int, Decimal] = {}
    kept_new: dict[int, Decimal] = {}
    above = Decimal(0)
    for _, size, index, k in sorted(lots, reverse=True):
        if above > cap:
            break
        if index is not None and (size == 0 or above < cap):
            kept_old[index] = min(size, cap - above)
        elif k is not None and above < cap:
            kept_new[k] = min(size, cap - above)
        above += size
    result = [
        RolloverLot(id=lot.id, balance=kept_old[i], usage=lot.usage, expires_at=lot.expires_at)
        for i, lot in enumerate(old)
        if i in kept_old
    ]
    for k in sorted(kept_new):
        b = intervals.boundary(ANCHOR, grant.interval, 1, k)
        expires = (
            None
            if rule.duration != "month"
            else intervals.lot_expiry(ANCHOR, grant.interval, 1, k, rule.length)
        )
        result.append(RolloverLot(id=f"{grant.id}/{b}", balance=kept_new[k], expires_at=expires))
    return tuple(result)


old_lots = st.lists(
    st.tuples(
        st.sampled_from(["0", "3", "10", "25", "7.5"]),
        st.one_of(st.none(), st.integers(0, 6)),  # expiry: None, or a boundary index
    ),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
# the new lot fills the cap exactly; the old lot at 0 below it stays
@example(
    old=[("0", 1)],
    period=1,
    gap=0,
    idle=0,
    length=1,
    forever=False,
    cap="10",
    balance="10",
    persist=False,
)
@given(
    old=old_lots,
    period=st.integers(1, 3),
    gap=st.integers(0, 4),
    idle=st.integers(0, 3),
    length=st.integers(1, 4),
    forever=st.booleans(),
    cap=st.sampled_from(["0.5", "10", "20", "25", "35", "60", "1000"]),
    balance=st.sampled_from(["10", "4", "0", "12.5", "-15"]),
    persist=st.booleans(),
)
def test_merged_matches_the_model(
    *,
    old: list[tuple[str, int | None]],
    period: int,
    gap: int,
    idle: int,
    length: int,
    forever: bool,
    cap: str,
    balance: str,
    persist: bool,
) -> None:
    """Monthly grants of 10 with up to four old lots, caught up over 1 to 5 boundaries and
    looked at up to 3 months after the last (when the new lots may have expired already)."""
    rule = RolloverRule(
        max=D(cap), length=0 if forever else length, duration="forever" if forever else "month"
    )
    lo, hi = period, period + gap
    now = intervals.boundary(ANCHOR, "month", 1, hi + idle)
    lots = tuple(
        RolloverLot(
            id=f"old{i}",
            balance=D(size),
            usage=D(1),
            expires_at=None if at is None else intervals.boundary(ANCHOR, "month", 1, hi + at),
        )
        for i, (size, at) in enumerate(old)
    )
    lots = tuple(lot for lot in lots if lot.live_at(now))
    grant = make(anchor=ANCHOR, period=period, included=10, balance=balance, lots=lots)
    got = resets_lots.merged(
        grant,
        ANCHOR,
        rule,
        lo,
        hi,
        first=period,
        now=now,
        existing=lots,
        cap=D(cap),
        persist_overage=persist,
    )
    assert got == model(grant, rule, lo, hi, now=now, cap=D(cap), persist=persist)
