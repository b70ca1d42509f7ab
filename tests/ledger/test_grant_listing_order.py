"""ledger.grants lists a customer's live grants in deduction order, feature by feature:
an unlimited grant first; at customer level the customer's own grants, then entities' grants
by entity id (not by creation). Every test runs over every store."""

from __future__ import annotations

from meterlib import Ledger


def listed(ledger: Ledger, entity_id: str | None = None) -> list[str]:
    return [row.item.id for row in ledger.grants("c1", entity_id=entity_id)]


def test_unlimited_first(ledger: Ledger) -> None:
    """An unlimited grant created after a limited one is listed (and drained) first."""
    ledger.create("c1", "messages", included=10, balance_id="limited")
    ledger.create("c1", "messages", unlimited=True, balance_id="unlimited")
    assert listed(ledger) == ["unlimited", "limited"]


def test_entities_by_id(ledger: Ledger) -> None:
    """Customer level: its own grant, then e1's and e2's, whatever the creation order."""
    ledger.create_customer("c1")
    ledger.create_entity("c1", "e2")
    ledger.create_entity("c1", "e1")
    ledger.create("c1", "tokens", included=10, entity_id="e2", balance_id="of-e2")
    ledger.create("c1", "tokens", included=10, entity_id="e1", balance_id="of-e1")
    ledger.create("c1", "tokens", included=10, balance_id="own")
    assert listed(ledger) == ["own", "of-e1", "of-e2"]
    assert listed(ledger, "e2") == ["of-e2"]
