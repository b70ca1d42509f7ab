"""A persisting overage paid back over several resets: the lots those resets make hold what
was left of each refill, with and without old lots beside them (rules/resets, rules/rollovers)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib.models import RolloverRule
from meterlib.rules.resets import advance
from tests.rules.test_resets import balances, lot, make, ms, naive_advance

RULE = RolloverRule(max=Decimal(1000), length=12)


@pytest.mark.parametrize("old_lots", [(), (lot("old", 7, ms(2026, 1, 1)),)])
def test_lots_after_an_overage_is_paid_back(old_lots: tuple[object, ...]) -> None:
    # 150 over: the Feb 1 refill leaves -50, the Mar 1 one 50 (the first lot, made Apr 1),
    # the Apr 1 one 100 (the second lot, made May 1); the balance is then 100
    grant = make(included=100, balance=-150, rollover=RULE, lots=old_lots)
    now = ms(2025, 5, 15)
    got = advance(grant, now, persist_overage=True)
    assert got == naive_advance(grant, now, persist_overage=True)
    assert balances(got) == [*(7 for _ in old_lots), 50, 100]
    assert got.balance == 100
    # without the overage persisting every refill is whole
    plain = advance(grant, now)
    assert balances(plain) == [*(7 for _ in old_lots), 100, 100, 100]
