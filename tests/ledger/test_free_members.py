"""A credit-system member whose credit_cost is 0 is free on every path.

Autumn's rollover pass ends a deduction as free at a cost of 0 and its check requires
0 credits; its main passes read 0 as 1, so the charge would depend on whether the customer
holds a rollover lot. meterlib takes the first reading everywhere: track (with and without a
lot, either overage behaviour, refunds), check (plain, send_event, locks) and the bridge.
Every test runs over every store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterlib import Ledger, ManualClock
from meterlib.results import Balance

D = Decimal
MAR, APR = datetime(2025, 3, 10, 12, tzinfo=UTC), datetime(2025, 4, 10, 12, tzinfo=UTC)


def credits(ledger: Ledger) -> Balance:
    b = ledger.balance("c1", "credits")
    assert b is not None
    return b


def lots(ledger: Ledger) -> list[Decimal]:
    return [r.balance for r in credits(ledger).rollovers]


def catalogue(ledger: Ledger) -> None:
    """drafts cost 0 credits, images 2."""
    ledger.create_feature("drafts")
    ledger.create_feature("images")
    schema = {"drafts": 0, "images": 2}
    ledger.create_feature("credits", type="credit_system", credit_schema=schema)


@pytest.fixture
def pool(ledger: Ledger) -> Ledger:
    """c1 holds 100 credits and no rollover lot."""
    catalogue(ledger)
    ledger.create("c1", "credits", included=100)
    return ledger


@pytest.fixture
def with_lot(ledger: Ledger, clock: ManualClock) -> Ledger:
    """c1 holds 100 monthly credits plus a lot of 40 rolled over."""
    clock.set(MAR)
    catalogue(ledger)
    rule = {"max": 40, "length": 1, "duration": "month"}
    ledger.create("c1", "credits", included=100, reset="month", rollover=rule)
    ledger.track("c1", "credits", value=60)
    clock.set(APR)
    assert (credits(ledger).remaining, lots(ledger)) == (D(140), [D(40)])
    return ledger


class TestTrack:
    """Tracking a free member charges nothing and still records the event."""

    def test_without_a_lot(self, pool: Ledger) -> None:
        """100 credits stay 100 (reading 0 as 1 would leave 95)."""
        result = pool.track("c1", "drafts", value=5)
        assert credits(pool).remaining == D(100)
        assert credits(pool).usage == D(0)
        assert result.deductions == ()
        assert [(e.feature_id, e.value) for e in pool.events("c1").events] == [("drafts", D(5))]

    def test_with_a_lot(self, with_lot: Ledger) -> None:
        """140 credits (a lot of 40) stay 140, the lot untouched."""
        with_lot.track("c1", "drafts", value=5)
        assert (credits(with_lot).remaining, lots(with_lot)) == (D(140), [D(40)])

    def test_overflow(self, pool: Ledger) -> None:
        """Overflow has nothing to push negative either."""
        pool.track("c1", "drafts", value=500, overage_behavior="overflow")
        assert credits(pool).remaining == D(100)

    def test_after_the_pool_is_drained(self, pool: Ledger) -> None:
        """With 0 credits left a free member is still tracked, at no cost."""
        pool.track("c1", "images", value=50)
        pool.track("c1", "drafts", value=5, overage_behavior="overflow")
        assert credits(pool).remaining == D(0)

    def test_refund_gives_nothing_back(self, pool: Ledger) -> None:
        """A negative track of a free member adds no credits."""
        pool.track("c1", "images", value=10)
        pool.track("c1", "drafts", value=-5)
        assert credits(pool).remaining == D(80)

    def test_own_grant_first(self, pool: Ledger) -> None:
        """A member's own grant is still drawn on; what it cannot cover is free."""
        pool.create("c1", "drafts", included=3)
        pool.track("c1", "drafts", value=5)
        drafts = pool.balance("c1", "drafts")
        assert drafts is not None
        assert drafts.remaining == D(0)
        assert credits(pool).remaining == D(100)

    def test_lot_comes_before_the_own_grant(self, with_lot: Ledger) -> None:
        """Rollovers are drained before any main balance, so the pool's lot is reached first
        and ends the deduction as free: the member's own grant is not drawn on either."""
        with_lot.create("c1", "drafts", included=3)
        with_lot.track("c1", "drafts", value=5)
        drafts = with_lot.balance("c1", "drafts")
        assert drafts is not None
        assert drafts.remaining == D(3)
        assert (credits(with_lot).remaining, lots(with_lot)) == (D(140), [D(40)])

    def test_paid_member_still_pays(self, with_lot: Ledger) -> None:
        """Beside a free member a paid one drains the lot first, then the balance."""
        with_lot.track("c1", "drafts", value=5)
        with_lot.track("c1", "images", value=30)
        assert (credits(with_lot).remaining, lots(with_lot)) == (D(80), [D(0)])


class TestCheck:
    """A check requires 0 credits of a free member, and its deductions take nothing."""

    @pytest.mark.parametrize("drained", [False, True], ids=["credits-left", "drained"])
    def test_plain(self, pool: Ledger, drained: bool) -> None:
        """Allowed, with required_balance 0 credits, even when the pool is empty."""
        if drained:
            pool.track("c1", "images", value=50)
        result = pool.check("c1", "drafts", required_balance=5)
        assert result.allowed
        assert result.required_balance == D(0)

    def test_send_event(self, with_lot: Ledger) -> None:
        """send_event records the event and charges nothing, lot or not."""
        result = with_lot.check("c1", "drafts", required_balance=5, send_event=True)
        assert result.allowed
        assert (credits(with_lot).remaining, lots(with_lot)) == (D(140), [D(40)])
        assert [e.value for e in with_lot.events("c1", feature_id="drafts").events] == [D(5)]

    @pytest.mark.parametrize("action", ["confirm", "release"])
    def test_lock(self, pool: Ledger, action: str) -> None:
        """A lock holds nothing; confirming more than it held charges nothing either."""
        assert pool.check("c1", "drafts", required_balance=5, lock={"lock_id": "l1"}).allowed
        assert credits(pool).remaining == D(100)
        override = 8 if action == "confirm" else None
        pool.finalize("l1", action=action, override_value=override)
        assert credits(pool).remaining == D(100)

    def test_lock_with_a_lot(self, with_lot: Ledger) -> None:
        """Nor does a lock touch a lot."""
        assert with_lot.check("c1", "drafts", required_balance=5, lock={"lock_id": "l1"}).allowed
        with_lot.finalize("l1")
        assert (credits(with_lot).remaining, lots(with_lot)) == (D(140), [D(40)])
