"""Usage windows at their edges: calendar ("utc") month and year windows start on the 1st and
on January 1st, and a released lock gives its room back, down to a lock of 1, in tracked units
or in credits. Every test runs over every store."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterlib import Ledger, ManualClock

D = Decimal
MS = 1


def limit(ledger: Ledger, feature_id: str, amount: int, interval: str = "day") -> None:
    entry = {"feature_id": feature_id, "limit": amount, "interval": interval, "anchor": "utc"}
    usage_limits = [entry]
    ledger.update_customer("c1", billing_controls={"usage_limits": usage_limits})


def applied(ledger: Ledger, feature_id: str, value: int) -> Decimal:
    before = ledger.balance("c1", feature_id)
    ledger.track("c1", feature_id, value=value)
    after = ledger.balance("c1", feature_id)
    assert before is not None and after is not None
    return after.usage - before.usage


@pytest.mark.parametrize(
    ("interval", "start", "next_start"),
    [
        ("month", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
        ("year", datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_calendar_window_starts(
    ledger: Ledger, clock: ManualClock, interval: str, start: datetime, next_start: datetime
) -> None:
    """The window used up on March 15 is still used up 1 ms before the next one starts, and
    empty from its first instant."""
    clock.set(datetime(2025, 3, 15, 12, tzinfo=UTC))
    ledger.create("c1", "messages", included=1000)
    limit(ledger, "messages", 10, interval)
    assert applied(ledger, "messages", 10) == 10
    (window,) = ledger.usage_limits("c1")
    assert (window.window_start, window.window_end) == (start, next_start)
    clock.set(next_start)
    clock.advance(milliseconds=-MS)
    assert applied(ledger, "messages", 5) == 0
    clock.advance(milliseconds=MS)
    assert applied(ledger, "messages", 5) == 5


@pytest.mark.parametrize("held", [1, 6])
def test_release_gives_room_back(ledger: Ledger, held: int) -> None:
    """A window of 10: a lock of `held` leaves 10 - held; once released, 10 apply again."""
    ledger.create("c1", "messages", included=1000)
    limit(ledger, "messages", 10)
    assert ledger.check("c1", "messages", required_balance=held, lock={"lock_id": "l1"}).allowed
    ledger.finalize("l1", action="release")
    assert applied(ledger, "messages", 10) == 10


def test_release_gives_credit_room_back(ledger: Ledger) -> None:
    """A window of 10 credits: a lock of 5 requests (10 credits) fills it; released, the 10
    credits are there again for 5 requests."""
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create("c1", "credits", included=100)
    limit(ledger, "credits", 10)
    assert ledger.check("c1", "requests", required_balance=5, lock={"lock_id": "l1"}).allowed
    assert not ledger.check("c1", "requests", required_balance=1).allowed
    ledger.finalize("l1", action="release")
    ledger.track("c1", "requests", value=5)
    credits = ledger.balance("c1", "credits")
    assert credits is not None
    assert credits.remaining == D(90)
