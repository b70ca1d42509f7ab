"""Expiry in the deduction order: grants and rollover lots expiring sooner drain first.

Every test runs over every store. Grants are created in the opposite order to the one
expected, so the creation-order tie-break cannot pass a test in place of the expiry rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterlib import Ledger, ManualClock
from meterlib.results import Balance

D = Decimal
START = datetime(2025, 1, 31, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def remaining(ledger: Ledger) -> dict[str, Decimal]:
    b = ledger.balance("c1", "messages")
    assert b is not None
    return {i.id: i.remaining for i in b.breakdown}


def lots(b: Balance | None) -> list[tuple[Decimal, datetime | None]]:
    assert b is not None
    return [(r.balance, r.expires_at) for r in b.rollovers]


class TestGrants:
    """Rule 7 and 8 of the order: expiring before never-expiring, then sooner first."""

    def test_sooner_first_whatever_the_creation_order(self, ledger: Ledger) -> None:
        """Created late, expiring in 3 days: drained before one created first expiring in 20."""
        ledger.create("c1", "messages", included=10, expires_at=START + 20 * DAY, balance_id="late")
        ledger.create("c1", "messages", included=10, expires_at=START + 3 * DAY, balance_id="soon")
        ledger.track("c1", "messages", value=4)
        assert remaining(ledger) == {"soon": D(6), "late": D(10)}

    def test_expiring_before_never_expiring(self, ledger: Ledger) -> None:
        """A grant that never expires, created first, drains after one that expires."""
        ledger.create("c1", "messages", included=10, balance_id="never")
        ledger.create("c1", "messages", included=10, expires_at=START + 300 * DAY, balance_id="e")
        ledger.track("c1", "messages", value=12)
        assert remaining(ledger) == {"e": D(0), "never": D(8)}

    def test_one_millisecond_apart(self, ledger: Ledger) -> None:
        """Expiry instants are compared to the millisecond."""
        end = START + 5 * DAY
        ledger.create("c1", "messages", included=10, expires_at=end, balance_id="later")
        ledger.create("c1", "messages", included=10, expires_at=end - timedelta(milliseconds=1))
        ledger.track("c1", "messages", value=10)
        assert remaining(ledger)["later"] == D(10)

    def test_same_instant_goes_by_creation(self, ledger: Ledger) -> None:
        """Grants expiring at the same instant drain oldest first."""
        end = START + 5 * DAY
        ledger.create("c1", "messages", included=10, expires_at=end, balance_id="first")
        ledger.create("c1", "messages", included=10, expires_at=end, balance_id="second")
        ledger.track("c1", "messages", value=3)
        assert remaining(ledger) == {"first": D(7), "second": D(10)}

    def test_resetting_before_expiring(self, ledger: Ledger) -> None:
        """Expiry is weighed after the reset rules: a monthly grant drains before a one-off
        grant expiring tomorrow."""
        ledger.create("c1", "messages", included=10, expires_at=START + DAY, balance_id="promo")
        ledger.create("c1", "messages", included=10, reset="month", balance_id="monthly")
        ledger.track("c1", "messages", value=4)
        assert remaining(ledger) == {"monthly": D(6), "promo": D(10)}

    def test_among_resetting_grants(self, ledger: Ledger) -> None:
        """Two monthly grants: the one with an expiry drains first."""
        ledger.create("c1", "messages", included=10, reset="month", balance_id="open")
        ledger.create(
            "c1", "messages", included=10, reset="month", expires_at=START + 90 * DAY,
            balance_id="ending",
        )  # fmt: skip
        ledger.track("c1", "messages", value=4)
        assert remaining(ledger) == {"ending": D(6), "open": D(10)}


class TestLots:
    """Lots drain soonest-expiring first; never-expiring lots last."""

    @pytest.fixture
    def mid(self, ledger: Ledger, clock: ManualClock) -> Ledger:
        clock.set(datetime(2025, 3, 10, 12, tzinfo=UTC))
        return ledger

    def test_expiring_lot_before_a_forever_lot(self, mid: Ledger, clock: ManualClock) -> None:
        """A forever lot of a grant made first drains after another grant's expiring lot."""
        forever = {"duration": "forever"}
        mid.create("c1", "messages", included=100, reset="month", rollover=forever, balance_id="f")
        mid.create("c1", "messages", included=50, reset="month", rollover={"length": 1})
        clock.set(datetime(2025, 4, 10, 13, tzinfo=UTC))
        b = mid.track("c1", "messages", value=60).balance
        assert sorted(lots(b), key=lambda lot: lot[1] is None) == [
            (D(0), datetime(2025, 5, 10, 12, tzinfo=UTC)),
            (D(90), None),
        ]
