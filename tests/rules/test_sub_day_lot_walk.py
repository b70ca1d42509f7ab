"""Lots of minute and hour grants, where rules/rollovers walks the newest day on its own and
merges the source days of a month end by time of day: each case against the naive replay, with
the lots it must make written out (edges the random scenarios seldom draw)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib.models import RolloverRule
from meterlib.rules.resets import advance
from meterlib.rules.rollovers import resets_to_clear
from tests.rules.test_resets import balances, make, ms, naive_advance

D = Decimal
HOUR = 3_600_000


@pytest.mark.parametrize("cap", [None, D(30)])
def test_month_end_days_merge_by_time_of_day(cap: Decimal | None) -> None:
    """Jan 28 to 31 all expire on Feb 28: the cap keeps the latest times of day of all four
    days (ties newest first), not Jan 31 first, and every boundary makes one lot."""
    rule = RolloverRule(max=cap, length=1)
    grant = make(interval="hour", anchor=ms(2025, 1, 27), included=1, rollover=rule)
    now = ms(2025, 1, 31, 23, 30)
    got = advance(grant, now)
    assert got == naive_advance(grant, now)
    ids = [lot.id for lot in got.rollovers]
    assert len(ids) == len(set(ids))
    if cap is None:
        assert len(ids) == 4 * 24 + 23  # Jan 27 01:00 to Jan 31 23:00
        return
    # 23:00 to 17:00 of four days (28 lots), then 16:00 of Jan 31 and Jan 30
    kept = sorted(lot.expires_at or 0 for lot in got.rollovers)
    assert kept[0] == kept[1] == ms(2025, 2, 28, 16)
    assert kept[2:] == sorted(ms(2025, 2, 28, h) for h in range(17, 24) for _ in range(4))
    made = {lot.id for lot in got.rollovers if lot.expires_at == ms(2025, 2, 28, 16)}
    assert made == {f"g/{ms(2025, 1, 31, 16)}", f"g/{ms(2025, 1, 30, 16)}"}


def test_hour_grant_paying_back_a_persisting_overage() -> None:
    """-9 with 10 a refill: the 01:00 reset leaves 1, so the 02:00 lot holds 1, not a refill."""
    rule = RolloverRule(max=D(1000), length=1)
    grant = make(interval="hour", anchor=ms(2025, 1, 10), included=10, balance=-9, rollover=rule)
    now = ms(2025, 1, 10, 4, 30)
    got = advance(grant, now, persist_overage=True)
    assert got == naive_advance(grant, now, persist_overage=True)
    assert balances(got) == [1, 10, 10]
    assert [lot.expires_at for lot in got.rollovers] == [ms(2025, 2, 10, h) for h in (2, 3, 4)]


def test_hour_grant_lots_that_never_expire() -> None:
    """A "forever" rule gives an hour grant's lots no expiry (no month walk applies)."""
    rule = RolloverRule(max=D(3), duration="forever")
    grant = make(interval="hour", anchor=ms(2025, 1, 10), included=2, rollover=rule)
    now = ms(2025, 1, 10, 5, 30)
    got = advance(grant, now)
    assert got == naive_advance(grant, now)
    assert [(lot.balance, lot.expires_at) for lot in got.rollovers] == [(D(1), None), (D(2), None)]


@pytest.mark.parametrize(
    ("balance", "included", "refills"),
    [("-2", "1", 2), ("-1.5", "0.5", 3), ("-1", "0.75", 2), ("-25", "10", 3), ("-1", "0", None)],
)
def test_refills_to_clear_an_overage(balance: str, included: str, refills: int | None) -> None:
    """ceil(-balance / included) refills; a grant that refills nothing never clears it."""
    assert resets_to_clear(D(balance), D(included)) == refills


def test_small_refills_pay_back_an_overage() -> None:
    """1 a month against -2: Feb 1 leaves -1, Mar 1 0, Apr 1 1, so the May 1 reset makes a lot."""
    rule = RolloverRule(max=D(100), length=3)
    grant = make(included=1, balance=-2, rollover=rule)
    now = ms(2025, 5, 15)
    got = advance(grant, now, persist_overage=True)
    assert got == naive_advance(grant, now, persist_overage=True)
    assert balances(got) == [1]
    assert got.balance == 1


def test_a_fraction_left_on_a_grant_that_refills_nothing() -> None:
    """0.5 left of 0 included: with the overage persisting the reset still sets the balance to
    0 (only an overage persists), and the 0.5 becomes a lot."""
    grant = make(included=0, balance="0.5", rollover=RolloverRule(max=D(10), length=3))
    now = ms(2025, 2, 15)
    got = advance(grant, now, persist_overage=True)
    assert got == naive_advance(grant, now, persist_overage=True)
    assert got.balance == 0
    assert balances(got) == [D("0.5")]
