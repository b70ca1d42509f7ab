"""update(add_to_balance < 0) drains rollover lots first, never below zero (lifecycle §7.5),
then floors main rows at 0 in order; what is left lands on the first row.

Every test runs over every store, on a ManualClock moved to 2025-03-10 12:00 UTC so that
monthly boundaries fall on the 10th.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterlib import Ledger, ManualClock
from meterlib.results import Balance

D = Decimal
MAR, APR, MAY = (datetime(2025, m, 10, 12, tzinfo=UTC) for m in (3, 4, 5))


def state(b: Balance | None) -> tuple[list[Decimal], list[Decimal]]:
    """(lot balances, the main row's balance: its grant less its usage, below 0 if need be)."""
    assert b is not None
    return [r.balance for r in b.rollovers], [i.included_grant - i.usage for i in b.breakdown]


@pytest.fixture
def lot_of_30(ledger: Ledger, clock: ManualClock) -> Ledger:
    """A monthly grant of 100 whose 30 unused units rolled over into a lot."""
    clock.set(MAR)
    ledger.create("c1", "messages", included=100, reset="month", rollover={"length": 2})
    ledger.track("c1", "messages", value=70)
    clock.set(APR)
    assert state(ledger.balance("c1", "messages")) == ([D(30)], [D(100)])
    return ledger


def test_decrease_larger_than_the_lot(lot_of_30: Ledger) -> None:
    """-50 takes the lot's 30 and 20 from the main balance; the lot stops at 0."""
    b = lot_of_30.update("c1", "messages", add_to_balance=-50)
    assert state(b) == ([D(0)], [D(80)])
    assert b is not None
    assert b.remaining == D(80)


def test_decrease_smaller_than_the_lot(lot_of_30: Ledger) -> None:
    """-10 stays inside the lot; the main balance is untouched."""
    assert state(lot_of_30.update("c1", "messages", add_to_balance=-10)) == ([D(20)], [D(100)])


def test_decrease_over_two_lots(lot_of_30: Ledger, clock: ManualClock) -> None:
    """Two lots (30, then 100): -150 empties both, soonest first, and takes 20 from the row."""
    clock.set(MAY)
    assert state(lot_of_30.balance("c1", "messages")) == ([D(30), D(100)], [D(100)])
    b = lot_of_30.update("c1", "messages", add_to_balance=-150)
    assert state(b) == ([D(0), D(0)], [D(80)])


def test_decrease_beyond_everything(lot_of_30: Ledger) -> None:
    """-200: lot to 0, the main balance below 0 (update has no floor), never the lot."""
    assert state(lot_of_30.update("c1", "messages", add_to_balance=-200)) == ([D(0)], [D(-70)])


def test_decrease_by_one(lot_of_30: Ledger) -> None:
    """-1 (the smallest step) comes off the lot too."""
    assert state(lot_of_30.update("c1", "messages", add_to_balance=-1)) == ([D(29)], [D(100)])


def test_one_unit_carries_to_the_next_lot(lot_of_30: Ledger, clock: ManualClock) -> None:
    """Lots of 30 and 100: -31 empties the first and takes the last 1 from the second."""
    clock.set(MAY)
    b = lot_of_30.update("c1", "messages", add_to_balance=-31)
    assert state(b) == ([D(0), D(99)], [D(100)])


def rows(b: Balance | None) -> list[Decimal]:
    assert b is not None
    return [i.included_grant - i.usage for i in b.breakdown]


def test_decreases_across_main_rows(ledger: Ledger) -> None:
    """Rows A 10 and B 10 (no lots): -11 floors A at 0 and takes 1 from B; a further -1
    skips A (at 0) for B; -9 more leaves exactly 1 beyond everything, which lands on A."""
    ledger.create("c1", "messages", included=10, balance_id="A")
    ledger.create("c1", "messages", included=10, balance_id="B")
    assert rows(ledger.update("c1", "messages", add_to_balance=-11)) == [D(0), D(9)]
    assert rows(ledger.update("c1", "messages", add_to_balance=-1)) == [D(0), D(8)]
    assert rows(ledger.update("c1", "messages", add_to_balance=-9)) == [D(-1), D(0)]
