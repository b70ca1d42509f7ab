"""delete(recalculate_balances=True) when the deleted grants' usage is negative (their
balance was raised above the grant): nothing is left to carry it, and nothing fails.
Every test runs over every store."""

from __future__ import annotations

from decimal import Decimal

from meterlib import Ledger


def test_only_grant_above_its_grant(ledger: Ledger) -> None:
    """A grant of 10 raised to 15, deleted with recalculation: gone, no error."""
    ledger.create("c1", "messages", included=10)
    ledger.update("c1", "messages", add_to_balance=5)
    ledger.delete("c1", feature_id="messages", recalculate_balances=True)
    assert ledger.balance("c1", "messages") is None


def test_negative_usage_moves_to_the_survivor(ledger: Ledger) -> None:
    """Deleting a grant raised by 5 with recalculation gives its -5 usage to the one left."""
    ledger.create("c1", "messages", included=10, balance_id="A")
    ledger.create("c1", "messages", included=10, balance_id="B")
    ledger.update("c1", "messages", balance_id="A", add_to_balance=5)
    ledger.delete("c1", feature_id="messages", balance_id="A", recalculate_balances=True)
    b = ledger.balance("c1", "messages")
    assert b is not None
    assert [(i.id, i.included_grant - i.usage) for i in b.breakdown] == [("B", Decimal(15))]
