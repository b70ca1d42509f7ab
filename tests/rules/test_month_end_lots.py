"""Hourly lots made on the last days of January all expire on February 28, each at its own
time of day: at one of those instants exactly, the lot expiring then is gone and every later
one is kept (the merged walk of rules/rollovers against the naive replay)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib.models import RolloverRule
from meterlib.rules.resets import advance
from tests.rules.test_resets import make, ms, naive_advance


@pytest.mark.parametrize("hour", [0, 10, 23])
def test_lots_from_month_end_days_expire_at_their_own_time(hour: int) -> None:
    rule = RolloverRule(max=None, length=1)
    grant = make(interval="hour", anchor=ms(2025, 1, 27), included=1, rollover=rule)
    now = ms(2025, 2, 28, hour)
    got = advance(grant, now)
    assert got == naive_advance(grant, now)
    assert min(lot.expires_at or 0 for lot in got.rollovers) == now + 3_600_000
    # made on Jan 28 to 31 after `hour`, all expiring on Feb 28
    assert sum(1 for lot in got.rollovers if (lot.expires_at or 0) < ms(2025, 3, 1)) == 4 * (
        23 - hour
    )


def test_a_lot_expiring_one_millisecond_after_now_is_kept() -> None:
    # resets stop at the grant's expiry (Jan 15 12:00): the newest day's lots are the only ones
    # left, and at 04:59:59.999 on Feb 15 the one made at 05:00 on Jan 15 still lives
    rule = RolloverRule(max=None, length=1)
    grant = make(
        interval="hour",
        anchor=ms(2025, 1, 1),
        included=1,
        rollover=rule,
        expires_at=ms(2025, 1, 15, 12),
    )
    now = ms(2025, 2, 15, 5) - 1
    got = advance(grant, now)
    assert got == naive_advance(grant, now)
    assert [lot.expires_at for lot in got.rollovers][:2] == [ms(2025, 2, 15, 5), ms(2025, 2, 15, 6)]


@pytest.mark.parametrize(("cap", "kept"), [(2, [1, 1]), (Decimal("2.5"), [Decimal("0.5"), 1, 1])])
def test_the_cap_keeps_a_last_part_of_a_lot(cap: Decimal, kept: list[Decimal]) -> None:
    grant = make(interval="day", included=1, rollover=RolloverRule(max=Decimal(cap), length=1))
    now = ms(2025, 1, 8)
    got = advance(grant, now)
    assert got == naive_advance(grant, now)
    assert [lot.balance for lot in got.rollovers] == kept


def test_the_cap_trims_lots_merged_across_month_ends_latest_expiry_first() -> None:
    # the 659 lots made since Feb 1 rank above those of Jan 28-31 (expiring on Feb 28); the
    # cap keeps 5 of the latter: the four made at 23:00 (newest first), then Jan 31 at 22:00
    rule = RolloverRule(max=Decimal(659 + 5), length=1)
    grant = make(interval="hour", anchor=ms(2025, 1, 27), included=1, rollover=rule)
    now = ms(2025, 2, 28, 10)
    got = advance(grant, now)
    assert got == naive_advance(grant, now)
    month_end = sorted(lot.id for lot in got.rollovers if (lot.expires_at or 0) < ms(2025, 3, 1))
    made = [ms(2025, 1, 31, 22), *(ms(2025, 1, day, 23) for day in (28, 29, 30, 31))]
    assert month_end == sorted(f"g/{b}" for b in made)
