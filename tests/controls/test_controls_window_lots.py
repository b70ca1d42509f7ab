"""Usage windows over rollover lots: a metered feature's window limits its lots too (in
tracked units); a credit system's window limits only its own grants, never its lots, and
leaves grants of other features alone. Every test runs over every store, from 2025-03-10.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterlib import Ledger, ManualClock

D = Decimal
MAR, APR = datetime(2025, 3, 10, 12, tzinfo=UTC), datetime(2025, 4, 10, 13, tzinfo=UTC)


def limit(ledger: Ledger, feature_id: str, amount: int) -> None:
    usage_limits = [{"feature_id": feature_id, "limit": amount, "interval": "day"}]
    ledger.update_customer("c1", billing_controls={"usage_limits": usage_limits})


def lots(ledger: Ledger, feature_id: str) -> tuple[list[Decimal], Decimal]:
    """(lot balances, remaining of the main rows)."""
    b = ledger.balance("c1", feature_id)
    assert b is not None
    return [r.balance for r in b.rollovers], sum((i.remaining for i in b.breakdown), D(0))


def with_lot(ledger: Ledger, clock: ManualClock, feature_id: str) -> None:
    """A monthly grant of 100 whose unused 30 rolled over (then a lot of 30 beside 100)."""
    clock.set(MAR)
    ledger.create("c1", feature_id, included=100, reset="month", rollover={"length": 1})
    ledger.track("c1", feature_id, value=70)
    clock.set(APR)


@pytest.fixture
def pool(ledger: Ledger, clock: ManualClock) -> Ledger:
    """requests cost 2 credits; c1 holds 100 monthly credits and a lot of 30 credits."""
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    with_lot(ledger, clock, "credits")
    return ledger


def test_metered_window_limits_its_lots(ledger: Ledger, clock: ManualClock) -> None:
    """A window of 10 a day: a track of 25 takes 10, all from the lot."""
    with_lot(ledger, clock, "messages")
    limit(ledger, "messages", 10)
    ledger.track("c1", "messages", value=25)
    assert lots(ledger, "messages") == ([D(20)], D(100))


def test_member_window_counts_lot_units(pool: Ledger) -> None:
    """A window of 5 requests: a track of 8 takes 5 requests = 10 credits from the lot."""
    limit(pool, "requests", 5)
    pool.track("c1", "requests", value=8)
    assert lots(pool, "credits") == ([D(20)], D(100))


def test_credit_window_spares_the_lots(pool: Ledger) -> None:
    """A window of 10 credits: 12 requests take the lot's 30 credits freely, then 10 of the
    main balance; 6 credits' worth is dropped."""
    limit(pool, "credits", 10)
    pool.track("c1", "requests", value=20)
    assert lots(pool, "credits") == ([D(0)], D(90))


def test_credit_window_leaves_other_features(ledger: Ledger) -> None:
    """A window of 1 credit does not limit a member's own grant (no lot in the way here)."""
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create("c1", "credits", included=100)
    ledger.create("c1", "requests", included=5)
    limit(ledger, "credits", 1)
    ledger.track("c1", "requests", value=3)
    requests = ledger.balance("c1", "requests")
    assert requests is not None
    assert requests.remaining == D(2)
    ledger.track("c1", "requests", value=2)  # the own grant's last 2
    ledger.track("c1", "requests", value=1)  # the dry own grant gives 0, the window 1 credit
    requests, credits = ledger.balance("c1", "requests"), ledger.balance("c1", "credits")
    assert requests is not None and credits is not None
    assert (requests.remaining, credits.remaining) == (D(0), D(99))


def test_credit_window_counts_across_the_pool(ledger: Ledger) -> None:
    """A window of 10 credits over grants of 5 (monthly, drained first) and 100: 10 requests
    (20 credits) take 5 and 5, no more."""
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create("c1", "credits", included=5, reset="month", balance_id="monthly")
    ledger.create("c1", "credits", included=100, balance_id="lifetime")
    limit(ledger, "credits", 10)
    ledger.track("c1", "requests", value=10)
    b = ledger.balance("c1", "credits")
    assert b is not None
    assert {i.id: i.remaining for i in b.breakdown} == {"monthly": D(0), "lifetime": D(95)}


@pytest.mark.parametrize("feature_id", ["messages", "credits"])
def test_window_limits_overage(ledger: Ledger, feature_id: str) -> None:
    """A window of 10 over a grant of 5 that allows overage: a track of 20 uses 10 (5 of
    them overage), for a metered feature as for a credit system's own grant."""
    if feature_id == "credits":
        ledger.create_feature("requests")
        ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 1})
    ledger.create("c1", feature_id, included=5, overage_allowed=True)
    limit(ledger, feature_id, 10)
    ledger.track("c1", "requests" if feature_id == "credits" else feature_id, value=20)
    b = ledger.balance("c1", feature_id)
    assert b is not None
    assert b.usage == D(10)


@pytest.mark.parametrize("feature_id", ["messages", "credits"])
def test_window_shared_by_two_overage_rows(ledger: Ledger, feature_id: str) -> None:
    """A window of 10 over two empty grants that allow overage, the first down to -1 only:
    a track of 20 takes 1 from the first and the 9 left in the window from the second."""
    tracked = feature_id
    if feature_id == "credits":
        ledger.create_feature("requests")
        ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 1})
        tracked = "requests"
    ledger.create("c1", feature_id, included=0, overage_allowed=True, max_purchase=1)
    ledger.create("c1", feature_id, included=0, overage_allowed=True)
    limit(ledger, feature_id, 10)
    ledger.track("c1", tracked, value=20)
    b = ledger.balance("c1", feature_id)
    assert b is not None
    assert [i.usage for i in b.breakdown] == [D(1), D(9)]
