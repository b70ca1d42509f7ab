"""What a deduction records against a rollover lot: its own deduction row, and lock items
that give back to the lot (not to the main balance) when the lock is released or confirmed
for less. Every test runs over every store, from 2025-03-10 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterlib import Ledger, ManualClock

D = Decimal
MAR, APR = datetime(2025, 3, 10, 12, tzinfo=UTC), datetime(2025, 4, 10, 12, tzinfo=UTC)


def state(ledger: Ledger) -> tuple[list[Decimal], list[Decimal]]:
    """(lot balances, main remaining)."""
    b = ledger.balance("c1", "messages")
    assert b is not None
    return [r.balance for r in b.rollovers], [i.remaining for i in b.breakdown]


@pytest.fixture
def lot_of_30(ledger: Ledger, clock: ManualClock) -> Ledger:
    """A monthly grant "main" of 100 beside a lot of 30 it rolled over."""
    clock.set(MAR)
    rule = {"length": 2}
    ledger.create("c1", "messages", included=100, reset="month", rollover=rule, balance_id="main")
    ledger.track("c1", "messages", value=70)
    clock.set(APR)
    assert state(ledger) == ([D(30)], [D(100)])
    return ledger


def test_track_records_the_lot_apart(lot_of_30: Ledger) -> None:
    """A track of 40 records 30 against the lot (its own id) and 10 against "main"."""
    result = lot_of_30.track("c1", "messages", value=40)
    (lot, main) = result.deductions
    assert (main.balance_id, main.value) == ("main", D(10))
    assert lot.balance_id not in ("main", None)
    assert lot.value == D(30)
    event = lot_of_30.events("c1").events[0].to_dict()
    assert [d["value"] for d in event["deductions"]] == [30, 10]


def test_release_gives_back_to_the_lot(lot_of_30: Ledger) -> None:
    """A lock of 50 takes the lot's 30 and 20 of main; releasing it restores both."""
    assert lot_of_30.check("c1", "messages", required_balance=50, lock={"lock_id": "l1"}).allowed
    assert state(lot_of_30) == ([D(0)], [D(80)])
    lot_of_30.finalize("l1", action="release")
    assert state(lot_of_30) == ([D(30)], [D(100)])


def test_confirm_less_unwinds_part_of_the_lot(lot_of_30: Ledger) -> None:
    """Confirming 10 of the 50 gives back main's 20 first, then 20 of the lot's 30."""
    lot_of_30.check("c1", "messages", required_balance=50, lock={"lock_id": "l1"})
    lot_of_30.finalize("l1", override_value=10)
    assert state(lot_of_30) == ([D(20)], [D(100)])


def test_credit_lot_unwinds_in_credits(ledger: Ledger, clock: ManualClock) -> None:
    """Through a pool at 2 credits a unit, a lock of 20 units holds 30 lot credits and 10 of
    the main balance; confirming 5 units gives back 10 + 20 credits."""
    clock.set(MAR)
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create("c1", "credits", included=100, reset="month", rollover={"length": 2})
    ledger.track("c1", "credits", value=70)
    clock.set(APR)
    ledger.check("c1", "requests", required_balance=20, lock={"lock_id": "l1"})
    ledger.finalize("l1", override_value=5)
    b = ledger.balance("c1", "credits")
    assert b is not None
    assert ([r.balance for r in b.rollovers], b.remaining) == ([D(20)], D(120))


def test_track_one_comes_off_the_lot(lot_of_30: Ledger) -> None:
    """The smallest track, 1, is taken from the lot too."""
    lot_of_30.track("c1", "messages", value=1)
    assert state(lot_of_30) == ([D(29)], [D(100)])


def test_unlimited_pool_records_credits(ledger: Ledger) -> None:
    """An unlimited credit pool absorbs the track; its deduction is in credits (5 x 2)."""
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create("c1", "credits", unlimited=True, balance_id="pool")
    result = ledger.track("c1", "requests", value=5)
    assert [(d.balance_id, d.value) for d in result.deductions] == [("pool", D(10))]


def test_one_unit_carries_to_the_next_lot(lot_of_30: Ledger, clock: ManualClock) -> None:
    """Lots of 30 and 100: a track of 31 empties the first and takes the last 1 from the
    second, not from the main balance."""
    clock.set(datetime(2025, 5, 10, 12, tzinfo=UTC))
    assert state(lot_of_30) == ([D(30), D(100)], [D(100)])
    lot_of_30.track("c1", "messages", value=31)
    assert state(lot_of_30) == ([D(0), D(99)], [D(100)])


@pytest.mark.parametrize(("confirmed", "usage"), [(None, 8), (6, 6), (0, 0)])
def test_lock_into_overage(ledger: Ledger, confirmed: int | None, usage: int) -> None:
    """A lock of 8 on a grant of 5 that allows overage holds 5 + 3 overage; confirming 6
    gives back 2 of the overage first (a part of that item), a release all of it."""
    ledger.create("c1", "messages", included=5, overage_allowed=True)
    assert ledger.check("c1", "messages", required_balance=8, lock={"lock_id": "l1"}).allowed
    if confirmed == 0:
        ledger.finalize("l1", action="release")
    else:
        ledger.finalize("l1", override_value=confirmed)
    b = ledger.balance("c1", "messages")
    assert b is not None
    assert b.usage == D(usage)
