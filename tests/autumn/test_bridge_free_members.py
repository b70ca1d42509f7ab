"""Through the bridge, a credit-system member costing 0 credits is free, as in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meterlib.autumn.sdk import AutumnFake

Call = Callable[..., Any]


def test_free_credit_member(fake: AutumnFake, call: Call) -> None:
    """check requires 0 credits; track and a lock charge nothing."""
    fake.ledger.create_feature("drafts")
    fake.ledger.create_feature("tokens", type="credit_system", credit_schema={"drafts": 0})
    fake.ledger.create("c1", "tokens", included=10)
    checked = call("check", customer_id="c1", feature_id="drafts", required_balance=4)
    assert (checked.allowed, checked.required_balance) == (True, 0)
    tracked = call("track", customer_id="c1", feature_id="drafts", value=4)
    assert (tracked.value, tracked.deductions) == (4, [])
    lock = {"lock_id": "L1", "enabled": True}
    held = call("check", customer_id="c1", feature_id="drafts", required_balance=3, lock=lock)
    assert held.allowed is True
    assert fake.ledger.balance("c1", "tokens").remaining == 10
