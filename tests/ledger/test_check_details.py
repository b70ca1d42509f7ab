"""What a check shows besides `allowed`: the balance of the pool it judged or drew on, at the
subject's level; `balances` for a credit-system member only; the "feature_flag" preview.
Every test runs over every store."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib import Ledger

D = Decimal


@pytest.fixture
def family(ledger: Ledger) -> Ledger:
    """messages: 100 for c1 itself, 10 for each of its entities e1 and e2."""
    ledger.create_customer("c1")
    for entity in ("e1", "e2"):
        ledger.create_entity("c1", entity)
        ledger.create("c1", "messages", included=10, entity_id=entity)
    ledger.create("c1", "messages", included=100)
    return ledger


def test_customer_level_counts_entities(family: Ledger) -> None:
    """A plain check at customer level shows 120: its own 100 and both entities' 10."""
    result = family.check("c1", "messages")
    assert result.balance is not None
    assert result.balance.remaining == D(120)


def test_send_event_shows_the_entity_level(family: Ledger) -> None:
    """A check that deducts 3 for e1 shows e1's view after it: 100 + 10 - 3 (not 117)."""
    result = family.check("c1", "messages", entity_id="e1", required_balance=3, send_event=True)
    assert result.balance is not None
    assert result.balance.remaining == D(107)
    assert result.balances is None  # messages belongs to no credit system


@pytest.fixture
def member(ledger: Ledger) -> Ledger:
    """requests cost 2 credits; c1 holds 50 credits and no requests of its own."""
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create("c1", "credits", included=50)
    return ledger


def test_member_shows_the_pool_and_every_balance(member: Ledger) -> None:
    """A deducting check of a member shows the credit pool it drew on, and both balances."""
    result = member.check("c1", "requests", required_balance=2, send_event=True)
    assert result.balance is not None
    assert (result.balance.feature_id, result.balance.remaining) == ("credits", D(46))
    assert result.balances is not None
    assert {k: v and v.remaining for k, v in result.balances.items()} == {
        "requests": None,
        "credits": D(46),
    }


@pytest.mark.parametrize(("required", "left"), [(2, 3), (0, 5)], ids=["deducted", "nothing"])
def test_member_shows_its_own_balance(ledger: Ledger, required: int, left: int) -> None:
    """No credits held: a member drawing on its own grant shows its own balance; so does a
    deducting check of 0 (nothing moved, and credits, the second pool, has no balance)."""
    ledger.create_feature("requests")
    ledger.create_feature("credits", type="credit_system", credit_schema={"requests": 2})
    ledger.create("c1", "requests", included=5)
    result = ledger.check("c1", "requests", required_balance=required, send_event=True)
    assert result.balance is not None
    assert (result.balance.feature_id, result.balance.remaining) == ("requests", D(left))


def test_feature_flag_preview(ledger: Ledger) -> None:
    """Denied for want of any grant: Autumn's feature_flag preview, naming the feature."""
    ledger.create_feature("images", name="Images")
    ledger.create_customer("c1")
    preview = ledger.check("c1", "images", with_preview=True).preview
    assert preview is not None
    assert (preview.scenario, preview.title) == ("feature_flag", "Feature Unavailable")
    assert (preview.feature_id, preview.feature_name) == ("images", "Images")
    assert preview.message == "Your current plan does not include Images."


def test_entity_unlimited_member_is_shown(member: Ledger) -> None:
    """e1 holds unlimited requests, c1 50 credits: a deducting check of 0 for e1 shows the
    unlimited requests balance of e1, not the credits."""
    member.create_entity("c1", "e1")
    member.create("c1", "requests", unlimited=True, entity_id="e1")
    result = member.check("c1", "requests", entity_id="e1", required_balance=0, send_event=True)
    assert result.balance is not None
    assert (result.balance.feature_id, result.balance.unlimited) == ("requests", True)
